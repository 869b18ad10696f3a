package duban

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Reward and penalty (SPEC.md, "Reward and penalty"): at each period's
// end, with the bulletin, the policy's honours put the best units and
// sites on the red list (红榜) and those under the line on the black list
// (黑榜), and its sanctions climb a ladder for units that stay on the
// black list (通报批评 → 黄牌警告 → 约谈 → 问责). All is decided here, from
// the bulletin's rows and the bulletins before it; the store keeps it
// once, with the bulletin, and never changes it. A sanction stays open
// until the office records its follow-up.

// Honours is the policy's red and black lists, of units and of sites.
type Honours struct {
	Units ListRules
	Sites ListRules
}

// ListRules say who is listed. Black: every one whose score is below
// Below (nil: no black list); red: the first Top ranked (0: no red list)
// whose score is at least MinScore (nil: any) and who is not black.
type ListRules struct {
	Top      int
	MinScore *float64
	Below    *float64
}

// SanctionAction is what a sanction asks of the office.
type SanctionAction string

// The actions of the ladder, mildest first.
const (
	ActionNotice         SanctionAction = "notice"         // 通报批评
	ActionYellowCard     SanctionAction = "yellow_card"    // 黄牌警告
	ActionInterview      SanctionAction = "interview"      // 约谈
	ActionAccountability SanctionAction = "accountability" // 问责
)

// SanctionActions are the actions a rule may name.
var SanctionActions = []SanctionAction{ActionNotice, ActionYellowCard, ActionInterview, ActionAccountability}

// SanctionRule is one rung of the policy's sanctions: a unit on the
// black list at least Times in the last Within periods (this one
// included; 0: in all of them) is given Action. The first rule that
// matches is the one applied.
type SanctionRule struct {
	When   string         `json:"when"`
	Times  int            `json:"times"`
	Within int            `json:"within,omitempty"`
	Action SanctionAction `json:"action"`
}

// WhenBlackList is what a sanction rule counts: the unit's black-listings.
const WhenBlackList = "black_list"

// ListedUnit is a unit on a list, with its score and rank in the bulletin.
type ListedUnit struct {
	Unit  string  `json:"unit"`
	Rank  int     `json:"rank"`
	Score float64 `json:"score"`
}

// ListedSite is a site on a list, with its inspections' mean score in the
// period.
type ListedSite struct {
	Site        string  `json:"site"`
	Type        string  `json:"type"`
	Inspections int     `json:"inspections"`
	MeanScore   float64 `json:"mean_score"`
}

// Listing is a red or a black list: its units and its sites.
type Listing struct {
	Units []ListedUnit `json:"units"`
	Sites []ListedSite `json:"sites"`
}

// SanctionStatus is whether the office has done what a sanction asks.
type SanctionStatus string

// A sanction's statuses.
const (
	SanctionOpen SanctionStatus = "open"
	SanctionDone SanctionStatus = "done"
)

// Sanction is what a bulletin's black list brought a unit: the action,
// the rule that gave it (its number in the policy's sanctions, from 1,
// and the rule itself) and the periods that made it, oldest first. It is
// open until the office records its follow-up.
type Sanction struct {
	ID       string         `json:"id"`
	Period   string         `json:"period"`
	PeriodTo time.Time      `json:"period_to"`
	Unit     string         `json:"unit"`
	Action   SanctionAction `json:"action"`
	RuleN    int            `json:"rule_n"`
	Rule     SanctionRule   `json:"rule"`
	Periods  []string       `json:"periods"`
	Imposed  time.Time      `json:"imposed_at"`
	Status   SanctionStatus `json:"status"`
	FollowUp *FollowUp      `json:"follow_up"`
	Version  int            `json:"version"`
}

// FollowUp is what the office recorded it did: the note, when it was
// done, who recorded it and when.
type FollowUp struct {
	Note       string    `json:"note"`
	At         time.Time `json:"at"`
	By         Principal `json:"by"`
	RecordedAt time.Time `json:"recorded_at"`
}

// SanctionID names the sanction a period's bulletin gives unit: one per
// unit and period, so a bulletin published again gives the same.
func SanctionID(period, unit string) string { return period + "." + unit }

// Honour fills b's red and black lists from its rows and from sites (the
// sites inspected in its period, as the store counted them), and the
// sanctions its black list brings, given the bulletins published before
// it (any order; their black lists are what counts). The sanctions are
// open, imposed when b is published.
func (p *Policy) Honour(b *Bulletin, sites []SiteScore, earlier []Bulletin) {
	b.RedList, b.BlackList = Listing{Units: []ListedUnit{}, Sites: []ListedSite{}}, Listing{Units: []ListedUnit{}, Sites: []ListedSite{}}
	for _, r := range b.Rows {
		if r.Score == nil || r.Rank == nil {
			continue
		}
		l := ListedUnit{Unit: r.Unit, Rank: *r.Rank, Score: *r.Score}
		switch {
		case p.Honours.Units.black(l.Score): // never red as well, however few are ranked
			b.BlackList.Units = append(b.BlackList.Units, l)
		case p.Honours.Units.red(l.Rank, l.Score):
			b.RedList.Units = append(b.RedList.Units, l)
		}
	}
	slices.SortFunc(b.RedList.Units, func(x, y ListedUnit) int { return x.Rank - y.Rank })
	// The black list worst first.
	slices.SortFunc(b.BlackList.Units, func(x, y ListedUnit) int { return y.Rank - x.Rank })
	b.RedList.Sites, b.BlackList.Sites = p.Honours.Sites.sites(sites)
	b.Sanctions = p.sanctions(*b, earlier)
}

// red reports whether the rules put a unit or site of rank and score on
// the red list.
func (l ListRules) red(rank int, score float64) bool {
	return rank <= l.Top && (l.MinScore == nil || score >= *l.MinScore)
}

// black reports whether the rules put one of score on the black list.
func (l ListRules) black(score float64) bool { return l.Below != nil && score < *l.Below }

// sites lists the sites inspected: ranked by their mean score, the best
// first (then by more inspections, then by id), the red list from the
// top, the black list the worst first.
func (l ListRules) sites(counted []SiteScore) (red, black []ListedSite) {
	ranked := make([]ListedSite, 0, len(counted))
	for _, s := range counted {
		if s.Inspections == 0 {
			continue
		}
		ranked = append(ranked, ListedSite{Site: s.Site, Type: s.Type, Inspections: s.Inspections,
			MeanScore: *MeanScore(s.ScoreSum, s.Inspections)})
	}
	slices.SortFunc(ranked, func(x, y ListedSite) int {
		return cmp.Or(cmp.Compare(y.MeanScore, x.MeanScore), y.Inspections-x.Inspections, cmp.Compare(x.Site, y.Site))
	})
	red, black = []ListedSite{}, []ListedSite{}
	for i, s := range ranked {
		if l.red(i+1, s.MeanScore) && !l.black(s.MeanScore) {
			red = append(red, s)
		}
	}
	for _, s := range slices.Backward(ranked) {
		if l.black(s.MeanScore) {
			black = append(black, s)
		}
	}
	return red, black
}

// sanctions gives each unit on b's black list the first rule its record
// matches: its black-listings in the last Within bulletins, b's included.
func (p *Policy) sanctions(b Bulletin, earlier []Bulletin) []Sanction {
	history := slices.Clone(earlier)
	history = slices.DeleteFunc(history, func(e Bulletin) bool { return !e.To.Before(b.To) })
	slices.SortFunc(history, func(x, y Bulletin) int { return x.To.Compare(y.To) })
	history = append(history, b)
	out := []Sanction{}
	for _, l := range b.BlackList.Units {
		for i, rule := range p.Sanctions {
			window := history
			if rule.Within > 0 && len(window) > rule.Within {
				window = window[len(window)-rule.Within:]
			}
			var periods []string
			for _, e := range window {
				if slices.ContainsFunc(e.BlackList.Units, func(x ListedUnit) bool { return x.Unit == l.Unit }) {
					periods = append(periods, e.Name)
				}
			}
			if len(periods) >= rule.Times {
				out = append(out, Sanction{ID: SanctionID(b.Name, l.Unit), Period: b.Name, PeriodTo: b.To, Unit: l.Unit, Action: rule.Action,
					RuleN: i + 1, Rule: rule, Periods: periods, Imposed: b.PublishedAt, Status: SanctionOpen, Version: 1})
				break
			}
		}
	}
	return out
}

// MaxFollowUpNote bounds a follow-up's note.
const MaxFollowUpNote = 2000

// Done records the office's follow-up of s (the interview held, the
// written review received): note what was done, at when, by a supervisor
// or an admin, now. A sanction is followed up once; at may not be in the
// future (a minute's difference of clocks aside) nor before the period
// the sanction is of ended.
func (s Sanction) Done(by Principal, note string, at, now time.Time) (Sanction, error) {
	if !by.Oversees() {
		return s, Errorf(EFORBIDDEN, "only supervisors and admins record a sanction's follow-up")
	}
	if s.Status != SanctionOpen {
		return s, Errorf(ECONFLICT, "sanction %s was followed up already", s.ID)
	}
	var errs fieldErrors
	note = strings.TrimSpace(note)
	switch {
	case note == "":
		errs.add("note", "is required: what was done")
	case utf8.RuneCountInString(note) > MaxFollowUpNote:
		errs.add("note", "is longer than %d characters", MaxFollowUpNote)
	}
	switch {
	case at.After(now.Add(time.Minute)):
		errs.add("at", "is in the future")
	case at.Before(s.PeriodTo):
		errs.add("at", "is before the end of period %s, which brought the sanction", s.Period)
	}
	if err := errs.err(); err != nil {
		return s, err
	}
	s.Status, s.Version = SanctionDone, s.Version+1
	s.FollowUp = &FollowUp{Note: note, At: at.UTC(), By: by, RecordedAt: now.UTC()}
	return s, nil
}

// A sanction's events: imposed by a bulletin, then done. They are not a
// case's: they are kept with the sanction and offered to the
// subscriptions beside the cases' events.
const (
	EventSanctionImposed EventType = "SanctionImposed"
	EventSanctionDone    EventType = "SanctionDone"
)

// EventType makes a sanction the data of its events: the sanction as it
// stood after each.
func (s Sanction) EventType() EventType {
	if s.FollowUp != nil {
		return EventSanctionDone
	}
	return EventSanctionImposed
}

// SanctionEvent is a change to a sanction, appended, never changed.
type SanctionEvent struct {
	ID         string    `json:"id"`
	SanctionID string    `json:"sanction_id"`
	Version    int       `json:"version"`
	Type       EventType `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	Actor      Principal `json:"actor"`
	Data       Sanction  `json:"data"`
}

// Event returns the event that made s as it is: imposed by the system,
// or done by the follow-up's author. Its id is named by the sanction and
// the version, as a case event's is.
func (s Sanction) Event() SanctionEvent {
	e := SanctionEvent{ID: EventID(SanctionStream(s.ID), int64(s.Version)), SanctionID: s.ID, Version: s.Version, Type: s.EventType(),
		OccurredAt: s.Imposed, Actor: System, Data: s}
	if s.FollowUp != nil {
		e.OccurredAt, e.Actor = s.FollowUp.RecordedAt, s.FollowUp.By
	}
	return e
}

// sanctionSpace is the UUID namespace of the sanctions' streams.
var sanctionSpace = uuid.MustParse("0b8a1f6e-3c52-4d7e-9f21-7a4c5e9d2b13")

// SanctionStream names a sanction's stream of events as a case id names a
// case's: where the outbox keeps a sanction's deliveries in order.
func SanctionStream(id string) string {
	return uuid.NewSHA1(sanctionSpace, []byte(id)).String()
}

// Outbox is e as the subscriptions are offered it: an event of the
// sanction's stream, the sanction as its data.
func (e SanctionEvent) Outbox(position int64) Event {
	return Event{ID: e.ID, CaseID: SanctionStream(e.SanctionID), Version: int64(e.Version), Position: position, Type: e.Type,
		OccurredAt: e.OccurredAt, Actor: e.Actor, Data: e.Data}
}

// Only keeps b's lists and sanctions of unit: what a unit sees of a
// bulletin (its own row is kept by the caller).
func (b Bulletin) Only(unit string) Bulletin {
	keep := func(l Listing) Listing {
		return Listing{Units: slices.DeleteFunc(slices.Clone(l.Units), func(x ListedUnit) bool { return x.Unit != unit }),
			Sites: []ListedSite{}}
	}
	b.Rows = slices.DeleteFunc(slices.Clone(b.Rows), func(r UnitRow) bool { return r.Unit != unit })
	b.RedList, b.BlackList = keep(b.RedList), keep(b.BlackList)
	b.Sanctions = slices.DeleteFunc(slices.Clone(b.Sanctions), func(s Sanction) bool { return s.Unit != unit })
	return b.UTC()
}

// SanctionFilter selects sanctions: of a status, a unit, a period ("" for
// any).
type SanctionFilter struct {
	Status SanctionStatus
	Unit   string
	Period string
}

// Check refuses a filter of an unknown status or unit, or of a period
// that is not one of the policy's.
func (f SanctionFilter) Check(p *Policy) error {
	var errs fieldErrors
	if f.Status != "" && f.Status != SanctionOpen && f.Status != SanctionDone {
		errs.add("status", "must be open or done")
	}
	if f.Unit != "" && !p.hasUnit(f.Unit) {
		errs.add("unit", "is not a unit of the policy")
	}
	if f.Period != "" {
		if _, err := p.AssessmentPeriod(f.Period); err != nil {
			errs.add("period", "is not a period such as 2026-11")
		}
	}
	return errs.err()
}

// SortSanctions orders sanctions as they are listed: the latest period
// first, then the heaviest action, then by unit.
func SortSanctions(list []Sanction) {
	slices.SortFunc(list, func(x, y Sanction) int {
		return cmp.Or(y.PeriodTo.Compare(x.PeriodTo),
			slices.Index(SanctionActions, y.Action)-slices.Index(SanctionActions, x.Action), cmp.Compare(x.Unit, y.Unit))
	})
}
