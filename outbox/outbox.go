// Package outbox delivers the event log to the policy's subscriptions:
// machines take a webhook each, signed as Standard Webhooks define; people
// (work chat groups' robots in WeCom or DingTalk, mailboxes through an SMTP
// server) a message in Chinese, held outside working hours when the
// subscription says so and sent as one digest when they begin. It runs in
// the worker.
//
// What each subscription is offered is recorded from the log itself, in
// the log's order, by moving the subscription's cursor in the same
// transaction as the deliveries it records: nothing is skipped, whatever
// dies when. A delivery is sent at least once, with the event's id as its
// stable webhook-id (a receiver recognises a repeat by it); a case's
// deliveries go one at a time, in order, while a webhook's cases do not
// wait on each other: a receiver slow on one case's delivery holds back
// that case only. A failed attempt is logged as a warning and tried again
// after duban.DeliveryRetries, and after the last is kept as failed until
// replayed. A receiver that answers 410 Gone disables its subscription.
package outbox

import (
	"context"
	"time"

	"github.com/duban/duban"
)

// Delivery is an event to send to a subscription, and which attempt this is
// (1 for the first).
type Delivery struct {
	Seq     int64
	Attempt int
	Event   duban.Event
}

// Store keeps the subscriptions' cursors and deliveries.
type Store interface {
	// Enqueue reads up to limit events of the log past the subscription's
	// cursor (which starts at the log's end, the first time), records a
	// delivery for each one sub wants and moves the cursor past them all,
	// in one transaction. It returns how many events it read.
	Enqueue(ctx context.Context, sub duban.Subscription, limit int) (int, error)
	// Claim returns deliveries of sub due at now, oldest first, and leases
	// them until now+lease: not offered again before then. Without
	// inOrder, up to limit of them; with inOrder, the pending deliveries of
	// up to limit cases whose first pending delivery is due, all of them,
	// to be sent in order.
	Claim(ctx context.Context, sub string, now time.Time, lease time.Duration, limit int, inOrder bool) ([]Delivery, error)
	// Delivered marks deliveries taken; Retry records a failed attempt
	// and sets the next; GiveUp records the last and keeps the delivery
	// as failed, for replay.
	Delivered(ctx context.Context, seqs []int64, at time.Time) error
	Retry(ctx context.Context, seq int64, attempt int, next time.Time, reason string) error
	GiveUp(ctx context.Context, seq int64, attempt int, reason string) error
	// Release ends the lease of deliveries not attempted: due at at.
	Release(ctx context.Context, seqs []int64, at time.Time) error
	// Disable stops a subscription until a replay; Disabled says whether it is.
	Disable(ctx context.Context, sub, reason string) error
	Disabled(ctx context.Context, sub string) (bool, error)
	// Events returns a case's events, in version order: a chat message
	// says what the case was once its event happened, and counts its
	// urges.
	Events(ctx context.Context, caseID string) ([]duban.Event, error)
}
