package app

import (
	"context"
	"encoding/json"
	"math/rand/v2"

	"github.com/google/uuid"

	"github.com/duban/duban"
)

// maxRoundsListed bounds a list of rounds.
const maxRoundsListed = 50

// roundIDSpace is the UUID namespace of round ids derived from
// Idempotency-Keys.
var roundIDSpace = uuid.MustParse("6c1f3b2e-5d47-4a8e-9f60-7e2b9d4c1a85")

// PlanRound draws the round cmd asks for from the sites as the store
// holds them and records it, answering the round and whether it is new.
// key is the request's Idempotency-Key, or empty: the same key from the
// same principal answers the round it planned, never a second one.
func (s *Service) PlanRound(ctx context.Context, cmd duban.PlanRound, key string) (duban.Round, bool, error) {
	if err := cmd.By.MayPlanRounds(); err != nil {
		return duban.Round{}, false, err // before every site is read for it
	}
	if s.Sites == nil {
		return duban.Round{}, false, duban.Errorf(duban.EINTERNAL, "this process keeps no sites")
	}
	cmd.RoundID = uuid.Must(uuid.NewV7()).String()
	if key != "" {
		cmd.RoundID = uuid.NewSHA1(roundIDSpace, []byte(cmd.By.ID+"\n"+key)).String()
		if r, err := s.Sites.Round(ctx, cmd.RoundID); err == nil {
			return r, false, s.startLadder(ctx, r) // a repeat: its ladder runs, or starts now
		} else if duban.ErrorCode(err) != duban.ENOTFOUND {
			return duban.Round{}, false, err
		}
	}
	cmd.Seed = rand.Int64N(1 << 53)
	sites, err := s.ActiveSites(ctx, cmd.By) // the office's: every site
	if err != nil {
		return duban.Round{}, false, err
	}
	cmd.Sites = sites
	r, err := duban.DecideRound(s.Policy.ResolveRound(cmd), s.now())
	if err != nil {
		return duban.Round{}, false, err
	}
	r, created, err := s.Sites.RecordRound(ctx, r)
	if err != nil {
		return duban.Round{}, false, err
	}
	return r, created, s.startLadder(ctx, r)
}

// startLadder starts round r's ladder, where the process runs them: a
// round planned, whose ladder did not start (the process stopped between
// the two), is planned again with its Idempotency-Key and starts it then.
func (s *Service) startLadder(ctx context.Context, r duban.Round) error {
	if s.Ladders == nil {
		return nil
	}
	return s.Ladders.StartRound(ctx, r.ID)
}

// Round returns round id as by may read it; ENOTFOUND when there is none
// or by may not see it.
func (s *Service) Round(ctx context.Context, by duban.Principal, id string) (duban.Round, error) {
	if err := by.MayReadRounds(); err != nil {
		return duban.Round{}, err
	}
	if s.Sites == nil {
		return duban.Round{}, duban.Errorf(duban.ENOTFOUND, "round not found")
	}
	r, err := s.Sites.Round(ctx, id)
	if err != nil {
		return duban.Round{}, err
	}
	r, ok := by.RoundFor(r)
	if !ok {
		return duban.Round{}, duban.Errorf(duban.ENOTFOUND, "round not found")
	}
	return r, nil
}

// Rounds lists the latest rounds by may read: the office every one, an
// inspector those with a site for them.
func (s *Service) Rounds(ctx context.Context, by duban.Principal) ([]duban.Round, error) {
	if err := by.MayReadRounds(); err != nil || s.Sites == nil {
		return nil, err
	}
	inspector := ""
	if !by.Oversees() {
		inspector = by.ID
	}
	return s.Sites.Rounds(ctx, inspector, maxRoundsListed)
}

// Inspected is what an inspection answers: the inspection recorded, and
// whether this request recorded it (false: it was there, the same).
type Inspected struct {
	duban.SiteInspection
	Created bool
}

// Inspect records cmd, the inspection of site in round, decided by
// duban.DecideInspection: each failed item opens its case through Open,
// as any other open, then the inspection is recorded with them. A phone
// syncing the same inspection again is answered with the one recorded; if
// an earlier attempt opened some of the cases and failed, this one finds
// them (each open's Idempotency-Key names its round, site and item)
// rather than opening them again.
func (s *Service) Inspect(ctx context.Context, roundID, siteID string, cmd duban.InspectSite) (Inspected, error) {
	if s.Sites == nil {
		return Inspected{}, duban.Errorf(duban.ENOTFOUND, "round not found")
	}
	round, err := s.Sites.Round(ctx, roundID)
	switch {
	case err == nil:
		cmd.Round = &round
	case duban.ErrorCode(err) != duban.ENOTFOUND:
		return Inspected{}, err
	}
	cmd.Site, err = s.Sites.Site(ctx, siteID)
	if duban.ErrorCode(err) == duban.ENOTFOUND {
		cmd.Site = duban.Site{ID: siteID}
	} else if err != nil {
		return Inspected{}, err
	}
	if cmd.Done, err = s.Sites.Inspection(ctx, roundID, siteID); err != nil {
		return Inspected{}, err
	}
	var evidence []duban.Evidence
	for _, a := range cmd.Items {
		evidence = append(evidence, a.Evidence...)
	}
	if cmd.Stored, err = s.storedAttachments(ctx, evidence); err != nil {
		return Inspected{}, err
	}
	cmd = s.Policy.ResolveInspection(cmd)
	in, failed, err := duban.DecideInspection(cmd, s.now())
	if err != nil {
		return Inspected{}, err
	}
	if cmd.Done != nil {
		return Inspected{SiteInspection: in}, nil // the same, synced again
	}
	in.Cases = []string{}
	for _, item := range failed {
		key := "inspection\n" + in.Round + "\n" + in.Site + "\n" + item.Code
		last, err := s.Sites.LastFinding(ctx, in.Site, item.Code, caseIDFor(cmd.By, key))
		if err != nil {
			return Inspected{}, err
		}
		a, err := s.Open(ctx, in.FindingCase(cmd.By, cmd.Site, item, last), key)
		if err != nil {
			return Inspected{}, err
		}
		in.Cases = append(in.Cases, a.Case.ID)
	}
	stored, created, err := s.Sites.RecordInspection(ctx, in)
	if err != nil || created {
		return Inspected{SiteInspection: stored, Created: created}, err
	}
	// Another inspection of the site was recorded meanwhile: this one is
	// the same (answered as recorded) or refused; the cases it opened
	// stay, each a failure seen.
	cmd.Done = &stored
	stored, _, err = duban.DecideInspection(cmd, s.now())
	return Inspected{SiteInspection: stored}, err
}

// SiteReportRequest asks for the site report of a period, as the API's
// query says it: dates, and optionally a site type, an area and a unit.
type SiteReportRequest struct {
	From, To         string
	Type, Area, Unit string
}

// siteQuery checks r against the policy: the period, the site type, the
// unit; a unit reads its own sites only (duban.Principal.ScopeSiteReport).
func (s *Service) siteQuery(by duban.Principal, r SiteReportRequest) (duban.SiteReportQuery, error) {
	var err error
	if r.Unit, err = by.ScopeSiteReport(r.Unit); err != nil {
		return duban.SiteReportQuery{}, err
	}
	period, err := s.Policy.ReportPeriod(r.From, r.To)
	if err != nil {
		return duban.SiteReportQuery{}, err
	}
	if err := s.Policy.CheckUnit("unit", r.Unit); err != nil {
		return duban.SiteReportQuery{}, err
	}
	if _, ok := s.Policy.SiteType(r.Type); r.Type != "" && !ok {
		return duban.SiteReportQuery{}, duban.Invalid(duban.Field("type", "is not a site type of the policy"))
	}
	return duban.SiteReportQuery{Period: period, Type: r.Type, Area: r.Area, Unit: r.Unit}, nil
}

// SiteReport is the site report of a period: a row per site type, and
// the sites scored worst.
type SiteReport struct {
	Period duban.Period
	Rows   []duban.SiteTypeRow
	Worst  []duban.SiteScore
}

// worstShown is how many of the worst sites a site report names.
const worstShown = 10

// SiteReport returns the site report of r. The office and inspectors read
// every site's; a unit the sites it answers for.
func (s *Service) SiteReport(ctx context.Context, by duban.Principal, r SiteReportRequest) (SiteReport, error) {
	q, err := s.siteQuery(by, r)
	if err != nil || s.Sites == nil {
		return SiteReport{Period: q.Period}, err
	}
	counted, err := s.Sites.SiteCounts(ctx, q)
	if err != nil {
		return SiteReport{}, err
	}
	scores, err := s.Sites.SiteScores(ctx, q)
	if err != nil {
		return SiteReport{}, err
	}
	return SiteReport{Period: q.Period, Rows: s.Policy.SiteRows(counted, q), Worst: duban.WorstSites(scores, worstShown)}, nil
}

// SiteHistory is one site over a period: its inspections, the latest
// first, its mean score, the items failed, the cases open at it now and
// the cases a failure there opened again (顽疾).
type SiteHistory struct {
	Site        duban.Site             `json:"site"`
	Inspections []duban.SiteInspection `json:"inspections"`
	MeanScore   *float64               `json:"mean_score"`
	Failures    int                    `json:"failures"`
	OpenCases   []string               `json:"open_cases"`
	Recurrences []string               `json:"recurrences"`
}

// SiteHistory returns site id over r's period, as by may read it.
func (s *Service) SiteHistory(ctx context.Context, by duban.Principal, id string, r SiteReportRequest) (duban.Period, SiteHistory, error) {
	q, err := s.siteQuery(by, r)
	if err != nil {
		return q.Period, SiteHistory{}, err
	}
	site, err := s.Site(ctx, by, id)
	if err != nil {
		return q.Period, SiteHistory{}, err
	}
	h := SiteHistory{Site: site, OpenCases: []string{}, Recurrences: []string{}}
	all, err := s.Sites.Inspections(ctx, id, q.From, q.To)
	if err != nil {
		return q.Period, SiteHistory{}, err
	}
	h.Inspections = []duban.SiteInspection{}
	sum := 0
	for _, in := range all {
		if q.Unit != "" && in.Unit != q.Unit {
			continue // a unit reads the inspections of its time at the site only
		}
		h.Inspections = append(h.Inspections, in)
		sum += in.Score
		h.Failures += len(in.Failed())
	}
	h.MeanScore = duban.MeanScore(sum, len(h.Inspections))
	open, _, err := s.AllCases(ctx, by, duban.CaseFilter{Site: id, Statuses: duban.OpenStatuses()}, 0)
	if err != nil {
		return q.Period, SiteHistory{}, err
	}
	for _, c := range open {
		h.OpenCases = append(h.OpenCases, c.ID)
	}
	opened, _, err := s.AllCases(ctx, by, duban.CaseFilter{Site: id, OpenedFrom: q.From, OpenedBefore: q.To}, 0)
	if err != nil {
		return q.Period, SiteHistory{}, err
	}
	for _, c := range opened {
		var v struct{ Recurrence int }
		if err := json.Unmarshal(c.View, &v); err != nil {
			return q.Period, SiteHistory{}, err
		}
		if v.Recurrence > 1 {
			h.Recurrences = append(h.Recurrences, c.ID)
		}
	}
	return q.Period, h, nil
}

// MapCases returns the first limit open cases, newest opened first, as the
// map draws them, and whether more were left: the office's (一张图).
func (s *Service) MapCases(ctx context.Context, by duban.Principal, limit int) ([]Plotted, bool, error) {
	if err := by.MayReadMap(); err != nil {
		return nil, false, err
	}
	return s.Store.Plotted(ctx, duban.CaseFilter{Statuses: duban.OpenStatuses(), Now: s.now()}, limit)
}

// AllCases lists the cases f selects that by may see, as Cases does,
// page after page: every one, or the first max (0: no bound) and whether
// more were left.
func (s *Service) AllCases(ctx context.Context, by duban.Principal, f duban.CaseFilter, max int) ([]Listed, bool, error) {
	var out []Listed
	f.Limit = 500
	for {
		page, next, err := s.Cases(ctx, by, f)
		if err != nil {
			return nil, false, err
		}
		out = append(out, page...)
		if next == nil {
			return out, false, nil
		}
		if max > 0 && len(out) >= max {
			return out[:max], true, nil
		}
		f.After = next
	}
}

// ActiveSites lists every site in use that by may read, by id.
func (s *Service) ActiveSites(ctx context.Context, by duban.Principal) ([]duban.Site, error) {
	var out []duban.Site
	for after := ""; ; {
		page, next, err := s.ListSites(ctx, by, duban.SiteFilter{Active: new(true), Limit: 1000, After: after})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if after = next; next == "" {
			return out, nil
		}
	}
}
