package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/postgres"
)

// importEvery is how many rows go by between two lines of progress.
const importEvery = 200

// importSites reads a spreadsheet of sites and, unless it is a dry run,
// registers the new ones and changes those that differ, as the admin
// --as: a second import of the same file changes nothing. Every bad row is
// named by its line; a dry run also says what an import would do. Rows
// that are right are imported even when others are not, and the exit is
// then a failure.
func (m *Main) importSites(ctx context.Context, store *postgres.Store) error {
	c := m.Config
	by, err := m.importer()
	if err != nil {
		return err
	}
	f, err := os.Open(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, problems, err := m.Policy.ReadSitesCSV(f, by)
	if err != nil {
		return fmt.Errorf("%s: %w", c.File, err)
	}
	svc := &app.Service{Policy: m.Policy, Store: store, Sites: store}
	counts := map[string]int{}
	started := time.Now()
	for i, row := range rows {
		what, err := svc.ImportSite(ctx, row.Command, c.DryRun)
		if err != nil {
			var refusal *duban.Error
			if !errors.As(err, &refusal) || refusal.Code == duban.EINTERNAL || refusal.Code == duban.EUNAVAILABLE {
				return fmt.Errorf("%s line %d: %w", c.File, row.Line, err)
			}
			problems = append(problems, duban.RowProblem{Line: row.Line, Message: refusal.Message})
			continue
		}
		counts[what]++
		if (i+1)%importEvery == 0 {
			fmt.Fprintf(c.Stderr, "%d of %d rows (%s)\n", i+1, len(rows), time.Since(started).Round(time.Second))
		}
	}
	for _, p := range problems {
		fmt.Fprintf(c.Stdout, "%s: %s\n", c.File, p)
	}
	verb := "imported"
	if c.DryRun {
		verb = "checked (dry run: nothing written)"
	}
	fmt.Fprintf(c.Stdout, "%s: %s %d rows: %d new, %d changed, %d as they were; %d bad\n",
		c.File, verb, len(rows)+len(problems), counts[app.SiteNew], counts[app.SiteChanged], counts[app.SiteSame], len(problems))
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", c.File, count(len(problems), "bad row"))
	}
	return nil
}

// importer is the admin an import is recorded as: --as, else the policy's
// only admin.
func (m *Main) importer() (duban.Principal, error) {
	if m.Config.As != "" {
		p, ok := m.Policy.Principal(m.Config.As)
		if !ok || p.Role != duban.RoleAdmin {
			return duban.Principal{}, fmt.Errorf("--as %s: not an admin of the policy", m.Config.As)
		}
		return p, nil
	}
	var admins []duban.Principal
	for _, e := range m.Policy.Principals {
		if p, ok := m.Policy.Principal(e.ID); ok && p.Role == duban.RoleAdmin {
			admins = append(admins, p)
		}
	}
	if len(admins) != 1 {
		return duban.Principal{}, fmt.Errorf("the policy has %d admins: say which the import is recorded as with --as", len(admins))
	}
	return admins[0], nil
}
