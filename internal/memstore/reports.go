package memstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/duban/duban"
)

// The scorecards of the store: what postgres.Store's SQL aggregates, done
// here over the facts and stretches of every case, assessed afresh.

func (s *Store) assessed(q duban.ReportQuery) ([]duban.Fact, []duban.Stretch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var facts []duban.Fact
	var stretches []duban.Stretch
	keep := func(unit, category, area string) bool {
		return (q.Unit == "" || unit == q.Unit) && (q.Category == "" || category == q.Category) && (q.Area == "" || area == q.Area)
	}
	end := q.End()
	for _, st := range s.cases {
		fs, ss := duban.AssessHistory(st.events)
		for _, f := range fs {
			if !f.At.Before(q.From) && f.At.Before(end) && keep(f.Unit, f.Category, f.Area) {
				facts = append(facts, f)
			}
		}
		for _, x := range ss {
			if x.Since.Before(end) && (x.Until == nil || !x.Until.Before(end)) && !x.Suspended && x.Deadline.Before(end) &&
				keep(x.Unit, x.Category, x.Area) {
				stretches = append(stretches, x)
			}
		}
	}
	return facts, stretches
}

// UnitCounts counts SPEC.md's figures over q for every unit with a fact in
// its period or an obligation overdue at its end.
func (s *Store) UnitCounts(_ context.Context, q duban.ReportQuery) ([]duban.UnitRow, error) {
	facts, overdue := s.assessed(q)
	rows := map[string]*duban.UnitRow{}
	minutes := map[string]map[duban.FactKind][]float64{}
	row := func(unit string) *duban.UnitRow {
		if rows[unit] == nil {
			rows[unit] = &duban.UnitRow{Unit: unit, Escalations: map[string]int{}}
			minutes[unit] = map[duban.FactKind][]float64{}
		}
		return rows[unit]
	}
	for _, f := range facts {
		if f.Unit == "" {
			continue
		}
		r := row(f.Unit)
		switch f.Kind {
		case duban.FactDispatched:
			r.Dispatched++
		case duban.FactAcknowledged:
			minutes[f.Unit][f.Kind] = append(minutes[f.Unit][f.Kind], f.Minutes)
		case duban.FactResolved:
			r.Handled++
			if !f.Late {
				r.HandledOnTime++
			}
			minutes[f.Unit][f.Kind] = append(minutes[f.Unit][f.Kind], f.Minutes)
		case duban.FactVerification:
			r.Verifications++
			if f.Failed {
				r.Rework++
			}
		case duban.FactClosed:
			r.Closed++
		case duban.FactExtension:
			r.ExtensionsApproved++
		case duban.FactEscalation:
			r.Escalations[strconv.Itoa(f.Level)]++
		case duban.FactUrge:
			r.Urges++
		case duban.FactNoFurtherAction:
			r.NoFurtherAction++
		case duban.FactRecurrence:
			r.Recurrences++
		case duban.FactListed:
			r.Listed++
		case duban.FactRated:
			r.Rated++
			if !f.Failed {
				r.Satisfied++
			}
		}
	}
	for _, x := range overdue {
		row(x.Unit).OverdueOpen++
	}
	out := make([]duban.UnitRow, 0, len(rows))
	for unit, r := range rows {
		ack, res := minutes[unit][duban.FactAcknowledged], minutes[unit][duban.FactResolved]
		slices.Sort(ack)
		slices.Sort(res)
		r.AckMinutes = duban.Minutes{P50: duban.Percentile(ack, 0.5), P90: duban.Percentile(ack, 0.9)}
		r.ResolveMinutes = duban.Minutes{P50: duban.Percentile(res, 0.5), P90: duban.Percentile(res, 0.9)}
		out = append(out, *r)
	}
	return out, nil
}

// InspectorCounts counts, over q, each inspector's cases opened,
// verifications and verifications before the verify deadline.
func (s *Store) InspectorCounts(_ context.Context, q duban.ReportQuery) ([]duban.InspectorRow, error) {
	facts, _ := s.assessed(q)
	rows := map[string]*duban.InspectorRow{}
	for _, f := range facts {
		if f.Actor == "" {
			continue
		}
		r := rows[f.Actor]
		if r == nil {
			r = &duban.InspectorRow{Inspector: f.Actor}
			rows[f.Actor] = r
		}
		switch f.Kind {
		case duban.FactOpened:
			r.Opened++
		case duban.FactVerification:
			r.Verifications++
			if !f.Late {
				r.VerifiedOnTime++
			}
		}
	}
	out := make([]duban.InspectorRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	return out, nil
}

// FigureCases returns the ids of the cases behind a figure of q.Unit's row
// over q, each once, in order.
func (s *Store) FigureCases(_ context.Context, q duban.ReportQuery, figure string) ([]string, error) {
	facts, overdue := s.assessed(q)
	counts := map[string]func(duban.Fact) bool{
		"dispatched":          func(f duban.Fact) bool { return f.Kind == duban.FactDispatched },
		"handled":             func(f duban.Fact) bool { return f.Kind == duban.FactResolved },
		"handled_on_time":     func(f duban.Fact) bool { return f.Kind == duban.FactResolved && !f.Late },
		"verifications":       func(f duban.Fact) bool { return f.Kind == duban.FactVerification },
		"rework":              func(f duban.Fact) bool { return f.Kind == duban.FactVerification && f.Failed },
		"closed":              func(f duban.Fact) bool { return f.Kind == duban.FactClosed },
		"extensions_approved": func(f duban.Fact) bool { return f.Kind == duban.FactExtension },
		"escalations":         func(f duban.Fact) bool { return f.Kind == duban.FactEscalation },
		"urges":               func(f duban.Fact) bool { return f.Kind == duban.FactUrge },
		"no_further_action":   func(f duban.Fact) bool { return f.Kind == duban.FactNoFurtherAction },
		"recurrences":         func(f duban.Fact) bool { return f.Kind == duban.FactRecurrence },
		"listed":              func(f duban.Fact) bool { return f.Kind == duban.FactListed },
		"rated":               func(f duban.Fact) bool { return f.Kind == duban.FactRated },
		"dissatisfied":        func(f duban.Fact) bool { return f.Kind == duban.FactRated && f.Failed },
	}
	counts["due"] = counts["handled"]
	count, ok := counts[figure]
	if !ok && figure != "overdue_open" {
		return nil, fmt.Errorf("no figure %q", figure)
	}
	var ids []string
	for _, f := range facts {
		if ok && f.Unit != "" && count(f) {
			ids = append(ids, f.CaseID)
		}
	}
	if figure == "overdue_open" || figure == "due" {
		for _, x := range overdue {
			ids = append(ids, x.CaseID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// PublishBulletin keeps b, published now, and the sanctions it brings,
// unless a bulletin of its period is kept already.
func (s *Store) PublishBulletin(_ context.Context, b duban.Bulletin) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.bulletins[b.Name]; ok {
		return false, nil
	}
	if s.bulletins == nil {
		s.bulletins, s.sanctions = map[string]duban.Bulletin{}, map[string]duban.Sanction{}
	}
	b.PublishedAt = time.Now().UTC().Truncate(time.Microsecond)
	for _, sn := range b.Sanctions {
		sn.Imposed = b.PublishedAt
		s.sanctions[sn.ID] = sn
		s.sanctionEvents = append(s.sanctionEvents, sn.Event())
	}
	b.Sanctions = nil
	s.bulletins[b.Name] = b
	return true, nil
}

// withSanctions is b with its sanctions as they are now.
func (s *Store) withSanctions(b duban.Bulletin) duban.Bulletin {
	b.Sanctions = nil
	for _, sn := range s.sanctions {
		if sn.Period == b.Name {
			b.Sanctions = append(b.Sanctions, sn)
		}
	}
	duban.SortSanctions(b.Sanctions)
	return b.UTC()
}

// Bulletins lists the published bulletins, the latest period first,
// without their rows.
func (s *Store) Bulletins(context.Context) ([]duban.Bulletin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]duban.Bulletin, 0, len(s.bulletins))
	for _, b := range s.bulletins {
		b.Rows = nil
		out = append(out, s.withSanctions(b))
	}
	slices.SortFunc(out, func(a, b duban.Bulletin) int { return b.To.Compare(a.To) })
	return out, nil
}

// Bulletin returns the bulletin of period; ENOTFOUND when none is published.
func (s *Store) Bulletin(_ context.Context, period string) (duban.Bulletin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bulletins[period]
	if !ok {
		return duban.Bulletin{}, duban.Errorf(duban.ENOTFOUND, "no bulletin of period %s is published", period)
	}
	return s.withSanctions(b), nil
}

// Sanctions lists the sanctions f selects, in duban.SortSanctions' order.
func (s *Store) Sanctions(_ context.Context, f duban.SanctionFilter) ([]duban.Sanction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []duban.Sanction{}
	for _, sn := range s.sanctions {
		if (f.Status == "" || sn.Status == f.Status) && (f.Unit == "" || sn.Unit == f.Unit) && (f.Period == "" || sn.Period == f.Period) {
			out = append(out, sn)
		}
	}
	duban.SortSanctions(out)
	return out, nil
}

// Sanction returns a sanction; ENOTFOUND when there is none.
func (s *Store) Sanction(_ context.Context, id string) (duban.Sanction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.sanctions[id]
	if !ok {
		return sn, duban.Errorf(duban.ENOTFOUND, "no sanction %s", id)
	}
	return sn, nil
}

// RecordSanction records after, a change of the sanction at the version
// before it; ECONFLICT when it changed meanwhile.
func (s *Store) RecordSanction(_ context.Context, after duban.Sanction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sanctions[after.ID].Version != after.Version-1 {
		return duban.Errorf(duban.ECONFLICT, "sanction %s was changed meanwhile: read it again", after.ID)
	}
	s.sanctions[after.ID] = after
	s.sanctionEvents = append(s.sanctionEvents, after.Event())
	return nil
}

// SanctionEvents returns a sanction's events in version order.
func (s *Store) SanctionEvents(_ context.Context, id string) ([]duban.SanctionEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []duban.SanctionEvent{}
	for _, e := range s.sanctionEvents {
		if e.SanctionID == id {
			out = append(out, e)
		}
	}
	return out, nil
}
