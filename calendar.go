package duban

import "time"

// Calendar kinds. A 24x7 calendar counts every instant; a business calendar
// counts only working hours.
const (
	Calendar24x7     = "24x7"
	CalendarBusiness = "business"
)

// Calendar is what deadlines are counted on.
type Calendar struct {
	Kind string `json:"kind"`
}

// Add returns the instant d of counted time after t (before t when d is
// negative).
func (c Calendar) Add(t time.Time, d time.Duration) time.Time {
	return t.Add(d)
}
