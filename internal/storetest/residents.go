package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// testResidents: follow links, reporters known by phone, and the points
// ledger: earned with the confirm's events (once, even when the append is
// retried), spent within the balance, ranked on the monthly leaderboard.
func testResidents(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	if _, err := s.FollowedCase(ctx, sha256.Sum256([]byte("nothing"))); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("an unknown follow link: %v", err)
	}
	phoneA, phoneB := sha256.Sum256([]byte("13800138000")), sha256.Sum256([]byte("13900139000"))
	a := must(s.Reporter(ctx, phoneA, "138****8000", "resident:a", t0))
	if again := must(s.Reporter(ctx, phoneA, "138****8000", "resident:other", t0)); a != "resident:a" || again != a {
		t.Fatalf("reporter ids %q, %q: a returning phone keeps its id", a, again)
	}
	b := must(s.Reporter(ctx, phoneB, "139****9000", "resident:b", t0))
	if id, err := s.KnownReporter(ctx, phoneB); err != nil || id != b {
		t.Fatalf("known reporter %q, %v", id, err)
	}
	if _, err := s.KnownReporter(ctx, sha256.Sum256([]byte("1"))); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("an unknown phone: %v", err)
	}

	report := func(by string, at time.Time, earn int) string {
		w.n++
		id := fmt.Sprintf("0194f2a0-0000-7000-8000-%012d", w.n)
		tm := terms
		tm.SLA.Check = 2 * time.Hour
		w.do(id, duban.OpenCase{
			CommandMeta: duban.CommandMeta{By: duban.Principal{ID: by, Role: duban.RoleResident}}, CaseID: id, Category: "littering", Severity: duban.SeverityNormal,
			Description: "bags", Location: duban.Location{Lat: 39.9, Lon: 116.4}, Terms: tm, RequestHash: "h",
			Public: &duban.PublicOpen{Channel: duban.ChannelWeb, Categories: []string{"littering"}, RatingWindow: 7 * 24 * time.Hour},
		}, at, "open")
		confirm := duban.Confirm{CommandMeta: duban.CommandMeta{By: inspector}, Unit: "sanitation", Points: duban.PointsDue{PointsRule: duban.PointsRule{Confirmed: earn}}}
		_, out := w.do(id, confirm, at.Add(time.Minute), "confirm")
		// The same append again (a retried activity) earns nothing more.
		before := duban.Fold(duban.Case{}, must(s.EventsAfter(ctx, id, 0))[:1])
		if _, err := s.Append(ctx, duban.Append{CaseID: id, ExpectedVersion: 1, CommandID: "confirm", Events: out.Events, Before: before}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := report(a, t0, 10)
	if err := s.AddFollow(ctx, sha256.Sum256([]byte("token-1")), first, t0); err != nil {
		t.Fatal(err)
	}
	if id, err := s.FollowedCase(ctx, sha256.Sum256([]byte("token-1"))); err != nil || id != first {
		t.Fatalf("followed case %q, %v; want %s", id, err, first)
	}
	report(a, t0.Add(24*time.Hour), 10)
	report(b, t0.Add(25*time.Hour), 10)
	report(b, t0.Add(26*time.Hour), 10)
	report(b, t0.Add(27*time.Hour), 5)
	report("resident:anonymous", t0.Add(27*time.Hour), 10)
	report(a, t0.AddDate(0, 1, 0), 10) // next month

	day := t0.Add(24 * time.Hour)
	tally := must(s.Points(ctx, a, day, t0.AddDate(0, 0, -1)))
	if want := (duban.PointsTally{Today: 20, Month: 30, Balance: 30}); tally != want {
		t.Fatalf("a's points %+v, want %+v", tally, want)
	}
	if _, err := s.Redeem(ctx, duban.Redemption{Reporter: a, Points: 31, By: "supervisor-1", At: day}); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("redeeming beyond the balance: %v", err)
	}
	if left, err := s.Redeem(ctx, duban.Redemption{Reporter: a, Points: 25, Note: "公交卡", By: "supervisor-1", At: day}); err != nil || left != 5 {
		t.Fatalf("redeemed, %d left, %v; want 5", left, err)
	}
	if tally := must(s.Points(ctx, a, day, t0)); tally.Balance != 5 || tally.Month != 30 {
		t.Fatalf("after redeeming: %+v", tally)
	}
	board := must(s.Leaderboard(ctx, t0.AddDate(0, 0, -1), t0.AddDate(0, 1, -1), 10))
	want := []duban.Leader{{Rank: 1, Masked: "139****9000", Points: 25, Reports: 3}, {Rank: 2, Masked: "138****8000", Points: 20, Reports: 2}}
	if jsonOf(board) != jsonOf(want) {
		t.Fatalf("leaderboard %s, want %s (the anonymous reporter is not ranked, next month's points are not counted)", jsonOf(board), jsonOf(want))
	}
	if board := must(s.Leaderboard(ctx, t0.AddDate(0, 0, -1), t0.AddDate(0, 1, -1), 1)); len(board) != 1 {
		t.Fatalf("a leaderboard of 1: %d rows", len(board))
	}

	// The office's list of reports rated 不满意; the public's categories;
	// what changed since.
	unit := duban.CommandMeta{By: sanitation}
	at := t0.Add(48 * time.Hour)
	for i, cmd := range []duban.Command{duban.Acknowledge{CommandMeta: unit}, duban.Resolve{CommandMeta: unit, Note: "swept"},
		duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: true},
		duban.Rate{CommandMeta: duban.CommandMeta{By: duban.Principal{ID: a, Role: duban.RoleResident}}, Rating: duban.RatingDissatisfied}} {
		w.do(first, cmd, at.Add(time.Duration(i)*time.Minute), fmt.Sprint("c", i))
	}
	ids := func(f duban.CaseFilter) []string {
		listed, _, err := s.Cases(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range listed {
			out = append(out, l.ID)
		}
		return out
	}
	if got := ids(duban.CaseFilter{Rating: duban.RatingDissatisfied}); len(got) != 1 || got[0] != first {
		t.Fatalf("rated dissatisfied: %v, want [%s]", got, first)
	}
	if got := ids(duban.CaseFilter{Rating: duban.RatingSatisfied}); len(got) != 0 {
		t.Fatalf("rated satisfied: %v", got)
	}
	if got := ids(duban.CaseFilter{UpdatedFrom: at}); len(got) != 2 || got[1] != first { // and next month's report
		t.Fatalf("changed since %s: %v", at, got)
	}
	if got := ids(duban.CaseFilter{Categories: []string{"graffiti"}}); len(got) != 0 {
		t.Fatalf("of graffiti: %v", got)
	}
	if got := ids(duban.CaseFilter{Categories: []string{"graffiti", "littering"}}); len(got) != 7 {
		t.Fatalf("of graffiti or littering: %d cases, want 7", len(got))
	}

	// As Open311 shows them: newest first, the fields read off each case.
	public := must(s.PublicRequests(ctx, duban.CaseFilter{Categories: []string{"littering"}, Limit: 7}))
	if len(public) != 7 || !public[0].OpenedAt.After(public[1].OpenedAt) {
		t.Fatalf("%d public requests, first opened %v", len(public), public[0].OpenedAt)
	}
	c := duban.Fold(duban.Case{}, must(s.EventsAfter(ctx, first, 0)))
	wantPublic := app.PublicRequest{Status: duban.StatusClosed, Outcome: duban.OutcomeFixed, Category: "littering", Description: "bags", Lat: 39.9, Lon: 116.4,
		Unit: "sanitation", OpenedAt: c.OpenedAt, UpdatedAt: c.UpdatedAt, ResolveBy: c.Deadlines.ResolveBy}
	if got := public[6]; jsonOf(got) != jsonOf(wantPublic) {
		t.Fatalf("the first report as Open311 shows it:\n%s\nwant %s", jsonOf(got), jsonOf(wantPublic))
	}
	if got := must(s.PublicRequests(ctx, duban.CaseFilter{Categories: []string{"littering"}, Limit: 2})); len(got) != 2 {
		t.Fatalf("a page of 2: %d", len(got))
	}
}
