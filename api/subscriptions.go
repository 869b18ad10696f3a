package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// SubscriptionKeeper reads and replays the subscriptions' failed deliveries.
type SubscriptionKeeper interface {
	FailedDeliveries(ctx context.Context, by duban.Principal, name string) ([]app.FailedDelivery, error)
	Replay(ctx context.Context, by duban.Principal, name string) (int, error)
}

// failedDeliveries serves GET /v1/subscriptions/{name}/failed: the
// deliveries kept as failed after their last retry, the oldest first.
func (s *Server) failedDeliveries(w http.ResponseWriter, r *http.Request) {
	if s.Subscriptions == nil {
		fail(w, r, duban.Errorf(duban.ENOTFOUND, "this process keeps no subscriptions"))
		return
	}
	failed, err := s.Subscriptions.FailedDeliveries(r.Context(), principal(r), chi.URLParam(r, "name"))
	if err != nil {
		fail(w, r, err)
		return
	}
	if failed == nil {
		failed = []app.FailedDelivery{}
	}
	reply(w, http.StatusOK, items[app.FailedDelivery]{Items: failed})
}

// replay serves POST /v1/subscriptions/{name}/replay: the failed deliveries
// are offered again, and a subscription a 410 Gone disabled is enabled.
func (s *Server) replay(w http.ResponseWriter, r *http.Request) {
	if s.Subscriptions == nil {
		fail(w, r, duban.Errorf(duban.ENOTFOUND, "this process keeps no subscriptions"))
		return
	}
	n, err := s.Subscriptions.Replay(r.Context(), principal(r), chi.URLParam(r, "name"))
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, map[string]int{"replayed": n})
}
