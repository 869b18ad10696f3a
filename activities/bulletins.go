package activities

import (
	"context"
	"time"

	"github.com/duban/duban"
)

// BulletinStore counts a period's scorecards and keeps its bulletin.
type BulletinStore interface {
	UnitCounts(ctx context.Context, q duban.ReportQuery) ([]duban.UnitRow, error)
	PublishBulletin(ctx context.Context, b duban.Bulletin) (bool, error)
}

// Bulletins are the bulletin workflow's activities.
type Bulletins struct {
	Policy *duban.Policy
	Store  BulletinStore
}

// PeriodOf returns the assessment period t falls in, by the policy the
// worker runs with: a new policy's periods apply from the next bulletin.
func (b *Bulletins) PeriodOf(_ context.Context, t time.Time) (duban.Period, error) {
	return b.Policy.AssessmentPeriodOf(t), nil
}

// PublishBulletin publishes the ranked rows of period as they stand at
// its end. It is idempotent: a period's bulletin is kept once, and a
// repeat publishes nothing.
func (b *Bulletins) PublishBulletin(ctx context.Context, period duban.Period) error {
	counted, err := b.Store.UnitCounts(ctx, duban.ReportQuery{Period: period, Now: period.To})
	if err != nil {
		return err
	}
	_, err = b.Store.PublishBulletin(ctx, duban.Bulletin{Period: period, Rows: b.Policy.Scorecard(counted, "")})
	return err
}
