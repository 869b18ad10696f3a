package duban

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// ItemResult is an inspection's answer to one item of a checklist.
type ItemResult string

// The answers of SPEC.md: met, not met, not applicable here.
const (
	ResultPass ItemResult = "pass"
	ResultFail ItemResult = "fail"
	ResultNA   ItemResult = "na"
)

// ItemAnswer answers one item of a site's checklist.
type ItemAnswer struct {
	Item     string     `json:"item"`
	Result   ItemResult `json:"result"`
	Note     string     `json:"note,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
}

// SiteInspection is a site inspected in a round: the inspector's answers,
// the score they give (100 less the points of the items failed, floor 0),
// whether it passes, and the cases its failures opened.
type SiteInspection struct {
	Round     string       `json:"round"`
	Site      string       `json:"site"`
	Type      string       `json:"type"`
	Unit      string       `json:"unit,omitempty"` // the site's unit then
	Area      string       `json:"area,omitempty"` // the site's area then
	Inspector string       `json:"inspector"`
	At        time.Time    `json:"at"`
	Location  Location     `json:"location"`
	Items     []ItemAnswer `json:"items"`
	Score     int          `json:"score"`
	Passed    bool         `json:"passed"`
	Cases     []string     `json:"cases"`
	// RecordedAt is when duban took it: after At when a phone synced it
	// later.
	RecordedAt  time.Time `json:"recorded_at"`
	RequestHash string    `json:"request_hash"`
}

// Failed returns the items the inspection failed.
func (in *SiteInspection) Failed() []string {
	var out []string
	for _, a := range in.Items {
		if a.Result == ResultFail {
			out = append(out, a.Item)
		}
	}
	return out
}

// InspectSite is an inspector's answers for a site of a round.
type InspectSite struct {
	By       Principal
	At       time.Time
	Location Location
	Items    []ItemAnswer
	Stored   []string // the attachments of the items' evidence the blob store holds

	// Facts: the round (nil when there is none) and the site as the store
	// holds them, the site's type as the policy says it (zero when the
	// policy has it no more), the policy's pass score, and the site's
	// inspection already recorded in the round (nil when none).
	Round     *Round
	Site      Site
	Type      SiteType
	PassScore int
	Done      *SiteInspection
}

// maxSkew is how far a phone's clock may be off duban's.
const maxSkew = 5 * time.Minute

// DecideInspection judges cmd: the inspection to record, and the items
// whose failures open cases; or, for an inspection already recorded with
// the same answers (a phone syncing again), that one and no items to
// open; or a refusal.
func DecideInspection(cmd InspectSite, now time.Time) (SiteInspection, []StandardItem, error) {
	now = now.UTC().Truncate(time.Millisecond)
	if err := cmd.By.MayReadRounds(); err != nil {
		return SiteInspection{}, nil, err
	}
	if cmd.Round == nil {
		return SiteInspection{}, nil, Errorf(ENOTFOUND, "round not found")
	}
	round, visible := cmd.By.RoundFor(*cmd.Round)
	if !visible {
		return SiteInspection{}, nil, Errorf(ENOTFOUND, "round not found")
	}
	entry, ok := round.Site(cmd.Site.ID)
	if !ok {
		return SiteInspection{}, nil, Errorf(ENOTFOUND, "site %s is not in round %s", cmd.Site.ID, round.ID)
	}
	if cmd.By.Role != RoleInspector || cmd.By.ID != entry.Inspector {
		return SiteInspection{}, nil, Errorf(EFORBIDDEN, "only %s, the inspector it went to, inspects site %s in this round", entry.Inspector, entry.Site)
	}
	hash := inspectionHash(cmd)
	if d := cmd.Done; d != nil {
		if d.RequestHash == hash {
			return *d, nil, nil
		}
		return SiteInspection{}, nil, Errorf(ECONFLICT, "site %s was inspected in round %s at %s: a site is inspected once a round",
			d.Site, d.Round, d.At.Format(time.RFC3339))
	}
	if cmd.Type.Code == "" {
		return SiteInspection{}, nil, Errorf(ECONFLICT, "site type %s is not in the policy any more", cmd.Site.Type)
	}
	at := cmd.At.UTC().Truncate(time.Millisecond)
	var errs fieldErrors
	switch {
	case at.IsZero():
		errs.add("at", "is required: when the site was inspected")
	case at.After(now.Add(maxSkew)):
		errs.add("at", "must not be in the future")
	case at.Before(round.PlannedAt.Add(-maxSkew)):
		errs.add("at", "must not be before the round was planned, %s", round.PlannedAt.Format(time.RFC3339))
	}
	checkLocation(&errs, cmd.Location)
	if cmd.Location.Lat == 0 && cmd.Location.Lon == 0 {
		errs.add("location", "is required: where the inspector stood")
	}
	score := 100
	var failed []StandardItem
	for i, a := range cmd.Items {
		field := func(name string) string { return fieldIndex("items", i) + "." + name }
		item, known := cmd.Type.Item(a.Item)
		switch {
		case !known:
			errs.add(field("item"), "is not an item of site type %s", cmd.Site.Type)
		case slices.IndexFunc(cmd.Items, func(b ItemAnswer) bool { return b.Item == a.Item }) < i:
			errs.add(field("item"), "is answered twice")
		}
		switch a.Result {
		case ResultPass, ResultNA:
		case ResultFail:
			if known {
				score -= item.Points
				failed = append(failed, item)
			}
		default:
			errs.add(field("result"), "must be pass, fail or na")
		}
		checkText(&errs, field("note"), a.Note, MaxNote, false)
		checkEvidence(&errs, field("evidence"), a.Evidence, cmd.Stored)
	}
	var missing []string
	for _, item := range cmd.Type.Items {
		if !slices.ContainsFunc(cmd.Items, func(a ItemAnswer) bool { return a.Item == item.Code }) {
			missing = append(missing, item.Code)
		}
	}
	if len(missing) > 0 {
		errs.add("items", "must answer every item of site type %s: %s unanswered", cmd.Site.Type, strings.Join(missing, ", "))
	}
	if err := errs.err(); err != nil {
		return SiteInspection{}, nil, err
	}
	score = max(score, 0)
	return SiteInspection{
		Round: round.ID, Site: cmd.Site.ID, Type: cmd.Site.Type, Unit: cmd.Site.Unit, Area: cmd.Site.Area,
		Inspector: cmd.By.ID, At: at, Location: cmd.Location, Items: slices.Clone(cmd.Items),
		Score: score, Passed: score >= cmd.PassScore, RecordedAt: now, RequestHash: hash,
	}, failed, nil
}

// inspectionHash fingerprints what an inspection says, so that the same
// inspection synced twice is told from a different one.
func inspectionHash(cmd InspectSite) string {
	b, _ := json.Marshal(struct {
		At       time.Time    `json:"at"`
		Location Location     `json:"location"`
		Items    []ItemAnswer `json:"items"`
	}{cmd.At.UTC().Truncate(time.Millisecond), cmd.Location, cmd.Items})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// FindingCase is the open of the case a failed item opens: by the
// inspector, of the item's category, at the site, with the item's note
// and photos, for the site's unit. last is the last case opened for the
// item at the site (nil when none).
func (in *SiteInspection) FindingCase(by Principal, site Site, item StandardItem, last *LastFinding) OpenCase {
	i := slices.IndexFunc(in.Items, func(a ItemAnswer) bool { return a.Item == item.Code })
	answer := in.Items[i]
	description := site.Name + "：" + item.Name.In("zh")
	if answer.Note != "" {
		description += "。" + answer.Note
	}
	if r := []rune(description); len(r) > MaxDescription {
		description = string(r[:MaxDescription])
	}
	return OpenCase{
		CommandMeta: CommandMeta{By: by},
		Category:    item.Category,
		Description: description,
		Location:    Location{Lat: in.Location.Lat, Lon: in.Location.Lon, Address: site.Name, Area: site.Area},
		Evidence:    answer.Evidence,
		Finding:     &Finding{Site: site.ID, Item: item.Code, Round: in.Round, Unit: site.Unit, Last: last},
	}
}

// ResolveInspection gives cmd the policy's facts its decision needs: the
// checklist of its site's type and the pass score.
func (p *Policy) ResolveInspection(cmd InspectSite) InspectSite {
	cmd.Type, _ = p.SiteType(cmd.Site.Type)
	cmd.PassScore = p.Inspection.PassScore
	return cmd
}
