package duban

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Site is a place the inspection team sweeps (点位): a market, a back
// street, a bus stop. Sites are data, not policy: an office manages
// hundreds, and they change. A site is the fold of its events with
// EvolveSite; DecideSite alone decides what a command does to it.
type Site struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	SiteFields
	Active    bool      `json:"active"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SiteFields are what an office says of a site.
type SiteFields struct {
	Name string `json:"name"`
	// Type is a site type of the policy: its checklist is the site's.
	Type     string   `json:"type"`
	Area     string   `json:"area,omitempty"`
	Location Location `json:"location"`
	// Unit is the unit answerable for the site (包保单位); the cases an
	// inspection opens there go to it.
	Unit string `json:"unit,omitempty"`
	// Head is the site's point-chief (点位长), shown to the office only.
	Head *SiteHead `json:"head,omitempty"`
}

// SiteHead is a site's point-chief (点位长).
type SiteHead struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// siteIDPattern is a site's id: what an office's spreadsheet numbers its
// sites with (NM-001, 3.12), safe in a URL's path.
var siteIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Limits on what a site says.
const (
	MaxSiteName  = 100 // runes
	MaxHeadName  = 50  // runes
	MaxHeadPhone = 30  // runes
)

// SiteEvent is one change to a site, appended, never changed.
type SiteEvent struct {
	SiteID     string        `json:"site_id"`
	Version    int64         `json:"version"`
	Type       string        `json:"type"`
	OccurredAt time.Time     `json:"occurred_at"`
	Actor      Principal     `json:"actor"`
	Data       SiteEventData `json:"data"`
}

// SiteEventData is a site event's payload: SiteRegistered, SiteChanged or
// SiteRetired.
type SiteEventData interface{ siteEventType() string }

// SiteRegistered adds a site.
type SiteRegistered struct{ SiteFields }

// SiteChanged says what a site is now (every field, as a PATCH leaves it).
type SiteChanged struct{ SiteFields }

// SiteRetired takes a site out of rounds; its history stays.
type SiteRetired struct {
	Reason string `json:"reason,omitempty"`
}

func (SiteRegistered) siteEventType() string { return "SiteRegistered" }
func (SiteChanged) siteEventType() string    { return "SiteChanged" }
func (SiteRetired) siteEventType() string    { return "SiteRetired" }

// EvolveSite applies e to s.
func EvolveSite(s Site, e SiteEvent) Site {
	switch d := e.Data.(type) {
	case SiteRegistered:
		s = Site{ID: e.SiteID, SiteFields: d.SiteFields, Active: true}
	case SiteChanged:
		s.SiteFields = d.SiteFields
	case SiteRetired:
		s.Active = false
	}
	s.Version, s.UpdatedAt = e.Version, e.OccurredAt
	return s
}

// SiteCommand is an office's change to a site: register it, change it
// (Fields whole, as they are to be), or retire it.
type SiteCommand struct {
	By Principal
	// IfMatch, when set, is the version the command was decided on.
	IfMatch int64
	Kind    SiteCommandKind
	SiteID  string
	Fields  SiteFields
	Reason  string // of a retirement

	// Resolved from the policy: its site types, units and areas (none:
	// an area is free text), and the bounds of its map (nil: it draws
	// none).
	Types, Units, Areas []string
	Bounds              *Bounds
}

// SiteCommandKind is what a SiteCommand does.
type SiteCommandKind string

// The site commands.
const (
	RegisterSite SiteCommandKind = "register"
	ChangeSite   SiteCommandKind = "change"
	RetireSite   SiteCommandKind = "retire"
)

// ResolveSite gives cmd the policy's facts its decision needs.
func (p *Policy) ResolveSite(cmd SiteCommand) SiteCommand {
	cmd.Types, cmd.Units, cmd.Areas = p.siteTypeCodes(), nil, p.areaIDs()
	for _, u := range p.Units {
		cmd.Units = append(cmd.Units, u.ID)
	}
	cmd.Bounds = nil
	if b, ok := p.Bounds(); ok {
		cmd.Bounds = &b
	}
	return cmd
}

// MayManageSites refuses (EFORBIDDEN) all but admins: sites are the
// office's reference data.
func (p Principal) MayManageSites() error {
	if p.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "only admins manage sites")
	}
	return nil
}

// DecideSite returns the events cmd makes of site s (the zero Site when
// there is none), or why it is refused. A registration of a site that
// exists with the same fields records nothing (a re-import), with others
// is a conflict; a change to what the site already says records nothing.
func DecideSite(s Site, cmd SiteCommand, now time.Time) ([]SiteEvent, error) {
	now = now.UTC().Truncate(time.Millisecond)
	if _, visible := cmd.By.SiteFor(s); cmd.Kind != RegisterSite && s.Version > 0 && !visible {
		return nil, Errorf(ENOTFOUND, "site not found") // another unit's does not exist for it, as its cases do not
	}
	if err := cmd.By.MayManageSites(); err != nil {
		return nil, err
	}
	if cmd.Kind == RegisterSite && s.Version == 0 {
		if err := cmd.validate(); err != nil {
			return nil, err
		}
		return []SiteEvent{siteEvent(s, cmd, now, SiteRegistered{cmd.Fields})}, nil
	}
	if s.Version == 0 {
		return nil, Errorf(ENOTFOUND, "site not found")
	}
	if cmd.IfMatch != 0 && cmd.IfMatch != s.Version {
		return nil, Errorf(EPRECONDITION, "the site is at version %d, not %d", s.Version, cmd.IfMatch)
	}
	switch cmd.Kind {
	case RegisterSite:
		if sameSite(s.SiteFields, cmd.Fields) {
			return nil, nil
		}
		return nil, Errorf(ECONFLICT, "site %s exists and says otherwise: change it instead", s.ID)
	case ChangeSite:
		if !s.Active {
			return nil, Errorf(ECONFLICT, "site %s is retired", s.ID)
		}
		if err := cmd.validate(); err != nil {
			return nil, err
		}
		if sameSite(s.SiteFields, cmd.Fields) {
			return nil, nil
		}
		return []SiteEvent{siteEvent(s, cmd, now, SiteChanged{cmd.Fields})}, nil
	case RetireSite:
		if !s.Active {
			return nil, nil
		}
		var errs fieldErrors
		checkText(&errs, "reason", cmd.Reason, MaxNote, false)
		if err := errs.err(); err != nil {
			return nil, err
		}
		return []SiteEvent{siteEvent(s, cmd, now, SiteRetired{Reason: cmd.Reason})}, nil
	}
	return nil, Errorf(EINVALID, "unknown site command %q", cmd.Kind)
}

// siteEvent is the event d that cmd records on s.
func siteEvent(s Site, cmd SiteCommand, now time.Time, d SiteEventData) SiteEvent {
	return SiteEvent{SiteID: cmp.Or(s.ID, cmd.SiteID), Version: s.Version + 1, Type: d.siteEventType(), OccurredAt: now, Actor: cmd.By, Data: d}
}

// sameSite reports whether two sites say the same.
func sameSite(a, b SiteFields) bool {
	return a.Name == b.Name && a.Type == b.Type && a.Area == b.Area && a.Location == b.Location && a.Unit == b.Unit &&
		(a.Head == nil) == (b.Head == nil) && (a.Head == nil || *a.Head == *b.Head)
}

// validate checks what a registration or a change says of a site.
func (cmd SiteCommand) validate() error {
	var errs fieldErrors
	if !siteIDPattern.MatchString(cmd.SiteID) {
		errs.add("id", "must be letters, digits, -, _ or ., at most 64, as an office's spreadsheet numbers its sites")
	}
	f := cmd.Fields
	checkText(&errs, "name", f.Name, MaxSiteName, true)
	if !slices.Contains(cmd.Types, f.Type) {
		errs.add("type", "is not a site type of the policy%s", choices(cmd.Types))
	}
	if f.Unit != "" && !slices.Contains(cmd.Units, f.Unit) {
		errs.add("unit", "is not a unit of the policy%s", choices(cmd.Units))
	}
	if f.Area != "" && len(cmd.Areas) > 0 && !slices.Contains(cmd.Areas, f.Area) {
		errs.add("area", "is not a known area%s", choices(cmd.Areas))
	}
	checkLocation(&errs, f.Location)
	if f.Location.Lat == 0 && f.Location.Lon == 0 {
		errs.add("location", "is required: where the site is")
	} else if b := cmd.Bounds; b != nil && !b.Contains(f.Location) {
		errs.add("location", "is outside the policy's map: latitude %g to %g, longitude %g to %g", b.MinLat, b.MaxLat, b.MinLon, b.MaxLon)
	}
	if h := f.Head; h != nil {
		checkText(&errs, "head.name", h.Name, MaxHeadName, true)
		checkText(&errs, "head.phone", h.Phone, MaxHeadPhone, true)
	}
	return errs.err()
}

// DecodeSiteEventData decodes a site event's payload of type typ.
func DecodeSiteEventData(typ string, data []byte) (SiteEventData, error) {
	var d SiteEventData
	switch typ {
	case "SiteRegistered":
		var v SiteRegistered
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		d = v
	case "SiteChanged":
		var v SiteChanged
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		d = v
	case "SiteRetired":
		var v SiteRetired
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		d = v
	default:
		return nil, fmt.Errorf("unknown site event type %q", typ)
	}
	return d, nil
}

// SiteFilter selects sites for a list, ordered by id: by type, area and
// unit, active or retired; a page of Limit after the site After.
type SiteFilter struct {
	Type, Area, Unit string
	Active           *bool
	Limit            int
	After            string
}

// Matches reports whether f selects s, paging aside.
func (f SiteFilter) Matches(s Site) bool {
	return (f.Type == "" || s.Type == f.Type) && (f.Area == "" || s.Area == f.Area) && (f.Unit == "" || s.Unit == f.Unit) &&
		(f.Active == nil || s.Active == *f.Active)
}

// ScopeSites is f as p may list sites: the office and inspectors read every
// site, a unit those it answers for. (A point-chief's phone is the
// office's only: SiteFor.)
func (p Principal) ScopeSites(f SiteFilter) SiteFilter {
	if p.Role == RoleUnit {
		f.Unit = p.Unit
	}
	return f
}

// ScopeSiteReport is the unit whose sites' report p reads when asking for
// unit's ("" every unit's): a unit its own sites' whatever it asks, the
// office and its inspectors what they ask for, anyone else nothing
// (MayReadRounds' refusal).
func (p Principal) ScopeSiteReport(unit string) (string, error) {
	if p.Role == RoleUnit {
		return p.Unit, nil
	}
	return unit, p.MayReadRounds()
}

// SiteFor is site s as p may read it: a point-chief is shown to the
// office (supervisors and admins) only; a unit reads only the sites it
// answers for (false otherwise).
func (p Principal) SiteFor(s Site) (Site, bool) {
	if p.Role == RoleUnit && s.Unit != p.Unit {
		return Site{}, false
	}
	if !p.Oversees() {
		s.Head = nil
	}
	return s, true
}
