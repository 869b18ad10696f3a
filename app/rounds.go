package app

import (
	"context"
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
	for after := ""; ; {
		page, next, err := s.Sites.Sites(ctx, duban.SiteFilter{Active: ptrTo(true), Limit: 1000, After: after})
		if err != nil {
			return duban.Round{}, false, err
		}
		cmd.Sites = append(cmd.Sites, page...)
		if after = next; next == "" {
			break
		}
	}
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
	return Inspected{SiteInspection: stored, Created: created}, err
}

func ptrTo[T any](v T) *T { return &v }
