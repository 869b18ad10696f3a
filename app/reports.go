package app

import (
	"context"
	"time"

	"github.com/duban/duban"
)

// ReportRequest is what a door asks of a report: a period of dates in the
// policy's time zone, from before to, and the unit, category and area of
// the cases it counts ("" for all).
type ReportRequest struct {
	From, To string
	Unit     string
	Category string
	Area     string
}

// query checks r against the policy: the period, the unit.
func (s *Service) query(r ReportRequest) (duban.ReportQuery, error) {
	period, err := s.Policy.ReportPeriod(r.From, r.To)
	if err != nil {
		return duban.ReportQuery{}, err
	}
	if err := s.Policy.CheckUnit("unit", r.Unit); err != nil {
		return duban.ReportQuery{}, err
	}
	return duban.ReportQuery{Period: period, Unit: r.Unit, Category: r.Category, Area: r.Area, Now: s.now()}, nil
}

// UnitScorecards returns the units' rows for r, ranked by score: every
// unit of the policy's, and any other that has counts. A unit reads its
// own row only (duban.Principal.ScopeScorecard).
func (s *Service) UnitScorecards(ctx context.Context, by duban.Principal, r ReportRequest) (duban.Period, []duban.UnitRow, error) {
	var err error
	if r.Unit, err = by.ScopeScorecard(r.Unit); err != nil {
		return duban.Period{}, nil, err
	}
	q, err := s.query(r)
	if err != nil {
		return duban.Period{}, nil, err
	}
	rows, err := s.unitRows(ctx, q)
	return q.Period, rows, err
}

// unitRows counts and completes the rows of q.
func (s *Service) unitRows(ctx context.Context, q duban.ReportQuery) ([]duban.UnitRow, error) {
	counted, err := s.Store.UnitCounts(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.Policy.Scorecard(counted, q.Unit), nil
}

// FigureCases returns the ids of the cases behind a figure of unit's row
// for r. A unit lists its own only.
func (s *Service) FigureCases(ctx context.Context, by duban.Principal, unit, figure string, r ReportRequest) ([]string, error) {
	if err := by.MayReadScorecard(unit); err != nil {
		return nil, err
	}
	if err := duban.CheckFigure(figure); err != nil {
		return nil, err
	}
	r.Unit = unit
	q, err := s.query(r)
	if err != nil {
		return nil, err
	}
	return s.Store.FigureCases(ctx, q, figure)
}

// InspectorReport returns the inspectors' rows for r.
func (s *Service) InspectorReport(ctx context.Context, by duban.Principal, r ReportRequest) (duban.Period, []duban.InspectorRow, error) {
	if err := by.MayReadInspectorReport(); err != nil {
		return duban.Period{}, nil, err
	}
	r.Unit = ""
	q, err := s.query(r)
	if err != nil {
		return duban.Period{}, nil, err
	}
	rows, err := s.Store.InspectorCounts(ctx, q)
	duban.FinishInspectors(rows)
	return q.Period, rows, err
}

// Bulletins lists the published bulletins, the latest first: a unit
// reads its own place on their lists and its own sanctions.
func (s *Service) Bulletins(ctx context.Context, by duban.Principal) ([]duban.Bulletin, error) {
	if err := by.MayReadScorecard(""); err != nil {
		return nil, err
	}
	bs, err := s.Store.Bulletins(ctx)
	for i := range bs {
		bs[i] = by.ScopeBulletin(bs[i])
	}
	return bs, err
}

// Bulletin returns the bulletin of period: a unit reads its own row of
// it, its own place on the lists and its own sanctions.
func (s *Service) Bulletin(ctx context.Context, by duban.Principal, period string) (duban.Bulletin, error) {
	if err := by.MayReadScorecard(""); err != nil {
		return duban.Bulletin{}, err
	}
	if _, err := s.Policy.AssessmentPeriod(period); err != nil {
		return duban.Bulletin{}, err
	}
	b, err := s.Store.Bulletin(ctx, period)
	if err != nil {
		return duban.Bulletin{}, err
	}
	return by.ScopeBulletin(b), nil
}

// Sanctions lists the sanctions f selects, the latest period first: the
// office's of every unit, a unit's its own.
func (s *Service) Sanctions(ctx context.Context, by duban.Principal, f duban.SanctionFilter) ([]duban.Sanction, error) {
	var err error
	if f.Unit, err = by.ScopeSanctions(f.Unit); err != nil {
		return nil, err
	}
	if err := f.Check(s.Policy); err != nil {
		return nil, err
	}
	return s.Store.Sanctions(ctx, f)
}

// Sanction returns a sanction to whom may read its unit's
// (duban.Principal.MayReadSanctions): a unit its own, another's being not
// found.
func (s *Service) Sanction(ctx context.Context, by duban.Principal, id string) (duban.Sanction, error) {
	if err := by.MayReadSanctions(""); err != nil {
		return duban.Sanction{}, err
	}
	sn, err := s.Store.Sanction(ctx, id)
	if err != nil {
		return duban.Sanction{}, err
	}
	if err := by.MayReadSanctions(sn.Unit); err != nil {
		return duban.Sanction{}, err
	}
	return sn, nil
}

// SanctionEvents returns a sanction's events in order, to whom may read
// the sanction.
func (s *Service) SanctionEvents(ctx context.Context, by duban.Principal, id string) ([]duban.SanctionEvent, error) {
	if _, err := s.Sanction(ctx, by, id); err != nil {
		return nil, err
	}
	return s.Store.SanctionEvents(ctx, id)
}

// SanctionDone records the office's follow-up of sanction id: note what
// was done, at when (nil: now). It answers the sanction after it.
func (s *Service) SanctionDone(ctx context.Context, by duban.Principal, id, note string, at *time.Time) (duban.Sanction, error) {
	sn, err := s.Sanction(ctx, by, id)
	if err != nil {
		return sn, err
	}
	now := s.now()
	when := now
	if at != nil {
		when = *at
	}
	done, err := sn.Done(by, note, when, now)
	if err != nil {
		return sn, err
	}
	return done, s.Store.RecordSanction(ctx, done)
}
