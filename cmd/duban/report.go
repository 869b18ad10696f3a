package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/postgres"
)

// reportColumns are the figures the terminal table shows, by their SPEC
// names; --csv writes every field.
var reportColumns = []string{"rank", "unit", "score", "due", "handled", "handled_on_time", "overdue_open",
	"handling_rate", "on_time_rate", "rework_rate", "extension_rate", "closed", "urges", "escalations"}

// report prints the units' scorecards for the period asked, as the API
// serves them to an admin: a table, or CSV.
func (m *Main) report(ctx context.Context, store *postgres.Store) error {
	c := m.Config
	reports := &app.Service{Policy: m.Policy, Store: store}
	period, rows, err := reports.UnitScorecards(ctx, duban.Principal{ID: "duban-report", Role: duban.RoleAdmin},
		app.ReportRequest{From: c.From, To: c.To, Unit: c.Unit, Category: c.Category, Area: c.Area})
	var invalid *duban.Error
	if errors.As(err, &invalid) && len(invalid.Fields) > 0 {
		var problems []string
		for _, f := range invalid.Fields {
			problems = append(problems, "--"+f.Field+" "+f.Message)
		}
		return errors.New("report: " + strings.Join(problems, "; "))
	} else if err != nil {
		return err
	}
	if c.CSV {
		return duban.WriteScorecardCSV(c.Stdout, rows, duban.CSVNames{})
	}
	tz := m.Policy.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	fmt.Fprintf(c.Stdout, "scorecards from %s to %s (%s, %s to %s), ranked by score\n\n",
		c.From, c.To, tz, period.From.Format("2006-01-02 15:04Z"), period.To.Format("2006-01-02 15:04Z"))
	w := tabwriter.NewWriter(c.Stdout, 0, 0, 2, ' ', 0)
	for i, col := range reportColumns {
		if i > 0 {
			fmt.Fprint(w, "\t")
		}
		fmt.Fprint(w, col)
	}
	fmt.Fprintln(w, "\t")
	num := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	for _, r := range rows {
		rank := "-"
		if r.Rank != nil {
			rank = strconv.Itoa(*r.Rank)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d/%d/%d\t\n",
			rank, r.Unit, num(r.Score), r.Due, r.Handled, r.HandledOnTime, r.OverdueOpen,
			num(r.HandlingRate), num(r.OnTimeRate), num(r.ReworkRate), num(r.ExtensionRate), r.Closed, r.Urges,
			r.Escalations["1"], r.Escalations["2"], r.Escalations["3"])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.Stdout, "\nrates are fractions of due (rework_rate: of verifications); - is a rate of nothing, or a unit not ranked;")
	fmt.Fprintln(c.Stdout, "escalations are levels 1/2/3. --csv writes every field.")
	return nil
}
