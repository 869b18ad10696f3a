package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/duban/duban"
)

// RoundStore keeps the rounds and the steps of their ladders.
type RoundStore interface {
	Round(ctx context.Context, id string) (duban.Round, error)
	RecordRoundStep(ctx context.Context, step duban.RoundStep) (bool, error)
}

// RoundPlanner plans rounds as the API does (app.Service).
type RoundPlanner interface {
	PlanRound(ctx context.Context, cmd duban.PlanRound, key string) (duban.Round, bool, error)
}

// Rounds are the round workflow's activities.
type Rounds struct {
	Policy  *duban.Policy
	Store   RoundStore
	Planner RoundPlanner
	// Now is the clock a step is decided at; nil: time.Now.
	Now func() time.Time
}

// PlanScheduledRound plans the round the policy schedules as name, due
// its due time after now. key names the scheduled start, so that a
// retried activity answers the round it planned.
func (r *Rounds) PlanScheduledRound(ctx context.Context, name, key string) (string, error) {
	sched, ok := r.Policy.RoundSchedule(name)
	if !ok {
		return "", duban.Errorf(duban.ENOTFOUND, "the policy schedules no round %q", name)
	}
	round, _, err := r.Planner.PlanRound(ctx, sched.Plan(r.now()), key)
	return round.ID, final(err)
}

// final makes a refusal final: a round the rules refuse (no site to
// draw, a schedule gone) is refused again on every retry.
func final(err error) error {
	var e *duban.Error
	if errors.As(err, &e) && e.Code != duban.EUNAVAILABLE && e.Code != duban.EINTERNAL {
		return temporal.NewNonRetryableApplicationError(e.Message, e.Code, err)
	}
	return err
}

// RoundLadder returns where the steps of round id's ladder fall.
func (r *Rounds) RoundLadder(ctx context.Context, id string) ([]duban.StepAt, error) {
	round, err := r.Store.Round(ctx, id)
	if err != nil {
		return nil, final(err)
	}
	return round.Due(), nil
}

// RecordRoundStep records the step of level of round id's ladder if it is
// due and sites are left, and answers whether the round is done (nothing
// left to warn of). It is idempotent: a level is recorded once.
func (r *Rounds) RecordRoundStep(ctx context.Context, id string, level int) (done bool, err error) {
	round, err := r.Store.Round(ctx, id)
	if err != nil {
		return false, final(err)
	}
	// The workflow's timer woke it at the step's time, by the Temporal
	// server's clock: a worker's clock a little behind does not make the
	// step not due.
	now := r.now()
	for _, st := range round.Due() {
		if st.Level == level && now.Before(st.At) {
			now = st.At
		}
	}
	if step, ok := round.Step(level, now); ok {
		if _, err := r.Store.RecordRoundStep(ctx, step); err != nil {
			return false, err
		}
	}
	return round.Status == duban.RoundStatusDone, nil
}

func (r *Rounds) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
