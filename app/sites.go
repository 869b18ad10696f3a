package app

import (
	"context"

	"github.com/duban/duban"
)

// siteAttempts bounds how often a site command is decided again when
// someone else changed the site between its read and its append.
const siteAttempts = 3

// CommandSite gives an office's command to a site, decided by
// duban.DecideSite on the site as the store holds it (again, when someone
// else changed it meanwhile), and answers the site after it and whether
// the command recorded anything (a repeated registration records nothing).
func (s *Service) CommandSite(ctx context.Context, cmd duban.SiteCommand) (site duban.Site, changed bool, err error) {
	if s.Sites == nil {
		return duban.Site{}, false, duban.Errorf(duban.EINTERNAL, "this process keeps no sites")
	}
	for attempt := 1; ; attempt++ {
		before, events, err := s.decideSite(ctx, cmd, nil)
		if err != nil || len(events) == 0 {
			site, _ := cmd.By.SiteFor(before)
			return site, false, err
		}
		err = s.Sites.AppendSite(ctx, before, events)
		if duban.ErrorCode(err) == duban.ECONFLICT && attempt < siteAttempts && cmd.IfMatch == 0 {
			continue
		} else if err != nil {
			return duban.Site{}, false, err
		}
		after := before
		for _, e := range events {
			after = duban.EvolveSite(after, e)
		}
		site, _ = cmd.By.SiteFor(after)
		return site, true, nil
	}
}

// decideSite reads the site cmd names (the zero Site when there is none)
// and decides cmd on it, its kind first chosen by kind when given (an
// import registers or changes, as the site is there or not).
func (s *Service) decideSite(ctx context.Context, cmd duban.SiteCommand, kind func(exists bool) duban.SiteCommandKind) (duban.Site, []duban.SiteEvent, error) {
	before, err := s.Sites.Site(ctx, cmd.SiteID)
	if duban.ErrorCode(err) == duban.ENOTFOUND {
		before = duban.Site{}
	} else if err != nil {
		return duban.Site{}, nil, err
	}
	if kind != nil {
		cmd.Kind = kind(before.Version > 0)
	}
	events, err := duban.DecideSite(before, s.Policy.ResolveSite(cmd), s.now())
	return before, events, err
}

// Site returns site id as by may read it; ENOTFOUND when there is none or
// by may not see it.
func (s *Service) Site(ctx context.Context, by duban.Principal, id string) (duban.Site, error) {
	if s.Sites == nil {
		return duban.Site{}, duban.Errorf(duban.ENOTFOUND, "site not found")
	}
	site, err := s.Sites.Site(ctx, id)
	if err != nil {
		return duban.Site{}, err
	}
	site, ok := by.SiteFor(site)
	if !ok {
		return duban.Site{}, duban.Errorf(duban.ENOTFOUND, "site not found")
	}
	return site, nil
}

// ListSites lists the sites f selects that by may read, by id, and the id
// to list the next page after ("" on the last).
func (s *Service) ListSites(ctx context.Context, by duban.Principal, f duban.SiteFilter) ([]duban.Site, string, error) {
	if s.Sites == nil {
		return nil, "", nil
	}
	sites, next, err := s.Sites.Sites(ctx, by.ScopeSites(f))
	for i := range sites {
		sites[i], _ = by.SiteFor(sites[i])
	}
	return sites, next, err
}

// What an import does with a row.
const (
	SiteNew     = "new"
	SiteChanged = "changed"
	SiteSame    = "same"
)

// ImportSite registers the site cmd says, or changes it to what cmd says
// when it exists (a re-import updates by id, never duplicates): it answers
// what it did (SiteNew, SiteChanged, SiteSame), or, with dryRun, what it
// would do, writing nothing.
func (s *Service) ImportSite(ctx context.Context, cmd duban.SiteCommand, dryRun bool) (string, error) {
	before, events, err := s.decideSite(ctx, cmd, func(exists bool) duban.SiteCommandKind {
		if exists {
			return duban.ChangeSite
		}
		return duban.RegisterSite
	})
	what := SiteSame
	switch {
	case err != nil:
		return "", err
	case len(events) > 0 && before.Version == 0:
		what = SiteNew
	case len(events) > 0:
		what = SiteChanged
	}
	if dryRun || len(events) == 0 {
		return what, nil
	}
	return what, s.Sites.AppendSite(ctx, before, events)
}
