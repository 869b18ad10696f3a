package duban

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Terms are the rules one case runs by: its stage durations, the calendar they
// are counted on and the escalation ladder. They are taken from the policy when
// the case is opened and recorded in its first event, so the case keeps them
// for its whole life whatever later policies say.
type Terms struct {
	SLA      SLA      `json:"sla"`
	Calendar Calendar `json:"calendar"`
	Ladder   []Rung   `json:"ladder"`
}

// SLA is how long each stage may take, counted on the case's calendar:
// assign from the moment a case is unrouted or disputed, acknowledge and
// resolve from dispatch, verify from resolution.
type SLA struct {
	// Check is how long the office has to check a resident's report; 0
	// for every other case.
	Check       time.Duration
	Assign      time.Duration // 0 in terms recorded before it existed: no assign deadline
	Acknowledge time.Duration
	Resolve     time.Duration
	Verify      time.Duration
}

// For returns the duration of stage.
func (s SLA) For(stage Stage) time.Duration {
	switch stage {
	case StageCheck:
		return s.Check
	case StageAssign:
		return s.Assign
	case StageAcknowledge:
		return s.Acknowledge
	case StageResolve:
		return s.Resolve
	case StageVerify:
		return s.Verify
	}
	return 0
}

type slaJSON struct {
	Check       string `json:"check,omitempty"`
	Assign      string `json:"assign,omitempty"`
	Acknowledge string `json:"acknowledge"`
	Resolve     string `json:"resolve"`
	Verify      string `json:"verify"`
}

// MarshalJSON writes durations as Go duration strings ("30m0s"), which people
// reading an event can understand. Terms without an assign deadline are
// written as they were before it existed.
func (s SLA) MarshalJSON() ([]byte, error) {
	raw := slaJSON{Acknowledge: s.Acknowledge.String(), Resolve: s.Resolve.String(), Verify: s.Verify.String()}
	if s.Assign != 0 {
		raw.Assign = s.Assign.String()
	}
	if s.Check != 0 {
		raw.Check = s.Check.String()
	}
	return json.Marshal(raw)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *SLA) UnmarshalJSON(b []byte) error {
	var raw slaJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var err error
	for _, f := range []struct {
		text string
		dst  *time.Duration
	}{{raw.Acknowledge, &s.Acknowledge}, {raw.Resolve, &s.Resolve}, {raw.Verify, &s.Verify}} {
		if *f.dst, err = time.ParseDuration(f.text); err != nil {
			return err
		}
	}
	s.Assign, s.Check = 0, 0
	if raw.Assign != "" {
		if s.Assign, err = time.ParseDuration(raw.Assign); err != nil {
			return err
		}
	}
	if raw.Check != "" {
		s.Check, err = time.ParseDuration(raw.Check)
	}
	return err
}

// Rung is one step of the escalation ladder, placed relative to the running
// stage's deadline. Level 0 is the warning before the deadline; levels 1, 2, 3
// are escalations at and after it.
type Rung struct {
	At    Offset `json:"at"`
	Level int    `json:"level"`
}

// Offset is where a rung sits relative to a deadline: a working-time duration
// ("4h", "-30m") or a percentage of the stage's own duration ("-25%").
type Offset struct {
	Duration time.Duration
	Percent  float64
	Relative bool // Percent applies, not Duration
}

// ParseOffset reads "4h", "-30m", "0s" or "-25%".
func ParseOffset(s string) (Offset, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		pct, err := strconv.ParseFloat(p, 64)
		if err != nil || pct != pct || pct < -1000 || pct > 1000 {
			return Offset{}, fmt.Errorf("bad percentage %q: want e.g. -25%%", s)
		}
		return Offset{Percent: pct, Relative: true}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Offset{}, fmt.Errorf("bad offset %q: want a duration such as 4h or -30m, or a percentage such as -25%%", s)
	}
	return Offset{Duration: d}, nil
}

// Of returns the offset as a duration for a stage lasting stage.
func (o Offset) Of(stage time.Duration) time.Duration {
	if o.Relative {
		return time.Duration(float64(stage) * o.Percent / 100)
	}
	return o.Duration
}

// Negative reports whether the offset places a rung before the deadline.
func (o Offset) Negative() bool {
	if o.Relative {
		return o.Percent < 0
	}
	return o.Duration < 0
}

func (o Offset) String() string {
	if o.Relative {
		return strconv.FormatFloat(o.Percent, 'f', -1, 64) + "%"
	}
	return o.Duration.String()
}

// MarshalText writes the offset as ParseOffset reads it.
func (o Offset) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an offset with ParseOffset.
func (o *Offset) UnmarshalText(b []byte) error {
	v, err := ParseOffset(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// Step is a rung placed in time for one stage and deadline.
type Step struct {
	Stage    Stage
	Deadline time.Time
	Level    int // 0 is the warning
	At       time.Time
}

// steps places the ladder's rungs around deadline for stage, earliest first,
// the warning before an escalation due at the same instant.
func (t Terms) steps(stage Stage, deadline time.Time) []Step {
	out := make([]Step, 0, len(t.Ladder))
	for _, r := range t.Ladder {
		at := t.Calendar.Add(deadline, r.At.Of(t.SLA.For(stage)))
		out = append(out, Step{Stage: stage, Deadline: deadline, Level: r.Level, At: at})
	}
	slices.SortStableFunc(out, func(a, b Step) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return a.Level - b.Level
	})
	return out
}
