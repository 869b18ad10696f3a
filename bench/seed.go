package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/postgres"
	"github.com/google/uuid"
)

// seedTerms are long enough that no seeded case is overdue while measured.
var seedTerms = duban.Terms{
	SLA:      duban.SLA{Acknowledge: 8760 * time.Hour, Resolve: 17520 * time.Hour, Verify: 8760 * time.Hour},
	Calendar: duban.Calendar{Kind: duban.Calendar24x7},
	Ladder:   []duban.Rung{{Level: 1}},
}

var (
	seedUnits      = []string{"sanitation", "urban-management", "market-supervision", "traffic-police", "publicity", "municipal-engineering"}
	seedCategories = []string{"littering", "graffiti", "spitting", "street-vending", "jaywalking", "damaged-ads", "broken-pavement", "overflowing-bins", "illegal-parking"}
	seedAreas      = []string{"old-town", "new-district", "riverside", "station", "university"}
)

// seedHistory makes one realistic case history: opened some time in the
// last year; 70% closed, 20% in progress, 10% dispatched.
func seedHistory(rng *rand.Rand, now time.Time) postgres.CaseHistory {
	opened := now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
	steps := 0
	switch r := rng.IntN(10); {
	case r < 7:
		steps = 3
	case r < 9:
		steps = 1
	}
	return seedCase(rng, seedTerms, opened, steps)
}

// seedCase makes a case history through Decide: opened at opened under
// terms, then taken steps along acknowledge, resolve and verify, an hour apart.
func seedCase(rng *rand.Rand, terms duban.Terms, opened time.Time, steps int) postgres.CaseHistory {
	inspector := duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	unit := seedUnits[rng.IntN(len(seedUnits))]
	open := duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: inspector}, CaseID: uuid.NewString(),
		Category: seedCategories[rng.IntN(len(seedCategories))], Severity: duban.SeverityNormal,
		Description: "found on patrol: " + strings.Repeat("details ", 10),
		Location:    duban.Location{Lat: 39.8 + rng.Float64()/10, Lon: 111.2 + rng.Float64()/10, Area: seedAreas[rng.IntN(len(seedAreas))]},
		Unit:        unit, Terms: terms, PolicyVersion: "seed",
	}
	by := duban.CommandMeta{By: duban.Principal{ID: unit + "-1", Role: duban.RoleUnit, Unit: unit}}
	cmds := []duban.Command{open, duban.Acknowledge{CommandMeta: by}, duban.Resolve{CommandMeta: by, Note: "fixed"},
		duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: true}}
	var c duban.Case
	var events []duban.Event
	for i, cmd := range cmds[:1+steps] {
		evs, err := duban.Decide(c, cmd, opened.Add(time.Duration(i)*time.Hour))
		if err != nil {
			panic(err)
		}
		c = duban.Fold(c, evs)
		events = append(events, evs...)
	}
	return postgres.CaseHistory{Events: events}
}

// seed bulk-loads n case histories made by gen, keeping a sample of ids.
func seed(ctx context.Context, store *postgres.Store, n int, gen func(*rand.Rand) postgres.CaseHistory, progress func(done int)) ([]string, error) {
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	var sample []string
	const batch = 5000
	for done := 0; done < n; {
		size := min(batch, n-done)
		histories := make([]postgres.CaseHistory, size)
		for i := range histories {
			histories[i] = gen(rng)
			if len(sample) < 20000 && rng.IntN(max(1, n/20000)) == 0 {
				sample = append(sample, histories[i].Events[0].CaseID)
			}
		}
		if err := store.BulkLoad(ctx, histories); err != nil {
			return nil, err
		}
		done += size
		progress(done)
	}
	return sample, nil
}
