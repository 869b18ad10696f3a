package duban_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/duban/duban"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")
var berlin, _ = time.LoadLocation("Europe/Berlin")

// campaignCalendar is SPEC.md's business calendar, with 2026's National Day
// holidays (Thu 1 to Wed 7 October) and their make-up days (Sun 27 September,
// Sat 10 October).
func campaignCalendar() duban.Calendar {
	return duban.Calendar{
		Kind:     duban.CalendarBusiness,
		TimeZone: "Asia/Shanghai",
		Days:     []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Hours:    []duban.Window{{8*60 + 30, 12 * 60}, {14*60 + 30, 18 * 60}},
		Holidays: []string{"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"},
		Workdays: []string{"2026-09-27", "2026-10-10"},
	}
}

func local(loc *time.Location, date string, hh, mm int) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		panic(err)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, loc)
}

func TestBusinessCalendarAdd(t *testing.T) {
	cal := campaignCalendar()
	at := func(date string, hh, mm int) time.Time { return local(shanghai, date, hh, mm) }
	tests := []struct {
		name string
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"SPEC: Friday 17:00 + 4h is Monday 11:30", at("2026-11-06", 17, 0), 4 * time.Hour, at("2026-11-09", 11, 30)},
		{"SPEC: Tuesday 11:00 + 4h is 17:30", at("2026-11-10", 11, 0), 4 * time.Hour, at("2026-11-10", 17, 30)},
		{"filling a window ends on its edge", at("2026-11-10", 11, 0), time.Hour, at("2026-11-10", 12, 0)},
		{"from a window's end the next one counts", at("2026-11-10", 12, 0), time.Hour, at("2026-11-10", 15, 30)},
		{"lunch does not count", at("2026-11-10", 13, 0), 30 * time.Minute, at("2026-11-10", 15, 0)},
		{"before opening", at("2026-11-10", 6, 0), 30 * time.Minute, at("2026-11-10", 9, 0)},
		{"at night", at("2026-11-10", 20, 0), time.Hour, at("2026-11-11", 9, 30)},
		{"on a Saturday", at("2026-11-07", 10, 0), time.Hour, at("2026-11-09", 9, 30)},
		{"a whole working day", at("2026-11-10", 8, 30), 7 * time.Hour, at("2026-11-10", 18, 0)},
		{"across the National Day holidays", at("2026-09-30", 17, 0), 4 * time.Hour, at("2026-10-08", 11, 30)},
		{"a make-up Sunday counts", at("2026-09-25", 17, 0), 4 * time.Hour, at("2026-09-27", 11, 30)},
		{"a make-up Saturday counts", at("2026-10-09", 17, 0), 2 * time.Hour, at("2026-10-10", 9, 30)},
		{"100 working days: 20 weeks of weekdays", at("2026-11-09", 8, 30), 700 * time.Hour, at("2027-03-26", 18, 0)},
		{"backward across a weekend", at("2026-11-09", 9, 0), -time.Hour, at("2026-11-06", 17, 30)},
		{"backward to a window's start", at("2026-11-10", 14, 30), -30 * time.Minute, at("2026-11-10", 11, 30)},
		{"backward over the holidays", at("2026-10-08", 9, 0), -time.Hour, at("2026-09-30", 17, 30)},
		{"zero is no time at all", at("2026-11-07", 10, 0), 0, at("2026-11-07", 10, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cal.Add(tt.from, tt.d)
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("Add(%s, %s) = %s, want %s", tt.from, tt.d, got.In(shanghai), tt.want)
			}
		})
	}
}

// 2026's daylight-saving changes in Europe/Berlin: clocks go forward on
// Sunday 29 March and back on Sunday 25 October.
func TestBusinessCalendarDaylightSaving(t *testing.T) {
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	office := duban.Calendar{Kind: duban.CalendarBusiness, TimeZone: "Europe/Berlin", Days: weekdays, Hours: []duban.Window{{8 * 60, 17 * 60}}}
	at := func(date string, hh, mm int) time.Time { return local(berlin, date, hh, mm) }
	if got, want := office.Add(at("2026-03-27", 16, 0), 2*time.Hour), at("2026-03-30", 9, 0); !got.Equal(want) {
		t.Errorf("into summer time: %s, want %s", got.In(berlin), want)
	}
	if got, want := office.Add(at("2026-10-23", 16, 0), 2*time.Hour), at("2026-10-26", 9, 0); !got.Equal(want) {
		t.Errorf("into winter time: %s, want %s", got.In(berlin), want)
	}
	// A round-the-clock business calendar counts the real hours of a day:
	// 23 on the day clocks go forward, 25 on the day they go back.
	allDays := append(slices.Clone(weekdays), time.Saturday, time.Sunday)
	always := duban.Calendar{Kind: duban.CalendarBusiness, TimeZone: "Europe/Berlin", Days: allDays, Hours: []duban.Window{{0, 24 * 60}}}
	if got := always.Between(at("2026-03-29", 0, 0), at("2026-03-30", 0, 0)); got != 23*time.Hour {
		t.Errorf("29 March has %s", got)
	}
	if got := always.Between(at("2026-10-25", 0, 0), at("2026-10-26", 0, 0)); got != 25*time.Hour {
		t.Errorf("25 October has %s", got)
	}
	if got, want := always.Add(at("2026-03-28", 12, 0), 24*time.Hour), at("2026-03-29", 13, 0); !got.Equal(want) {
		t.Errorf("24 hours from Saturday noon: %s, want %s", got.In(berlin), want)
	}
}

func TestBusinessCalendarBetween(t *testing.T) {
	cal := campaignCalendar()
	at := func(date string, hh, mm int) time.Time { return local(shanghai, date, hh, mm) }
	tests := []struct {
		from, to time.Time
		want     time.Duration
	}{
		{at("2026-11-10", 11, 0), at("2026-11-10", 15, 0), 90 * time.Minute},
		{at("2026-11-06", 17, 0), at("2026-11-09", 9, 0), 90 * time.Minute},
		{at("2026-09-30", 8, 30), at("2026-10-08", 8, 30), 7 * time.Hour},
		{at("2026-11-07", 9, 0), at("2026-11-08", 17, 0), 0},
		{at("2026-11-10", 15, 0), at("2026-11-10", 11, 0), 0},
	}
	for _, tt := range tests {
		if got := cal.Between(tt.from, tt.to); got != tt.want {
			t.Errorf("Between(%s, %s) = %s, want %s", tt.from, tt.to, got, tt.want)
		}
	}
	if got := (duban.Calendar{Kind: duban.Calendar24x7}).Between(at("2026-11-07", 9, 0), at("2026-11-08", 17, 0)); got != 32*time.Hour {
		t.Errorf("24x7: %s", got)
	}
}

// Against a reference that walks minute by minute: Add lands where the
// reference does, never in non-working time, and Between measures it back.
// The Berlin calendar works odd days and hours, across both clock changes,
// but no window edge falls in the hours a change skips or repeats (see
// Calendar).
func TestBusinessCalendarAgainstMinuteByMinute(t *testing.T) {
	for _, cal := range []duban.Calendar{campaignCalendar(), {
		Kind: duban.CalendarBusiness, TimeZone: "Europe/Berlin",
		Days:  []time.Weekday{time.Monday, time.Wednesday, time.Saturday, time.Sunday},
		Hours: []duban.Window{{0, 60}, {4 * 60, 5*60 + 30}, {22 * 60, 24 * 60}},
	}} {
		loc, _ := time.LoadLocation(cal.TimeZone)
		working := func(m time.Time) bool { // is the minute starting at m working time?
			l := m.In(loc)
			day := l.Format(time.DateOnly)
			isDay := slices.Contains(cal.Days, l.Weekday())
			if _, ok := slices.BinarySearch(cal.Holidays, day); ok {
				isDay = false
			}
			if _, ok := slices.BinarySearch(cal.Workdays, day); ok {
				isDay = true
			}
			minute := l.Hour()*60 + l.Minute()
			return isDay && slices.ContainsFunc(cal.Hours, func(w duban.Window) bool { return minute >= w.Start && minute < w.End })
		}
		rng := rand.New(rand.NewPCG(1, 2))
		base := local(shanghai, "2026-09-20", 0, 0)
		for range 300 {
			from := base.Add(time.Duration(rng.IntN(60*24*60)) * time.Minute) // within 60 days, whole minutes
			minutes := rng.IntN(60 * 60)                                      // up to 60 working hours
			want := from
			for left := minutes; left > 0; want = want.Add(time.Minute) {
				if working(want) {
					left--
				}
			}
			if minutes == 0 {
				want = from
			}
			d := time.Duration(minutes) * time.Minute
			got := cal.Add(from, d)
			if !got.Equal(want) {
				t.Fatalf("%s: Add(%s, %s) = %s, want %s", cal.TimeZone, from.In(loc), d, got.In(loc), want.In(loc))
			}
			if minutes > 0 && !working(got.Add(-time.Minute)) {
				t.Fatalf("%s: Add(%s, %s) = %s ends outside working time", cal.TimeZone, from.In(loc), d, got.In(loc))
			}
			if back := cal.Between(from, got); back != d {
				t.Fatalf("%s: Between(%s, %s) = %s, want %s", cal.TimeZone, from.In(loc), got.In(loc), back, d)
			}
			if minutes > 0 {
				if start := cal.Add(got, -d); cal.Between(start, got) != d || start.Before(from) {
					t.Fatalf("%s: backward from %s by %s gives %s", cal.TimeZone, got.In(loc), d, start.In(loc))
				}
			}
		}
	}
}

// The ladder of a business-calendar case: offsets in working time, the
// warning at -25% of the stage's own duration.
func TestBusinessLadder(t *testing.T) {
	at := func(date string, hh, mm int) time.Time { return local(shanghai, date, hh, mm) }
	cmd := openCmd("sanitation")
	cmd.Terms.Calendar = campaignCalendar()
	cmd.Terms.SLA = duban.SLA{Acknowledge: 30 * time.Minute, Resolve: 4 * time.Hour, Verify: 2 * time.Hour}
	c, _ := apply(t, duban.Case{}, cmd, at("2026-11-06", 17, 0)) // a Friday, 17:00
	if want := at("2026-11-06", 17, 30); !c.Deadlines.AcknowledgeBy.Equal(want) {
		t.Fatalf("acknowledge by %s, want %s", c.Deadlines.AcknowledgeBy.In(shanghai), want)
	}
	if want := at("2026-11-09", 11, 30); !c.Deadlines.ResolveBy.Equal(want) {
		t.Fatalf("resolve by %s, want %s", c.Deadlines.ResolveBy.In(shanghai), want)
	}
	c, _ = apply(t, c, duban.Acknowledge{CommandMeta: by(sanitation)}, at("2026-11-06", 17, 10))
	var got []time.Time
	for _, s := range c.Ladder() {
		got = append(got, s.At.In(shanghai))
	}
	want := []time.Time{
		at("2026-11-09", 10, 30), // warning: -25% of 4h is one working hour before
		at("2026-11-09", 11, 30), // level 1 at the deadline
		at("2026-11-09", 18, 0),  // level 2, 4 working hours later: 30m before noon, 3h30 after
		at("2026-11-12", 17, 0),  // level 3, 24 working hours later: 4h Monday, 7h Tuesday and Wednesday, 6h Thursday
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Fatalf("ladder %v\nwant %v", got, want)
		}
	}
}

func TestCalendarJSONRoundTrip(t *testing.T) {
	cal := campaignCalendar()
	b, err := json.Marshal(cal)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"business","timezone":"Asia/Shanghai","days":["mon","tue","wed","thu","fri"],"hours":["08:30-12:00","14:30-18:00"],"holidays":["2026-10-01","2026-10-02","2026-10-03","2026-10-04","2026-10-05","2026-10-06","2026-10-07"],"workdays":["2026-09-27","2026-10-10"]}`
	if string(b) != want {
		t.Fatalf("JSON %s", b)
	}
	var back duban.Calendar
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, cal) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

// Working time is open in its windows; outside them, it says when it opens
// next: after a holiday, on a make-up workday.
func TestOpenAt(t *testing.T) {
	p, err := duban.ParsePolicy("spec.yaml", []byte(specPolicy))
	if err != nil {
		t.Fatal(err)
	}
	cal := p.Calendar
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, sh)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		now  string
		open bool
		next string
	}{
		{"2026-11-03 09:00", true, "2026-11-03 09:00"},
		{"2026-11-03 12:30", false, "2026-11-03 14:30"},
		{"2026-11-03 22:00", false, "2026-11-04 08:30"},
		{"2026-11-06 18:00", false, "2026-11-09 08:30"}, // Friday evening: Monday
		{"2026-09-30 20:00", false, "2026-10-05 08:30"}, // the holidays of 1 and 2 October, then the weekend
		{"2026-09-26 10:00", false, "2026-09-27 08:30"}, // Saturday, before the make-up Sunday
	} {
		open, next := cal.OpenAt(at(tc.now))
		if open != tc.open || !next.Equal(at(tc.next)) {
			t.Errorf("OpenAt(%s) = %v, %s; want %v, %s", tc.now, open, next.In(sh).Format("2006-01-02 15:04"), tc.open, tc.next)
		}
	}
	if open, _ := (duban.Calendar{Kind: duban.Calendar24x7}).OpenAt(at("2026-11-03 03:00")); !open {
		t.Error("a 24x7 calendar is closed")
	}
}
