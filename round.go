package duban

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// RoundKind is how a round inspects: openly (明查) or covertly (暗访).
type RoundKind string

// The round kinds of SPEC.md.
const (
	RoundOpen   RoundKind = "open"
	RoundCovert RoundKind = "covert"
)

// Round statuses: open until every site drawn is inspected, then done.
const (
	RoundStatusOpen = "open"
	RoundStatusDone = "done"
)

// MaxRoundName bounds a round's name, in runes.
const MaxRoundName = 100

// Round is a sweep of sites (巡查/测评轮次): the sites drawn, each with the
// inspector it was given to, to be inspected by DueBy. The draw is
// recorded with its seed, so that anyone can redo it from the sites as
// they were and see it was fair.
type Round struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	Kind      RoundKind   `json:"kind"`
	SiteTypes []string    `json:"site_types,omitempty"`
	Areas     []string    `json:"areas,omitempty"`
	Sample    int         `json:"sample,omitempty"`
	DueBy     time.Time   `json:"due_by"`
	Status    string      `json:"status"`
	Seed      int64       `json:"seed"`
	DrawnFrom int         `json:"drawn_from"` // how many active sites matched
	Sites     []RoundSite `json:"sites"`
	PlannedBy string      `json:"planned_by"`
	PlannedAt time.Time   `json:"planned_at"`
	// Ladder is the policy's escalation ladder when the round was
	// planned, placed around DueBy as a case's is around a deadline, the
	// round's whole length as its stage: it warns and escalates while
	// sites are left. A new policy does not change a planned round's.
	Ladder []Rung `json:"ladder,omitempty"`
	// Steps are the ladder's steps recorded, in order; EscalationLevel
	// the highest.
	Steps           []RoundStep `json:"steps,omitempty"`
	EscalationLevel int         `json:"escalation_level"`
}

// RoundStep is a step of a round's ladder taken while sites were left: a
// warning (level 0) or an escalation.
type RoundStep struct {
	Round      string    `json:"round"`
	Level      int       `json:"level"`
	DueAt      time.Time `json:"due_at"`
	RecordedAt time.Time `json:"recorded_at"`
	Left       []string  `json:"left"` // the sites not inspected then
}

// StepAt is where a rung of a round's ladder falls.
type StepAt struct {
	Level int       `json:"level"`
	At    time.Time `json:"at"`
}

// Due returns the round's ladder placed around DueBy, earliest first,
// counted around the clock: a round's due time is a time, not a working
// duration.
func (r *Round) Due() []StepAt {
	length := r.DueBy.Sub(r.PlannedAt)
	out := make([]StepAt, 0, len(r.Ladder))
	for _, rung := range r.Ladder {
		out = append(out, StepAt{Level: rung.Level, At: r.DueBy.Add(rung.At.Of(length))})
	}
	slices.SortStableFunc(out, func(a, b StepAt) int { return cmp.Or(a.At.Compare(b.At), a.Level-b.Level) })
	return out
}

// Step decides the ladder's step of level at now: the step to record, or
// false when there is none to record (the round is done, the step is
// recorded already, or not due yet).
func (r *Round) Step(level int, now time.Time) (RoundStep, bool) {
	if r.Status == RoundStatusDone || slices.ContainsFunc(r.Steps, func(s RoundStep) bool { return s.Level == level }) {
		return RoundStep{}, false
	}
	due := r.Due()
	i := slices.IndexFunc(due, func(s StepAt) bool { return s.Level == level })
	if i < 0 || due[i].At.After(now) {
		return RoundStep{}, false
	}
	var left []string
	for _, s := range r.Sites {
		if !s.Inspected {
			left = append(left, s.Site)
		}
	}
	return RoundStep{Round: r.ID, Level: level, DueAt: due[i].At, RecordedAt: now.UTC().Truncate(time.Millisecond), Left: left}, true
}

// RoundSite is a site drawn for a round and the inspector it went to.
type RoundSite struct {
	Site      string `json:"site"`
	Type      string `json:"type"`
	Area      string `json:"area,omitempty"`
	Inspector string `json:"inspector"`
	Inspected bool   `json:"inspected"`
}

// Site returns the round's entry for site.
func (r *Round) Site(site string) (RoundSite, bool) {
	i := slices.IndexFunc(r.Sites, func(s RoundSite) bool { return s.Site == site })
	if i < 0 {
		return RoundSite{}, false
	}
	return r.Sites[i], true
}

// Settle sets the round's status from its sites, done once every one is
// inspected, and its escalation level from its steps.
func (r *Round) Settle() {
	r.EscalationLevel = 0
	for _, s := range r.Steps {
		r.EscalationLevel = max(r.EscalationLevel, s.Level)
	}
	r.Status = RoundStatusDone
	if slices.ContainsFunc(r.Sites, func(s RoundSite) bool { return !s.Inspected }) {
		r.Status = RoundStatusOpen
	}
}

// MayPlanRounds refuses (EFORBIDDEN) all but the office, and the system
// (a round the policy schedules).
func (p Principal) MayPlanRounds() error {
	if !p.Oversees() && p != System {
		return Errorf(EFORBIDDEN, "only supervisors and admins plan rounds")
	}
	return nil
}

// MayReadRounds refuses units (EFORBIDDEN): rounds are the office's and
// its inspectors' (a covert round must not reach the units it visits).
func (p Principal) MayReadRounds() error {
	if !p.Oversees() && p.Role != RoleInspector {
		return Errorf(EFORBIDDEN, "only the office and its inspectors read rounds")
	}
	return nil
}

// RoundFor is round r as p may read it: the office reads every round, an
// inspector the rounds they have sites in (MayReadRounds refuses the
// rest first).
func (p Principal) RoundFor(r Round) (Round, bool) {
	switch {
	case p.Oversees():
		return r, true
	case p.Role == RoleInspector && slices.ContainsFunc(r.Sites, func(s RoundSite) bool { return s.Inspector == p.ID }):
		return r, true
	}
	return Round{}, false
}

// PlanRound asks for a round: the sites of SiteTypes in Areas (all, when
// none are named), all of them or a Sample stratified by type, shared
// among Inspectors, due by DueBy.
type PlanRound struct {
	By         Principal
	RoundID    string
	Name       string
	Kind       RoundKind
	SiteTypes  []string
	Areas      []string
	Sample     int
	DueBy      time.Time
	Inspectors []string
	// Seed draws the sample: the application layer's random number, kept
	// below 2^53 so that every JSON reader reads it exactly.
	Seed int64

	// Facts: the sites as the store holds them; the policy's site types,
	// areas (none: free text), inspectors and escalation ladder.
	Sites                              []Site
	Types, KnownAreas, KnownInspectors []string
	Ladder                             []Rung
}

// DecideRound draws the round cmd asks for, or refuses it.
func DecideRound(cmd PlanRound, now time.Time) (Round, error) {
	now = now.UTC().Truncate(time.Millisecond)
	if err := cmd.By.MayPlanRounds(); err != nil {
		return Round{}, err
	}
	kind := cmp.Or(cmd.Kind, RoundOpen)
	dueBy := cmd.DueBy.UTC().Truncate(time.Millisecond)
	var errs fieldErrors
	checkText(&errs, "name", cmd.Name, MaxRoundName, true)
	if kind != RoundOpen && kind != RoundCovert {
		errs.add("kind", "must be open (明查) or covert (暗访)")
	}
	for i, t := range cmd.SiteTypes {
		if !slices.Contains(cmd.Types, t) {
			errs.add(fieldIndex("site_types", i), "is not a site type of the policy%s", choices(cmd.Types))
		}
	}
	for i, a := range cmd.Areas {
		if len(cmd.KnownAreas) > 0 && !slices.Contains(cmd.KnownAreas, a) {
			errs.add(fieldIndex("areas", i), "is not a known area%s", choices(cmd.KnownAreas))
		}
	}
	if cmd.Sample < 0 {
		errs.add("sample", "must be 0 (every site) or more")
	}
	switch {
	case dueBy.IsZero():
		errs.add("due_by", "is required: when every site must be inspected")
	case !dueBy.After(now):
		errs.add("due_by", "must be in the future")
	case dueBy.Sub(now) > maxAhead:
		errs.add("due_by", "must be within a year")
	}
	if len(cmd.Inspectors) == 0 {
		errs.add("inspectors", "is required: who inspects the sites")
	}
	for i, id := range cmd.Inspectors {
		switch {
		case !slices.Contains(cmd.KnownInspectors, id):
			errs.add(fieldIndex("inspectors", i), "is not an inspector of the policy%s", choices(cmd.KnownInspectors))
		case slices.Index(cmd.Inspectors, id) < i:
			errs.add(fieldIndex("inspectors", i), "is named twice")
		}
	}
	if err := errs.err(); err != nil {
		return Round{}, err
	}
	var candidates []Site
	for _, s := range cmd.Sites {
		if s.Active && (len(cmd.SiteTypes) == 0 || slices.Contains(cmd.SiteTypes, s.Type)) &&
			(len(cmd.Areas) == 0 || slices.Contains(cmd.Areas, s.Area)) {
			candidates = append(candidates, s)
		}
	}
	if len(candidates) == 0 {
		return Round{}, Errorf(ECONFLICT, "no active site is of the round's site types in its areas")
	}
	drawn := DrawSites(candidates, cmd.Sample, cmd.Seed)
	return Round{
		ID: cmd.RoundID, Name: cmd.Name, Kind: kind, SiteTypes: cmd.SiteTypes, Areas: cmd.Areas, Sample: cmd.Sample,
		DueBy: dueBy, Status: RoundStatusOpen, Seed: cmd.Seed, DrawnFrom: len(candidates),
		Sites: share(drawn, cmd.Inspectors), PlannedBy: cmd.By.ID, PlannedAt: now, Ladder: cmd.Ladder,
	}, nil
}

// DrawSites draws sample of sites (all of them when sample is 0 or not
// less than their number) at random from seed, stratified by type: each
// type gets its share of the sample in proportion to its sites, the
// remainders going to the largest fractions (ties to the type first by
// code). The draw depends only on the sites, sample and seed, whatever
// their order, so it can be redone to show it was fair.
func DrawSites(sites []Site, sample int, seed int64) []Site {
	sites = slices.SortedFunc(slices.Values(sites), func(a, b Site) int { return cmp.Compare(a.ID, b.ID) })
	if sample <= 0 || sample >= len(sites) {
		return sites
	}
	byType := map[string][]Site{}
	for _, s := range sites {
		byType[s.Type] = append(byType[s.Type], s)
	}
	types := slices.Sorted(func(yield func(string) bool) {
		for t := range byType {
			if !yield(t) {
				return
			}
		}
	})
	quota := make(map[string]int, len(types))
	left := sample
	for _, t := range types {
		quota[t] = sample * len(byType[t]) / len(sites)
		left -= quota[t]
	}
	// The remainders, largest first: a type's fraction is
	// sample*n mod len(sites), compared as integers.
	byRemainder := slices.SortedStableFunc(slices.Values(types), func(a, b string) int {
		return cmp.Compare(sample*len(byType[b])%len(sites), sample*len(byType[a])%len(sites))
	})
	for _, t := range byRemainder[:left] {
		quota[t]++
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x64756261)) // "duba"
	var out []Site
	for _, t := range types {
		group := slices.Clone(byType[t])
		rng.Shuffle(len(group), func(i, j int) { group[i], group[j] = group[j], group[i] })
		out = append(out, group[:quota[t]]...)
	}
	return out
}

// share deals the drawn sites to the inspectors in runs of neighbours:
// ordered by area, type and id, the first inspector takes the first run,
// and so on, the runs differing in length by one at most.
func share(sites []Site, inspectors []string) []RoundSite {
	sites = slices.SortedFunc(slices.Values(sites), func(a, b Site) int {
		return cmp.Or(cmp.Compare(a.Area, b.Area), cmp.Compare(a.Type, b.Type), cmp.Compare(a.ID, b.ID))
	})
	out := make([]RoundSite, len(sites))
	for i, s := range sites {
		out[i] = RoundSite{Site: s.ID, Type: s.Type, Area: s.Area, Inspector: inspectors[i*len(inspectors)/len(sites)]}
	}
	return out
}

// fieldIndex names element i of a list field: "inspectors[2]".
func fieldIndex(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}

// ResolveRound gives cmd the policy's facts its decision needs.
func (p *Policy) ResolveRound(cmd PlanRound) PlanRound {
	cmd.Types, cmd.KnownAreas, cmd.KnownInspectors = p.siteTypeCodes(), p.areaIDs(), nil
	for _, e := range p.Principals {
		if e.Role == RoleInspector && !slices.Contains(cmd.KnownInspectors, e.ID) {
			cmd.KnownInspectors = append(cmd.KnownInspectors, e.ID)
		}
	}
	cmd.Ladder = p.Escalation
	return cmd
}

// RoundSchedule is a round the policy schedules: started at a time of the
// week (Weekday, -1 for every day, Hour, Minute in the policy's zone) or
// on a Cron line, drawing as a PlanRound does, due Due after its start.
type RoundSchedule struct {
	Code, Name            string
	Every                 string // as written
	Weekday, Hour, Minute int
	Cron                  string
	Kind                  RoundKind
	SiteTypes, Areas      []string
	Sample                int
	Due                   time.Duration
	Inspectors            []string
}

// Plan is the round the schedule plans when it starts at now, by the
// system.
func (s RoundSchedule) Plan(now time.Time) PlanRound {
	return PlanRound{By: System, Name: s.Name, Kind: s.Kind, SiteTypes: s.SiteTypes, Areas: s.Areas, Sample: s.Sample,
		DueBy: now.Add(s.Due), Inspectors: s.Inspectors}
}

// RoundSchedule returns the round the policy schedules as code.
func (p *Policy) RoundSchedule(code string) (RoundSchedule, bool) {
	i := slices.IndexFunc(p.Rounds, func(s RoundSchedule) bool { return s.Code == code })
	if i < 0 {
		return RoundSchedule{}, false
	}
	return p.Rounds[i], true
}
