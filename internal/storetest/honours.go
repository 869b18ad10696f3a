package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/duban/duban"
)

// A bulletin is published once with its lists and the sanctions they
// bring, each imposed when the bulletin is published, by its event; a
// repeat publishes nothing and changes nothing. A follow-up is recorded
// once, as the sanction's second event; a stale one is refused.
func testHonours(t *testing.T, s Store) {
	ctx := context.Background()
	period := duban.Period{Name: "2026-11", From: time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)}
	sn := duban.Sanction{ID: duban.SanctionID("2026-11", "parks"), Period: "2026-11", PeriodTo: period.To, Unit: "parks",
		Action: duban.ActionYellowCard, RuleN: 3, Rule: duban.SanctionRule{When: duban.WhenBlackList, Times: 2, Within: 3, Action: duban.ActionYellowCard},
		Periods: []string{"2026-10", "2026-11"}, Status: duban.SanctionOpen, Version: 1}
	b := duban.Bulletin{Period: period, Rows: []duban.UnitRow{{Unit: "sanitation", Rank: new(1), Score: new(96.5)}, {Unit: "parks", Rank: new(2), Score: new(80.0)}},
		RedList:   duban.Listing{Units: []duban.ListedUnit{{Unit: "sanitation", Rank: 1, Score: 96.5}}, Sites: []duban.ListedSite{{Site: "market-1", Type: "market", Inspections: 2, MeanScore: 95}}},
		BlackList: duban.Listing{Units: []duban.ListedUnit{{Unit: "parks", Rank: 2, Score: 80}}, Sites: []duban.ListedSite{}},
		Sanctions: []duban.Sanction{sn}}
	before := time.Now().Add(-time.Minute)
	if ok, err := s.PublishBulletin(ctx, b); !ok || err != nil {
		t.Fatalf("published: %v %v", ok, err)
	}
	again := b
	again.Sanctions = []duban.Sanction{{ID: "2026-11.sanitation", Period: "2026-11", Unit: "sanitation", Status: duban.SanctionOpen, Version: 1}}
	again.BlackList = duban.Listing{}
	if ok, err := s.PublishBulletin(ctx, again); ok || err != nil {
		t.Fatalf("published again: %v %v", ok, err)
	}
	got, err := s.Bulletin(ctx, "2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if got.PublishedAt.Before(before) || len(got.Sanctions) != 1 {
		t.Fatalf("bulletin %+v", got)
	}
	imposed := got.Sanctions[0]
	if !imposed.Imposed.Equal(got.PublishedAt) {
		t.Fatalf("imposed at %v, the bulletin published at %v", imposed.Imposed, got.PublishedAt)
	}
	sn.Imposed = got.PublishedAt
	want := b
	want.PublishedAt, want.Sanctions = got.PublishedAt, []duban.Sanction{sn}
	if jsonOf(got) != jsonOf(want.UTC()) {
		t.Fatalf("bulletin read back:\n%s\nwant\n%s", jsonOf(got), jsonOf(want.UTC()))
	}
	list, err := s.Bulletins(ctx)
	if err != nil || len(list) != 1 || list[0].Rows != nil || jsonOf(list[0].BlackList) != jsonOf(b.BlackList) || len(list[0].Sanctions) != 1 {
		t.Fatalf("bulletins %+v %v", list, err)
	}

	for _, f := range []duban.SanctionFilter{{}, {Status: duban.SanctionOpen}, {Unit: "parks"}, {Period: "2026-11"}} {
		if l, err := s.Sanctions(ctx, f); err != nil || len(l) != 1 || l[0].ID != sn.ID {
			t.Errorf("sanctions of %+v: %+v %v", f, l, err)
		}
	}
	for _, f := range []duban.SanctionFilter{{Status: duban.SanctionDone}, {Unit: "sanitation"}, {Period: "2026-10"}} {
		if l, err := s.Sanctions(ctx, f); err != nil || len(l) != 0 {
			t.Errorf("sanctions of %+v: %+v %v", f, l, err)
		}
	}
	if _, err := s.Sanction(ctx, "2026-11.nobody"); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Errorf("an unknown sanction: %v", err)
	}
	done, err := imposed.Done(supervisor, "约谈已进行", period.To.Add(48*time.Hour), period.To.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSanction(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSanction(ctx, done); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("recorded twice: %v", err)
	}
	read, err := s.Sanction(ctx, sn.ID)
	if err != nil || jsonOf(read) != jsonOf(done) {
		t.Fatalf("after the follow-up: %+v %v", read, err)
	}
	events, err := s.SanctionEvents(ctx, sn.ID)
	if err != nil || len(events) != 2 || events[0].Type != duban.EventSanctionImposed || events[1].Type != duban.EventSanctionDone ||
		events[0].Actor != duban.System || events[1].Actor != supervisor || jsonOf(events[1].Data) != jsonOf(done) ||
		!events[0].OccurredAt.Equal(got.PublishedAt) {
		t.Fatalf("events %+v %v", events, err)
	}
	if l, _ := s.Sanctions(ctx, duban.SanctionFilter{Status: duban.SanctionOpen}); len(l) != 0 {
		t.Errorf("open after the follow-up: %+v", l)
	}
	if b, _ := s.Bulletin(ctx, "2026-11"); b.Sanctions[0].Status != duban.SanctionDone {
		t.Errorf("the bulletin's sanction after the follow-up: %+v", b.Sanctions[0])
	}
}
