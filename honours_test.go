package duban_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

// honoursPolicy is SPEC's example of honours and sanctions, with the
// ladder's last rung, over five units.
const honoursPolicy = minimalPolicy + `  - {token: secret-supervisor, id: supervisor-1, role: supervisor}
  - {token: secret-clerk, id: clerk-1, role: unit, unit: parks}
honours:
  red_list: {top: 3, min_score: 90}
  black_list: {below: 85}
  sites: {red_list: {top: 2}, black_list: {below: 85}}
sanctions:
  - {when: black_list, times: 4, within: 6, action: accountability}
  - {when: black_list, times: 3, within: 6, action: interview}
  - {when: black_list, times: 2, within: 3, action: yellow_card}
  - {when: black_list, times: 1, action: notice}
`

func honoursPolicyOf(t *testing.T, text string) *duban.Policy {
	t.Helper()
	text = strings.Replace(text, "units:\n", "units:\n  - {id: parks, name: {zh: 园林局, en: Parks}}\n  - {id: roads, name: {zh: 市政局, en: Roads}}\n"+
		"  - {id: markets, name: {zh: 市场监管局, en: Markets}}\n  - {id: transport, name: {zh: 交通局, en: Transport}}\n", 1)
	p, err := duban.ParsePolicy("honours.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// monthOf is period n (1 to 12) of 2026, named as bulletins are.
func monthOf(n int) duban.Period {
	from := time.Date(2026, time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	return duban.Period{Name: from.Format("2006-01"), From: from, To: from.AddDate(0, 1, 0)}
}

// bulletinOf is period n's bulletin with the given scores (nil: nothing
// due, not ranked), ranked as Finish ranks: by score, then by unit.
func bulletinOf(n int, scores map[string]*float64) duban.Bulletin {
	b := duban.Bulletin{Period: monthOf(n), PublishedAt: monthOf(n).To.Add(time.Minute)}
	for unit, s := range scores {
		b.Rows = append(b.Rows, duban.UnitRow{Unit: unit, Score: s})
	}
	slices.SortFunc(b.Rows, func(x, y duban.UnitRow) int {
		switch {
		case x.Score == nil || y.Score == nil:
			return strings.Compare(fmt.Sprint(x.Score == nil, x.Unit), fmt.Sprint(y.Score == nil, y.Unit))
		case *x.Score != *y.Score:
			if *x.Score > *y.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Unit, y.Unit)
	})
	for i := range b.Rows {
		if b.Rows[i].Score != nil {
			b.Rows[i].Rank = new(i + 1)
		}
	}
	return b
}

// A year worked by hand: parks is black-listed in periods 2, 3 and 7,
// sanitation is always first and red, roads is black-listed in 9 to 12,
// markets has nothing due in period 5 (not ranked, not listed). The
// sanctions are exactly what the rules give, in order, with their reasons:
//
//	2: parks once in 6 periods, once in 3          → notice (rule 4), [02]
//	3: parks twice in the last 3                   → yellow_card (rule 3), [02 03]
//	7: parks 3 times in 02..07 (the last 6)        → interview (rule 2), [02 03 07]
//	9: roads once                                  → notice, [09]
//	10: roads twice in 08..10                      → yellow_card, [09 10]
//	11: roads 3 times in 06..11                    → interview, [09 10 11]
//	12: roads 4 times in 07..12                    → accountability (rule 1), [09 10 11 12]
func TestHonoursAYearByHand(t *testing.T) {
	p := honoursPolicyOf(t, honoursPolicy)
	score := func(v float64) *float64 { return &v }
	var published []duban.Bulletin
	type got struct {
		period, unit string
		action       duban.SanctionAction
		rule         int
		periods      string
	}
	var sanctions []got
	for n := 1; n <= 12; n++ {
		scores := map[string]*float64{"sanitation": score(98), "parks": score(88), "roads": score(86),
			"markets": score(91), "transport": score(89.5)}
		switch n {
		case 2, 3, 7:
			scores["parks"] = score(80.5)
		case 5:
			scores["markets"] = nil
		}
		if n >= 9 {
			scores["roads"] = score(84.9)
		}
		b := bulletinOf(n, scores)
		p.Honour(&b, nil, published)
		published = append(published, b)
		if len(b.RedList.Units) == 0 || b.RedList.Units[0].Unit != "sanitation" || b.RedList.Units[0].Rank != 1 {
			t.Errorf("period %d: red list %+v, want sanitation first", n, b.RedList.Units)
		}
		// markets (91) is red but in period 5; transport (89.5) is in the top
		// 3 only when markets is not ranked, and under min_score then.
		wantRed := []string{"sanitation", "markets"}
		if n == 5 {
			wantRed = []string{"sanitation"}
		}
		var red []string
		for _, l := range b.RedList.Units {
			red = append(red, l.Unit)
		}
		if !slices.Equal(red, wantRed) {
			t.Errorf("period %d: red list %v, want %v", n, red, wantRed)
		}
		for _, s := range b.Sanctions {
			if s.ID != s.Period+"."+s.Unit || s.Status != duban.SanctionOpen || !s.Imposed.Equal(b.PublishedAt) || s.Rule != p.Sanctions[s.RuleN-1] {
				t.Errorf("sanction %+v", s)
			}
			sanctions = append(sanctions, got{s.Period, s.Unit, s.Action, s.RuleN, strings.Join(s.Periods, " ")})
		}
	}
	want := []got{
		{"2026-02", "parks", duban.ActionNotice, 4, "2026-02"},
		{"2026-03", "parks", duban.ActionYellowCard, 3, "2026-02 2026-03"},
		{"2026-07", "parks", duban.ActionInterview, 2, "2026-02 2026-03 2026-07"},
		{"2026-09", "roads", duban.ActionNotice, 4, "2026-09"},
		{"2026-10", "roads", duban.ActionYellowCard, 3, "2026-09 2026-10"},
		{"2026-11", "roads", duban.ActionInterview, 2, "2026-09 2026-10 2026-11"},
		{"2026-12", "roads", duban.ActionAccountability, 1, "2026-09 2026-10 2026-11 2026-12"},
	}
	if !reflect.DeepEqual(sanctions, want) {
		t.Fatalf("sanctions over the year:\n%v\nwant\n%v", sanctions, want)
	}
	// The black list of period 7 names parks with its score and rank.
	if bl := published[6].BlackList.Units; len(bl) != 1 || bl[0] != (duban.ListedUnit{Unit: "parks", Rank: 5, Score: 80.5}) {
		t.Fatalf("black list of 2026-07: %+v", bl)
	}
	// Published again (a retry), a bulletin gives the same: it depends on
	// the bulletins before it only, in any order.
	again := bulletinOf(7, map[string]*float64{"parks": score(80.5), "sanitation": score(98)})
	earlier := slices.Clone(published)
	rand.Shuffle(len(earlier), func(i, j int) { earlier[i], earlier[j] = earlier[j], earlier[i] })
	p.Honour(&again, nil, earlier)
	if len(again.Sanctions) != 1 || strings.Join(again.Sanctions[0].Periods, " ") != "2026-02 2026-03 2026-07" {
		t.Fatalf("period 7 again, with later bulletins known: %+v", again.Sanctions)
	}
}

// Sites are listed by their inspections' mean score in the period: the
// best first on the red list, the worst first on the black one; a site
// not inspected on neither.
func TestHonoursOfSites(t *testing.T) {
	p := honoursPolicyOf(t, honoursPolicy)
	b := bulletinOf(1, nil)
	p.Honour(&b, []duban.SiteScore{
		{Site: "market-1", Type: "market", Inspections: 2, ScoreSum: 190},
		{Site: "lane-9", Type: "lane", Inspections: 1, ScoreSum: 70},
		{Site: "square", Type: "square", Inspections: 1, ScoreSum: 95},
		{Site: "toilet-3", Type: "toilet", Inspections: 3, ScoreSum: 240},
		{Site: "idle", Type: "lane"},
	}, nil)
	names := func(l []duban.ListedSite) (out []string) {
		for _, s := range l {
			out = append(out, fmt.Sprintf("%s %.1f", s.Site, s.MeanScore))
		}
		return out
	}
	if got, want := names(b.RedList.Sites), []string{"market-1 95.0", "square 95.0"}; !slices.Equal(got, want) {
		t.Errorf("sites' red list %v, want %v (ties: more inspections first)", got, want)
	}
	if got, want := names(b.BlackList.Sites), []string{"lane-9 70.0", "toilet-3 80.0"}; !slices.Equal(got, want) {
		t.Errorf("sites' black list %v, want %v", got, want)
	}
	if len(b.Sanctions) != 0 || len(b.RedList.Units) != 0 {
		t.Errorf("no units scored: %+v", b)
	}
}

// The same years, at random, against a walk of the rules written apart:
// for each period and each unit under the line, the first rule whose count
// of black-listed periods among the last `within` (all, without) reaches
// `times`. Rules, scores and gaps (nothing due) are drawn at random.
func TestHonoursAgainstANaiveWalk(t *testing.T) {
	units := []string{"sanitation", "parks", "roads", "markets", "transport"}
	actions := []string{"notice", "yellow_card", "interview", "accountability"}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 30))
		type rule struct {
			times, within int
			action        string
		}
		var rules []rule
		text := honoursPolicy[:strings.Index(honoursPolicy, "sanctions:")] + "sanctions:\n"
		for range 1 + r.IntN(4) {
			ru := rule{times: 1 + r.IntN(4), action: actions[r.IntN(len(actions))]}
			line := fmt.Sprintf("  - {when: black_list, times: %d, action: %s", ru.times, ru.action)
			if r.IntN(3) > 0 {
				ru.within = ru.times + r.IntN(4)
				line += fmt.Sprintf(", within: %d", ru.within)
			}
			rules = append(rules, ru)
			text += line + "}\n"
		}
		p := honoursPolicyOf(t, text)
		periods := 6 + r.IntN(18)
		// black[n][u]: unit u under 85 in period n; scored[n][u]: anything due.
		black := make([]map[string]bool, periods)
		var published []duban.Bulletin
		var got []string
		for n := range periods {
			black[n] = map[string]bool{}
			scores := map[string]*float64{}
			for _, u := range units {
				if r.IntN(8) == 0 {
					scores[u] = nil
					continue
				}
				v := float64(60 + r.IntN(41))
				scores[u] = &v
				black[n][u] = v < 85
			}
			b := bulletinOf(1+n%12, scores)
			b.Name, b.To = fmt.Sprintf("p%02d", n), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, n, 0)
			p.Honour(&b, nil, published)
			published = append(published, b)
			for _, s := range b.Sanctions {
				got = append(got, fmt.Sprintf("%s %s %s %d %v", s.Period, s.Unit, s.Action, s.RuleN, s.Periods))
			}
		}
		var want []string
		for n := range periods {
			// The bulletin lists the worst first: walk units by score, as
			// the black list is ordered.
			under := []string{}
			for _, row := range published[n].Rows {
				if black[n][row.Unit] {
					under = slices.Insert(under, 0, row.Unit)
				}
			}
			for _, u := range under {
				for i, ru := range rules {
					first := 0
					if ru.within > 0 {
						first = max(0, n-ru.within+1)
					}
					var made []string
					for m := first; m <= n; m++ {
						if black[m][u] {
							made = append(made, fmt.Sprintf("p%02d", m))
						}
					}
					if len(made) >= ru.times {
						want = append(want, fmt.Sprintf("p%02d %s %s %d %v", n, u, ru.action, i+1, made))
						break
					}
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d, rules %+v: sanctions\n%s\nwant\n%s", seed, rules, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// The office records a sanction's follow-up once; a unit may not, nor
// may a note be empty or the time be before the period's end or ahead.
func TestSanctionDone(t *testing.T) {
	p := honoursPolicyOf(t, honoursPolicy)
	b := bulletinOf(2, map[string]*float64{"parks": new(80.0)})
	p.Honour(&b, nil, nil)
	s := b.Sanctions[0]
	now := b.PublishedAt.Add(72 * time.Hour)
	supervisor, _ := p.Authenticate("secret-supervisor")
	clerk, _ := p.Authenticate("secret-clerk")
	var e *duban.Error
	if _, err := s.Done(clerk, "held", now, now); !errors.As(err, &e) || e.Code != duban.EFORBIDDEN {
		t.Errorf("a unit records its own follow-up: %v", err)
	}
	for _, tc := range []struct {
		note  string
		at    time.Time
		field string
	}{
		{" ", now, "note"},
		{strings.Repeat("约", duban.MaxFollowUpNote+1), now, "note"},
		{"held", now.Add(time.Hour), "at"},
		{"held", b.To.Add(-time.Second), "at"},
	} {
		_, err := s.Done(supervisor, tc.note, tc.at, now)
		if !errors.As(err, &e) || e.Code != duban.EINVALID || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
			t.Errorf("note %.10q at %v: %v, want %s refused", tc.note, tc.at, err, tc.field)
		}
	}
	done, err := s.Done(supervisor, " 已约谈园林局负责人 ", b.To.Add(time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != duban.SanctionDone || done.Version != 2 || done.FollowUp.Note != "已约谈园林局负责人" ||
		done.FollowUp.By != supervisor || !done.FollowUp.RecordedAt.Equal(now) {
		t.Fatalf("done %+v %+v", done, done.FollowUp)
	}
	if ev := done.Event(); ev.Type != duban.EventSanctionDone || ev.Version != 2 || ev.Actor != supervisor {
		t.Errorf("its event %+v", ev)
	}
	if ev := s.Event(); ev.Type != duban.EventSanctionImposed || ev.Version != 1 || ev.Actor != duban.System {
		t.Errorf("the imposing event %+v", ev)
	}
	if _, err := done.Done(supervisor, "again", now, now); !errors.As(err, &e) || e.Code != duban.ECONFLICT {
		t.Errorf("followed up twice: %v", err)
	}
}

// duban policy check names each bad honour or sanction by file and line.
func TestHonoursPolicyProblems(t *testing.T) {
	text := minimalPolicy + `honours:
  red_list: {min_score: 120}
  black_list: {}
sanctions:
  - {when: red_list, times: 0, action: fine}
  - {when: black_list, times: 3, within: 2, action: notice}
`
	_, err := duban.ParsePolicy("city.yaml", []byte(text))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"city.yaml:22: honours.red_list.top: is required",
		"city.yaml:22: honours.red_list.min_score: must be a score from 0 to 100, not 120",
		"city.yaml:23: honours.black_list.below: is required",
		"city.yaml:25: sanctions[0].when: unknown \"red_list\"",
		"city.yaml:25: sanctions[0].times: must be 1 or more, not 0",
		"city.yaml:25: sanctions[0].action: unknown action \"fine\"",
		"city.yaml:26: sanctions[1].within: must be at least times (3)",
		"city.yaml:24: sanctions: sanctions count the black list",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the problems lack %q:\n%v", want, err)
		}
	}
	if p := duban.DefaultPolicy(); len(p.Sanctions) != 4 || p.Honours.Units.Top != 3 || *p.Honours.Units.Below != 85 || *p.Honours.Sites.Below != 85 {
		t.Errorf("the default policy's honours %+v and sanctions %+v", p.Honours, p.Sanctions)
	}
}

// Sanctions are listed the latest period first, then the heaviest action.
func TestSortSanctions(t *testing.T) {
	nov, dec := monthOf(11).To, monthOf(12).To
	list := []duban.Sanction{
		{Unit: "a", PeriodTo: nov, Action: duban.ActionInterview},
		{Unit: "b", PeriodTo: dec, Action: duban.ActionNotice},
		{Unit: "c", PeriodTo: dec, Action: duban.ActionYellowCard},
		{Unit: "a", PeriodTo: dec, Action: duban.ActionNotice},
	}
	duban.SortSanctions(list)
	var got []string
	for _, s := range list {
		got = append(got, s.Unit+" "+string(s.Action))
	}
	if want := []string{"c yellow_card", "a notice", "b notice", "a interview"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// A unit under the black list's line is never on the red list, however
// few units are ranked; nor is a site.
func TestBlackIsNeverRed(t *testing.T) {
	p := honoursPolicyOf(t, strings.Replace(honoursPolicy, "red_list: {top: 3, min_score: 90}", "red_list: {top: 3}", 1))
	b := bulletinOf(1, map[string]*float64{"parks": new(84.0), "roads": new(91.0)})
	p.Honour(&b, []duban.SiteScore{{Site: "lane", Type: "lane", Inspections: 1, ScoreSum: 80}}, nil)
	if len(b.RedList.Units) != 1 || b.RedList.Units[0].Unit != "roads" || len(b.BlackList.Units) != 1 || b.BlackList.Units[0].Unit != "parks" {
		t.Fatalf("red %+v, black %+v", b.RedList.Units, b.BlackList.Units)
	}
	if len(b.RedList.Sites) != 0 || len(b.BlackList.Sites) != 1 {
		t.Fatalf("sites: red %+v, black %+v", b.RedList.Sites, b.BlackList.Sites)
	}
}
