package outbox

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

const (
	// inFlight is how many of a webhook subscription's cases are sent at
	// once, each by its own sender.
	inFlight = 20
	// sendFor is how long after its claim a case's sender may start an
	// attempt: the last one ends (attemptTimeout) and is recorded well
	// within the lease, so that no other sender, another replica's
	// included, takes the case while this one still sends it.
	sendFor = lease - 2*attemptTimeout
	// recordFor bounds the recording of what the senders did once the
	// deliverer is stopped.
	recordFor = 5 * time.Second
)

// caseSent is what a case's sender hands back: the deliveries the
// receiver took, and those it did not try (behind one not taken, past
// sendFor, or cut short by a stop). Both are still leased, so nothing else
// sends them before the dispatcher records them, together with the other
// cases', in one Delivered and one Release statement.
type caseSent struct {
	taken, untried []int64
	err            error
}

// followCases sends a webhook subscription's deliveries until ctx ends:
// the pending ones of up to inFlight cases at once, each case's one after
// the other. Cases do not wait on each other: whenever a case's sender is
// done, or the poll interval passes, the dispatcher records what the
// finished senders did, reads the log into deliveries, and claims as many
// cases as there are senders free. Stopped, it lets the senders finish
// (their attempts cut short) and records what they did.
func (d *Deliverer) followCases(ctx context.Context, client *http.Client, t Target, logger *slog.Logger) {
	done := make(chan caseSent, inFlight) // never full: at most inFlight senders
	busy, failing := 0, false
	var taken, untried []int64
	var errs []error
	finished := func(s caseSent) {
		busy--
		taken, untried, errs = append(taken, s.taken...), append(untried, s.untried...), append(errs, s.err)
	}
	for {
		for more := true; more; { // every sender done by now
			select {
			case s := <-done:
				finished(s)
			default:
				more = false
			}
		}
		if ctx.Err() != nil {
			break
		}
		var err error
		taken, err = d.record(ctx, taken, untried)
		errs, untried = append(errs, err), nil
		started, err := d.dispatch(ctx, client, t, inFlight-busy, done)
		busy += started
		failing = d.storeFailing(ctx, logger, failing, errors.Join(append(errs, err)...))
		errs = nil
		select {
		case <-ctx.Done():
		case s := <-done:
			finished(s)
		case <-time.After(d.Poll):
		}
	}
	for busy > 0 {
		finished(<-done)
	}
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordFor)
	defer cancel()
	if _, err := d.record(recordCtx, taken, untried); err != nil {
		logger.Warn("outbox: cannot record deliveries when stopping: they are sent again", "error", err)
	}
}

// dispatch records the deliveries the log has for t and starts a sender
// for each of up to free cases due, which hands what it did to done; it
// returns how many it started.
func (d *Deliverer) dispatch(ctx context.Context, client *http.Client, t Target, free int, done chan<- caseSent) (int, error) {
	if disabled, err := d.enqueue(ctx, t); err != nil || disabled || free == 0 {
		return 0, err
	}
	claimed := d.now()
	due, err := d.Store.Claim(ctx, t.Name, claimed, lease, free, true)
	if err != nil {
		return 0, err
	}
	cases := byCase(due)
	for _, ds := range cases {
		go func() { done <- d.sendCase(ctx, client, t, ds, claimed) }()
	}
	return len(cases), nil
}

// byCase splits deliveries by case, keeping their order within each.
func byCase(ds []Delivery) [][]Delivery {
	var cases [][]Delivery
	index := map[string]int{}
	for _, dl := range ds {
		i, ok := index[dl.Event.CaseID]
		if !ok {
			i = len(cases)
			index[dl.Event.CaseID] = i
			cases = append(cases, nil)
		}
		cases[i] = append(cases[i], dl)
	}
	return cases
}

// sendCase sends a case's deliveries, claimed at claimed, one after the
// other, stopping at the first not taken: the rest wait behind its retry.
// It starts no attempt past claimed+sendFor, nor once ctx ends, and an
// attempt a stop cuts short does not count: what it did not try, it hands
// back to be released.
func (d *Deliverer) sendCase(ctx context.Context, client *http.Client, t Target, ds []Delivery, claimed time.Time) caseSent {
	var s caseSent
	for i, dl := range ds {
		if ctx.Err() != nil || d.now().After(claimed.Add(sendFor)) {
			s.untried = seqs(ds[i:])
			return s
		}
		status, wait, err := send(ctx, client, t, dl.Event, d.now())
		if !took(status, err) && ctx.Err() != nil {
			s.untried = seqs(ds[i:])
			return s
		}
		ok, err := d.settle(ctx, t, dl, status, wait, err)
		if !ok {
			s.untried, s.err = seqs(ds[i+1:]), err
			return s
		}
		s.taken = append(s.taken, dl.Seq)
	}
	return s
}

// record marks the deliveries taken, in one statement, and releases those
// untried, in another: due at once, or, behind one not taken, when it is
// next tried or given up. The taken it could not mark it returns, to be
// marked on a later pass: always true, and what spares the receiver a
// repeat when the store was down a moment (PostgreSQL restarting). Those
// untried it does not keep: their lease ends, and they are due then, as
// they would be after a crash (a late release could end another sender's
// lease on them).
func (d *Deliverer) record(ctx context.Context, taken, untried []int64) (unmarked []int64, err error) {
	var errs []error
	if len(taken) > 0 {
		if err := d.Store.Delivered(ctx, taken, d.now()); err != nil {
			unmarked, errs = taken, append(errs, err)
		}
	}
	if len(untried) > 0 {
		errs = append(errs, d.Store.Release(ctx, untried, d.now()))
	}
	return unmarked, errors.Join(errs...)
}

// seqs returns the seqs of ds.
func seqs(ds []Delivery) []int64 {
	out := make([]int64, len(ds))
	for i, dl := range ds {
		out[i] = dl.Seq
	}
	return out
}
