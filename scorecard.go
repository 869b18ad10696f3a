package duban

import (
	"encoding/csv"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Assessment is the policy's assessment block: when periods begin and how
// the score weighs the rates.
type Assessment struct {
	// PeriodStartDay is the day of the month periods begin on (1–28):
	// with 21, a period runs from the 21st to the 20th.
	PeriodStartDay int
	// Weights weigh rates by their names (handling_rate, ...); their
	// absolute values sum to 100.
	Weights map[string]float64
}

// defaultAssessment is a common county model.
var defaultAssessment = Assessment{PeriodStartDay: 1, Weights: map[string]float64{
	"handling_rate": 30, "on_time_rate": 20, "rework_rate": -20, "overdue_open_rate": -20, "extension_rate": -10,
}}

// RateNames are the rates a weight may name.
var RateNames = []string{"handling_rate", "on_time_rate", "overdue_open_rate", "rework_rate", "closure_rate", "extension_rate", "satisfaction_rate"}

// Period is a span of days in the policy's time zone, [From, To), as
// instants. An assessment period is named after the month of its last day:
// with periods beginning on the 21st, "2026-11" runs from 21 October to 20
// November.
type Period struct {
	Name string    `json:"period,omitempty"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// maxPeriod bounds a report's span.
const maxPeriod = 366

// Location is the policy's time zone.
func (p *Policy) Location() *time.Location { return zone(p.TimeZone) }

// AssessmentPeriod returns the assessment period named name ("2026-11").
func (p *Policy) AssessmentPeriod(name string) (Period, error) {
	m, err := time.Parse("2006-01", name)
	if err != nil {
		return Period{}, Invalid(Field("period", "must be a month, YYYY-MM"))
	}
	d := p.Assessment.PeriodStartDay
	month := m.Month()
	if d == 1 {
		month++
	}
	to := time.Date(m.Year(), month, d, 0, 0, 0, 0, p.Location())
	return Period{Name: name, From: to.AddDate(0, -1, 0).UTC(), To: to.UTC()}, nil
}

// AssessmentPeriodOf returns the assessment period t falls in.
func (p *Policy) AssessmentPeriodOf(t time.Time) Period {
	local := t.In(p.Location())
	name := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, time.UTC)
	if d := p.Assessment.PeriodStartDay; d > 1 && local.Day() >= d {
		name = name.AddDate(0, 1, 0)
	}
	period, _ := p.AssessmentPeriod(name.Format("2006-01"))
	return period
}

// Days reads an optional range of whole days, from and until (YYYY-MM-DD,
// both days included) in the policy's time zone, named fromField and
// untilField in errors: the instants [start, end), each zero when its day
// is not given.
func (p *Policy) Days(fromField, from, untilField, until string) (start, end time.Time, err error) {
	var errs fieldErrors
	day := func(field, s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		d, err := time.ParseInLocation(time.DateOnly, s, p.Location())
		if err != nil {
			errs.add(field, "must be a date, YYYY-MM-DD")
		}
		return d
	}
	start, end = day(fromField, from), day(untilField, until)
	if !end.IsZero() {
		end = end.AddDate(0, 0, 1)
	}
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		errs.add(untilField, "must not be before %s", fromField)
	}
	return start, end, errs.err()
}

// ReportPeriod reads a report's from and to, dates (YYYY-MM-DD) in the
// policy's time zone: the period [from, to), at most a year.
func (p *Policy) ReportPeriod(from, to string) (Period, error) {
	var errs fieldErrors
	day := func(field, s string) time.Time {
		if s == "" {
			errs.add(field, "is required: a date, YYYY-MM-DD")
			return time.Time{}
		}
		d, err := time.ParseInLocation(time.DateOnly, s, p.Location())
		if err != nil {
			errs.add(field, "must be a date, YYYY-MM-DD")
		}
		return d
	}
	f, t := day("from", from), day("to", to)
	if err := errs.err(); err != nil {
		return Period{}, err
	}
	switch days := t.Sub(f).Hours() / 24; {
	case !t.After(f):
		return Period{}, Invalid(Field("to", "must be after from"))
	case math.Round(days) > maxPeriod:
		return Period{}, Invalid(Field("to", "must be at most %d days after from", maxPeriod))
	}
	return Period{From: f.UTC(), To: t.UTC()}, nil
}

// ReportQuery selects what a report counts: the period, and the units,
// category and area of the cases it counts ("" for all). Now is when the
// report is read: a period that has not ended is counted up to Now.
type ReportQuery struct {
	Period
	Unit     string
	Category string
	Area     string
	Now      time.Time
}

// End is the instant the query counts up to: the period's end, or now.
func (q ReportQuery) End() time.Time {
	if q.Now.Before(q.To) {
		return q.Now
	}
	return q.To
}

// Minutes are the median and the 90th percentile of elapsed minutes; nil
// when nothing was timed.
type Minutes struct {
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
}

// UnitRow is one unit's row of a scorecard: SPEC.md's figures, counted by
// the store, and the rates and the score Finish computes from them. A rate
// whose denominator is 0 is nil; a unit with nothing due has no score and
// is not ranked, one with anything due always has both.
type UnitRow struct {
	Unit               string         `json:"unit"`
	Rank               *int           `json:"rank"`
	Score              *float64       `json:"score"`
	Dispatched         int            `json:"dispatched"`
	Handled            int            `json:"handled"`
	HandledOnTime      int            `json:"handled_on_time"`
	OverdueOpen        int            `json:"overdue_open"`
	Due                int            `json:"due"`
	HandlingRate       *float64       `json:"handling_rate"`
	OnTimeRate         *float64       `json:"on_time_rate"`
	OverdueOpenRate    *float64       `json:"overdue_open_rate"`
	Verifications      int            `json:"verifications"`
	Rework             int            `json:"rework"`
	ReworkRate         *float64       `json:"rework_rate"`
	Closed             int            `json:"closed"`
	ClosureRate        *float64       `json:"closure_rate"`
	ExtensionsApproved int            `json:"extensions_approved"`
	ExtensionRate      *float64       `json:"extension_rate"`
	Escalations        map[string]int `json:"escalations"`
	Urges              int            `json:"urges"`
	NoFurtherAction    int            `json:"no_further_action"`
	// Recurrences counts the cases dispatched to the unit that a site
	// inspection found failing again (顽疾); Listed those listed (挂牌督办)
	// while the unit's.
	Recurrences int `json:"recurrences"`
	Listed      int `json:"listed"`
	// Rated counts the ratings residents gave the unit's handling of their
	// reports (回访), Satisfied those 满意 or 基本满意: SatisfactionRate
	// (满意率) is Satisfied / Rated.
	Rated            int      `json:"rated"`
	Satisfied        int      `json:"satisfied"`
	SatisfactionRate *float64 `json:"satisfaction_rate"`
	AckMinutes       Minutes  `json:"ack_minutes"`
	ResolveMinutes   Minutes  `json:"resolve_minutes"`
}

// rate is n/d, nil when d is 0, to four decimals.
func rate(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	return new(math.Round(float64(n)/float64(d)*1e4) / 1e4)
}

// tenth is *v to one decimal.
func tenth(v *float64) *float64 {
	if v == nil {
		return nil
	}
	return new(math.Round(*v*10) / 10)
}

// rates returns the row's rates by name.
func (r *UnitRow) rates() map[string]*float64 {
	return map[string]*float64{
		"handling_rate": r.HandlingRate, "on_time_rate": r.OnTimeRate, "overdue_open_rate": r.OverdueOpenRate,
		"rework_rate": r.ReworkRate, "closure_rate": r.ClosureRate, "extension_rate": r.ExtensionRate,
		"satisfaction_rate": r.SatisfactionRate,
	}
}

// Finish completes rows counted by a store: due, the rates, the score by
// the weights, every escalation level of the ladder (1, 2, 3 at least),
// the ranks; and orders them, ranked ones by score, then the rest, each by
// unit id.
func (a Assessment) Finish(rows []UnitRow) {
	for i := range rows {
		r := &rows[i]
		r.Due = r.Handled + r.OverdueOpen
		r.HandlingRate, r.OnTimeRate, r.OverdueOpenRate = rate(r.Handled, r.Due), rate(r.HandledOnTime, r.Due), rate(r.OverdueOpen, r.Due)
		r.ReworkRate, r.ClosureRate, r.ExtensionRate = rate(r.Rework, r.Verifications), rate(r.Closed, r.Due), rate(r.ExtensionsApproved, r.Due)
		r.SatisfactionRate = rate(r.Satisfied, r.Rated)
		if r.Escalations == nil {
			r.Escalations = map[string]int{}
		}
		for level := 1; level <= 3; level++ {
			r.Escalations[strconv.Itoa(level)] += 0
		}
		r.Score, r.Rank = a.score(r), nil
		for _, m := range []*Minutes{&r.AckMinutes, &r.ResolveMinutes} {
			m.P50, m.P90 = tenth(m.P50), tenth(m.P90)
		}
	}
	slices.SortFunc(rows, func(x, y UnitRow) int {
		switch {
		case x.Score != nil && y.Score != nil && *x.Score != *y.Score:
			if *x.Score > *y.Score {
				return -1
			}
			return 1
		case (x.Score == nil) != (y.Score == nil):
			if x.Score == nil {
				return 1
			}
			return -1
		}
		if x.Unit < y.Unit {
			return -1
		}
		return 1
	})
	for i := range rows {
		if rows[i].Score != nil {
			rows[i].Rank = new(i + 1)
		}
	}
}

// score is Σ weight × rate for a positive weight and |weight| × (1 − rate)
// for a negative one, to one decimal; nil when nothing is due. A unit with
// anything due is always scored: with no verifications nothing was
// reworked, so a missing rework rate counts as 0; with nothing rated by
// residents, the satisfaction rate's weight is left out and the score
// scaled from the other weights to the whole.
func (a Assessment) score(r *UnitRow) *float64 {
	if r.Due == 0 {
		return nil
	}
	rates := r.rates()
	var sum, total, counted float64
	for _, name := range RateNames {
		w, ok := a.Weights[name]
		if !ok || w == 0 {
			continue
		}
		total += math.Abs(w)
		if name == "satisfaction_rate" && r.SatisfactionRate == nil {
			continue
		}
		counted += math.Abs(w)
		var v float64
		if r := rates[name]; r != nil {
			v = *r
		}
		if w > 0 {
			sum += w * v
		} else {
			sum += -w * (1 - v)
		}
	}
	if counted == 0 {
		return nil
	}
	return new(math.Round(sum*total/counted*10) / 10)
}

// InspectorRow is one inspector's row: cases opened, verifications made,
// and how many of those before the verify deadline (按时核查率).
type InspectorRow struct {
	Inspector              string   `json:"inspector"`
	Opened                 int      `json:"opened"`
	Verifications          int      `json:"verifications"`
	VerifiedOnTime         int      `json:"verified_on_time"`
	OnTimeVerificationRate *float64 `json:"on_time_verification_rate"`
}

// FinishInspectors completes inspectors' rows counted by a store and
// orders them by inspector id.
func FinishInspectors(rows []InspectorRow) {
	for i := range rows {
		rows[i].OnTimeVerificationRate = rate(rows[i].VerifiedOnTime, rows[i].Verifications)
	}
	slices.SortFunc(rows, func(x, y InspectorRow) int {
		if x.Inspector < y.Inspector {
			return -1
		}
		return 1
	})
}

// Figures are the counts of a unit's row whose cases can be listed.
var Figures = []string{"dispatched", "handled", "handled_on_time", "overdue_open", "due", "verifications", "rework",
	"closed", "extensions_approved", "escalations", "urges", "no_further_action", "recurrences", "listed", "rated", "dissatisfied"}

// Percentile is the p-th quantile (0–1) of sorted values, interpolated
// linearly between the closest ranks, as SQL's percentile_cont computes
// it; nil for no values. Finish rounds it for the row.
func Percentile(sorted []float64, p float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	pos := p * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return new(sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo)))
}

// CheckFigure refuses (EINVALID) a figure whose cases cannot be listed.
func CheckFigure(figure string) error {
	if !slices.Contains(Figures, figure) {
		return Invalid(Field("figure", "must be one of %s", strings.Join(Figures, ", ")))
	}
	return nil
}

// CheckUnit refuses (EINVALID, naming field) a unit the policy does not
// know.
func (p *Policy) CheckUnit(field, unit string) error {
	if unit != "" && !p.hasUnit(unit) {
		ids := make([]string, len(p.Units))
		for i, u := range p.Units {
			ids[i] = u.ID
		}
		return Invalid(Field(field, "is not a unit of the policy%s", choices(ids)))
	}
	return nil
}

// Scorecard completes the rows a store counted for a report of unit ("" for
// every unit): a row for each unit of the policy the report is of, none
// counted or not, and every figure Finish computes; ranked.
func (p *Policy) Scorecard(counted []UnitRow, unit string) []UnitRow {
	rows := slices.Clone(counted)
	for _, u := range p.Units {
		if (unit == "" || unit == u.ID) && !slices.ContainsFunc(rows, func(r UnitRow) bool { return r.Unit == u.ID }) {
			rows = append(rows, UnitRow{Unit: u.ID})
		}
	}
	p.Assessment.Finish(rows)
	return rows
}

// Bulletin (通报) is a period's ranked rows as they stood at its end,
// published once by duban itself and never changed.
type Bulletin struct {
	Period
	PublishedAt time.Time `json:"published_at"`
	Rows        []UnitRow `json:"items,omitempty"`
	// RedList and BlackList are the period's 红黑榜, Sanctions what its
	// black list brought (Policy.Honour): published with the rows.
	RedList   Listing    `json:"red_list"`
	BlackList Listing    `json:"black_list"`
	Sanctions []Sanction `json:"sanctions"`
}

// scorecardColumns are the CSV columns of a scorecard: the rows' fields,
// nested ones flattened.
var scorecardColumns = []string{"unit", "rank", "score", "dispatched", "handled", "handled_on_time", "overdue_open", "due",
	"handling_rate", "on_time_rate", "overdue_open_rate", "verifications", "rework", "rework_rate", "closed", "closure_rate",
	"extensions_approved", "extension_rate", "escalations_1", "escalations_2", "escalations_3", "urges", "no_further_action",
	"recurrences", "listed", "rated", "satisfied", "satisfaction_rate", "ack_minutes_p50", "ack_minutes_p90", "resolve_minutes_p50", "resolve_minutes_p90"}

// CSVNames say a scorecard's columns and units in a language; a nil func
// leaves them as they are (field names, unit ids).
type CSVNames struct {
	Column func(field string) string
	Unit   func(id string) string
	// Type and Item name a site type and a standard's item (a site
	// report's); nil: their codes.
	Type, Item func(code string) string
}

// WriteScorecardCSV writes rows as CSV a spreadsheet opens as it is: UTF-8
// with a byte order mark, a header row of the field names (or as names
// says them), rates as decimals, an empty cell for a rate or score that is
// null.
func WriteScorecardCSV(w io.Writer, rows []UnitRow, names CSVNames) error {
	cw, err := newSheet(w, scorecardColumns, names.Column)
	if err != nil {
		return err
	}
	for _, r := range rows {
		rank := ""
		if r.Rank != nil {
			rank = strconv.Itoa(*r.Rank)
		}
		unit := r.Unit
		if names.Unit != nil {
			unit = names.Unit(unit)
		}
		record := []string{unit, rank, decimal(r.Score)}
		for _, n := range []int{r.Dispatched, r.Handled, r.HandledOnTime, r.OverdueOpen, r.Due} {
			record = append(record, strconv.Itoa(n))
		}
		record = append(record, decimal(r.HandlingRate), decimal(r.OnTimeRate), decimal(r.OverdueOpenRate),
			strconv.Itoa(r.Verifications), strconv.Itoa(r.Rework), decimal(r.ReworkRate), strconv.Itoa(r.Closed), decimal(r.ClosureRate),
			strconv.Itoa(r.ExtensionsApproved), decimal(r.ExtensionRate),
			strconv.Itoa(r.Escalations["1"]), strconv.Itoa(r.Escalations["2"]), strconv.Itoa(r.Escalations["3"]),
			strconv.Itoa(r.Urges), strconv.Itoa(r.NoFurtherAction), strconv.Itoa(r.Recurrences), strconv.Itoa(r.Listed),
			strconv.Itoa(r.Rated), strconv.Itoa(r.Satisfied), decimal(r.SatisfactionRate),
			decimal(r.AckMinutes.P50), decimal(r.AckMinutes.P90), decimal(r.ResolveMinutes.P50), decimal(r.ResolveMinutes.P90))
		if err := cw.Write(record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// newSheet starts CSV a spreadsheet opens as it is: UTF-8 with a byte
// order mark, a header row of columns, each as say says it (nil: as it is).
func newSheet(w io.Writer, columns []string, say func(string) string) (*csv.Writer, error) {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return nil, err
	}
	header := slices.Clone(columns)
	if say != nil {
		for i, c := range header {
			header[i] = say(c)
		}
	}
	cw := csv.NewWriter(w)
	return cw, cw.Write(header)
}

// decimal is a rate or score in a CSV cell: empty for none.
func decimal(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

// UTC returns b as a store returns it: its times in UTC, as duban keeps
// every time, and its lists empty rather than null.
func (b Bulletin) UTC() Bulletin {
	b.From, b.To, b.PublishedAt = b.From.UTC(), b.To.UTC(), b.PublishedAt.UTC()
	for _, l := range []*Listing{&b.RedList, &b.BlackList} {
		l.Units, l.Sites = orEmpty(l.Units), orEmpty(l.Sites)
	}
	b.Sanctions = orEmpty(b.Sanctions)
	return b
}

// orEmpty is s, or an empty slice for nil: a list JSON says as [].
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
