package app

import (
	"context"

	"github.com/duban/duban"
)

// FailedDelivery is a delivery kept as failed after its last retry.
type FailedDelivery struct {
	EventID   string `json:"event_id"`
	CaseID    string `json:"case_id"`
	Position  int64  `json:"position"`
	Type      string `json:"type"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
}

// Outbox is what app reads and replays of the subscriptions' deliveries.
type Outbox interface {
	FailedDeliveries(ctx context.Context, sub string, limit int) ([]FailedDelivery, error)
	Replay(ctx context.Context, sub string) (int, error)
}

// FailedDeliveries lists the deliveries of subscription name kept as
// failed, the oldest first (up to 1,000), if by may manage subscriptions.
func (s *Service) FailedDeliveries(ctx context.Context, by duban.Principal, name string) ([]FailedDelivery, error) {
	if err := s.subscription(by, name); err != nil {
		return nil, err
	}
	return s.Outbox.FailedDeliveries(ctx, name, 1000)
}

// Replay offers subscription name's failed deliveries again, and enables
// it if its receiver had answered 410 Gone; it returns how many it put back.
func (s *Service) Replay(ctx context.Context, by duban.Principal, name string) (int, error) {
	if err := s.subscription(by, name); err != nil {
		return 0, err
	}
	return s.Outbox.Replay(ctx, name)
}

func (s *Service) subscription(by duban.Principal, name string) error {
	if err := by.MayManageSubscriptions(); err != nil {
		return err
	}
	if _, ok := s.Policy.Subscription(name); !ok || s.Outbox == nil {
		return duban.Errorf(duban.ENOTFOUND, "no subscription %q in the policy", name)
	}
	return nil
}
