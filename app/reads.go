package app

import (
	"context"

	"github.com/duban/duban"
)

// CaseView returns case id as reads send it (its stored view), if by may
// see it.
func (s *Service) CaseView(ctx context.Context, by duban.Principal, id string) (Listed, error) {
	l, err := s.Store.Listing(ctx, id)
	if err != nil {
		return Listed{}, err
	}
	if err := by.CanRead(l.Unit); err != nil {
		return Listed{}, err
	}
	return l, nil
}

// Events returns the events of case id, in version order, if by may see it.
func (s *Service) Events(ctx context.Context, by duban.Principal, id string) ([]duban.Event, error) {
	if _, err := s.CaseView(ctx, by, id); err != nil {
		return nil, err
	}
	return s.Store.Events(ctx, id)
}

// Cases lists the cases f selects of those by may see, newest opened
// first, with the cursor of the next page (nil on the last). Overdue and
// escalated are judged now.
func (s *Service) Cases(ctx context.Context, by duban.Principal, f duban.CaseFilter) ([]Listed, *duban.CaseCursor, error) {
	f, ok := by.ScopeList(f)
	if !ok {
		return nil, nil, nil
	}
	f.Now = s.now()
	return s.Store.Cases(ctx, f)
}

// CountCases counts the cases Cases lists for by and f, on every page.
func (s *Service) CountCases(ctx context.Context, by duban.Principal, f duban.CaseFilter) (int, error) {
	f, ok := by.ScopeList(f)
	if !ok {
		return 0, nil
	}
	f.Now, f.After = s.now(), nil
	return s.Store.CountCases(ctx, f)
}

// Escalations returns the open cases f selects that are overdue now, the
// highest escalation level first, then the longest overdue, a page at a
// time from the position after (nil: the top): the campaign office's board.
func (s *Service) Escalations(ctx context.Context, by duban.Principal, f duban.CaseFilter, after *duban.BoardCursor) ([]Listed, *duban.BoardCursor, error) {
	if err := by.MayWatchEscalations(); err != nil {
		return nil, nil, err
	}
	f.Now = s.now()
	return s.Store.Escalations(ctx, f, after)
}

// CaseRow returns case id whole, as the projection holds it, if by may see
// it: what a page needs to show the time left on the case's calendar and
// the commands by may give.
func (s *Service) CaseRow(ctx context.Context, by duban.Principal, id string) (Row, error) {
	row, err := s.Store.Case(ctx, id)
	if err != nil {
		return Row{}, err
	}
	if err := by.CanRead(row.Unit); err != nil {
		return Row{}, err
	}
	return row, nil
}
