package duban

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Calendar kinds. A 24x7 calendar counts every instant; a business calendar
// counts only working hours.
const (
	Calendar24x7     = "24x7"
	CalendarBusiness = "business"
)

// Calendar is what deadlines are counted on. A business calendar works on
// Days, in the Hours windows of each working day, local time in TimeZone;
// Holidays are whole days off (法定节假日) and Workdays are make-up working
// days (调休) on what would be a day off, with the same hours. A holiday wins
// over a weekday; a make-up day over the weekend.
//
// Working time is real elapsed time inside the windows, so a window that
// spans a daylight-saving change is as long as the clock says it is: a
// 00:00-24:00 day lasts 23 hours when clocks go forward and 25 when they go
// back. A window edge that falls inside the hour a change skips or repeats
// is read once, as Go's time.Date reads it; no office's hours sit there.
type Calendar struct {
	Kind     string
	TimeZone string
	Days     []time.Weekday
	Hours    []Window
	Holidays []string // dates, "2006-01-02", sorted
	Workdays []string // dates, "2006-01-02", sorted
}

// Window is a span of a working day in minutes after local midnight:
// [Start, End), End at most 24*60.
type Window struct {
	Start, End int
}

func (w Window) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

// ParseWindow reads "08:30-12:00". The end may be 24:00.
func ParseWindow(s string) (Window, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	start, err1 := parseClock(from)
	end, err2 := parseClock(to)
	switch {
	case !ok || err1 != nil || err2 != nil:
		return Window{}, fmt.Errorf("bad hours %q: want HH:MM-HH:MM, e.g. 08:30-12:00", s)
	case end <= start:
		return Window{}, fmt.Errorf("hours %q end before they start", s)
	}
	return Window{start, end}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

var weekdayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWeekday reads "mon", "tue", ... "sun".
func ParseWeekday(s string) (time.Weekday, error) {
	if i := slices.Index(weekdayNames, strings.ToLower(strings.TrimSpace(s))); i >= 0 {
		return time.Weekday(i), nil
	}
	return 0, fmt.Errorf("unknown day %q: use mon, tue, wed, thu, fri, sat or sun", s)
}

// calendarJSON is a calendar as events and the projection store it.
type calendarJSON struct {
	Kind     string   `json:"kind"`
	TimeZone string   `json:"timezone,omitempty"`
	Days     []string `json:"days,omitempty"`
	Hours    []string `json:"hours,omitempty"`
	Holidays []string `json:"holidays,omitempty"`
	Workdays []string `json:"workdays,omitempty"`
}

// MarshalJSON writes the calendar as a policy writes it.
func (c Calendar) MarshalJSON() ([]byte, error) {
	out := calendarJSON{Kind: c.Kind, TimeZone: c.TimeZone, Holidays: c.Holidays, Workdays: c.Workdays}
	for _, d := range c.Days {
		out.Days = append(out.Days, weekdayNames[d])
	}
	for _, w := range c.Hours {
		out.Hours = append(out.Hours, w.String())
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Calendar) UnmarshalJSON(b []byte) error {
	var in calendarJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*c = Calendar{Kind: in.Kind, TimeZone: in.TimeZone, Holidays: in.Holidays, Workdays: in.Workdays}
	for _, s := range in.Days {
		d, err := ParseWeekday(s)
		if err != nil {
			return err
		}
		c.Days = append(c.Days, d)
	}
	for _, s := range in.Hours {
		w, err := ParseWindow(s)
		if err != nil {
			return err
		}
		c.Hours = append(c.Hours, w)
	}
	return nil
}

// locations caches time zones: loading one reads the zone database.
var locations sync.Map // name → *time.Location

// zone is the time zone name, loaded once. One that does not load is UTC:
// policies are checked when they are parsed, so theirs always load.
func zone(name string) *time.Location {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l = time.UTC
	}
	locations.Store(name, l)
	return l
}

func (c Calendar) location() *time.Location { return zone(c.TimeZone) }

// maxDays bounds how far a calendar looks for working time: a century.
const maxDays = 366 * 100

// working reports whether the local date is a working day.
func (c Calendar) working(date time.Time) bool {
	key := date.Format(time.DateOnly)
	if _, found := slices.BinarySearch(c.Holidays, key); found {
		return false
	}
	if _, found := slices.BinarySearch(c.Workdays, key); found {
		return true
	}
	return slices.Contains(c.Days, date.Weekday())
}

// windows returns the working windows of the local date as instants.
func (c Calendar) windows(date time.Time) [][2]time.Time {
	if !c.working(date) {
		return nil
	}
	y, m, d := date.Date()
	out := make([][2]time.Time, len(c.Hours))
	for i, w := range c.Hours {
		out[i] = [2]time.Time{
			time.Date(y, m, d, 0, w.Start, 0, 0, date.Location()),
			time.Date(y, m, d, 0, w.End, 0, 0, date.Location()),
		}
	}
	return out
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// Add returns the instant d of working time after t, or before t when d is
// negative. A deadline that fills a window exactly falls on its end (12:00,
// not the next window's start); counting from outside working time starts
// at the next window.
func (c Calendar) Add(t time.Time, d time.Duration) time.Time {
	switch {
	case c.Kind != CalendarBusiness:
		return t.Add(d)
	case d == 0:
		return t.UTC()
	case d > 0:
		return c.forward(t, d)
	}
	return c.backward(t, -d)
}

func (c Calendar) forward(t time.Time, d time.Duration) time.Time {
	day := midnight(t.In(c.location()))
	for range maxDays {
		for _, w := range c.windows(day) {
			if !w[1].After(t) {
				continue
			}
			from := w[0]
			if t.After(from) {
				from = t
			}
			if avail := w[1].Sub(from); d <= avail {
				return from.Add(d).UTC()
			} else {
				d -= avail
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return t.AddDate(100, 0, 0).UTC()
}

func (c Calendar) backward(t time.Time, d time.Duration) time.Time {
	day := midnight(t.In(c.location()))
	for range maxDays {
		ws := c.windows(day)
		for i := len(ws) - 1; i >= 0; i-- {
			w := ws[i]
			if !w[0].Before(t) {
				continue
			}
			to := w[1]
			if t.Before(to) {
				to = t
			}
			if avail := to.Sub(w[0]); d <= avail {
				return to.Add(-d).UTC()
			} else {
				d -= avail
			}
		}
		day = day.AddDate(0, 0, -1)
	}
	return t.AddDate(-100, 0, 0).UTC()
}

// Between returns the working time from a to b; zero when b is not after a.
func (c Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if c.Kind != CalendarBusiness {
		return b.Sub(a)
	}
	var sum time.Duration
	for day := midnight(a.In(c.location())); day.Before(b); day = day.AddDate(0, 0, 1) {
		for _, w := range c.windows(day) {
			from, to := w[0], w[1]
			if a.After(from) {
				from = a
			}
			if b.Before(to) {
				to = b
			}
			if to.After(from) {
				sum += to.Sub(from)
			}
		}
	}
	return sum
}

// OpenAt reports whether t falls in working time, and if not, when working
// time next begins. A 24x7 calendar is always open.
func (c Calendar) OpenAt(t time.Time) (open bool, next time.Time) {
	if c.Kind != CalendarBusiness {
		return true, t
	}
	day := midnight(t.In(c.location()))
	for range maxDays {
		for _, w := range c.windows(day) {
			if !w[1].After(t) {
				continue
			}
			if !w[0].After(t) {
				return true, t
			}
			return false, w[0].UTC()
		}
		day = day.AddDate(0, 0, 1)
	}
	return false, t.AddDate(100, 0, 0).UTC()
}
