package activities

import (
	"context"
	"time"

	"github.com/duban/duban"
)

// BulletinStore counts a period's scorecards and its sites' scores, and
// keeps its bulletin, beside those published before.
type BulletinStore interface {
	UnitCounts(ctx context.Context, q duban.ReportQuery) ([]duban.UnitRow, error)
	SiteScores(ctx context.Context, q duban.SiteReportQuery) ([]duban.SiteScore, error)
	Bulletins(ctx context.Context) ([]duban.Bulletin, error)
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
// its end, with its red and black lists and the sanctions they bring
// (duban.Policy.Honour), in one transaction. It is idempotent: a period's
// bulletin is kept once, and a repeat publishes nothing.
func (b *Bulletins) PublishBulletin(ctx context.Context, period duban.Period) error {
	counted, err := b.Store.UnitCounts(ctx, duban.ReportQuery{Period: period, Now: period.To})
	if err != nil {
		return err
	}
	var sites []duban.SiteScore
	if len(b.Policy.SiteTypes) > 0 {
		if sites, err = b.Store.SiteScores(ctx, duban.SiteReportQuery{Period: period}); err != nil {
			return err
		}
	}
	earlier, err := b.Store.Bulletins(ctx)
	if err != nil {
		return err
	}
	bulletin := duban.Bulletin{Period: period, Rows: b.Policy.Scorecard(counted, "")}
	b.Policy.Honour(&bulletin, sites, earlier)
	_, err = b.Store.PublishBulletin(ctx, bulletin)
	return err
}
