package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban/postgres"
)

// The chaos policy's deadlines, which the checks compute on their own: on
// the 24x7 calendar a case dispatched at d must be acknowledged by d+ackSLA,
// is warned at 75% of that and escalates at the deadline (level 1) and
// level2After later (level 2). Its later stages' deadlines lie hours away.
const (
	ackSLA      = 20 * time.Second
	level2After = 10 * time.Second
)

const chaosPolicy = `timezone: UTC
calendar: 24x7
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 20s, resolve: 4h, verify: 4h}
escalation:
  - {at: -25%, action: warn}
  - {at: 0s, level: 1}
  - {at: 10s, level: 2}
principals:
  - {token: chaos-inspector, id: inspector-1, role: inspector}
  - {token: chaos-unit, id: sanitation-1, role: unit, unit: sanitation}
  - {token: chaos-supervisor, id: supervisor-1, role: supervisor}
`

// findings are what the checks found; every count but the first two must
// be zero.
type findings struct {
	Cases  int `json:"cases"`
	Events int `json:"events"`
	// Lost: answered 2xx, not in the event store.
	Lost []string `json:"lost"`
	// Duplicated: in the event store more than once (an answered command,
	// an open made twice, a step recorded twice).
	Duplicated []string `json:"duplicated"`
	// Missed: a ladder step that came due and is not recorded.
	Missed []string `json:"missed"`
	// Spurious: a ladder step recorded that was not due, or for another
	// time than the policy says.
	Spurious []string `json:"spurious"`
	// AuditFlaws: broken hash chains or version runs (duban audit verify).
	AuditFlaws []string `json:"audit_flaws"`
	// ProjectionDiffers: rows that are not the fold of their events
	// (duban projections rebuild --check).
	ProjectionDiffers []string `json:"projection_differs"`
	// StreamMissed and StreamDoubled: events a client of /v1/stream,
	// reconnecting with Last-Event-ID through every kill, never received
	// or received twice.
	StreamMissed  []string `json:"stream_missed"`
	StreamDoubled []string `json:"stream_doubled"`
	// WebhooksLost: events the subscription's receiver never took;
	// WebhookSignatures: deliveries whose signature did not verify.
	WebhooksLost      []string `json:"webhooks_lost"`
	WebhookSignatures []string `json:"webhook_bad_signatures"`
	// ReleaseFlaws (-release): a case on another revision than its
	// release's, a workflow task failed as non-deterministic.
	ReleaseFlaws []string `json:"release_flaws"`
}

func (f findings) clean() bool {
	return len(f.Lost)+len(f.Duplicated)+len(f.Missed)+len(f.Spurious)+len(f.AuditFlaws)+len(f.ProjectionDiffers)+
		len(f.StreamMissed)+len(f.StreamDoubled)+len(f.WebhooksLost)+len(f.WebhookSignatures)+len(f.ReleaseFlaws) == 0
}

// storedEvent is what the checks read of an event.
type storedEvent struct {
	Type       string
	OccurredAt time.Time
	Data       struct {
		Text        string    `json:"text"`
		Note        string    `json:"note"`
		Description string    `json:"description"`
		Level       int       `json:"level"`
		Stage       string    `json:"stage"`
		DueAt       time.Time `json:"due_at"`
	}
}

// check compares the event store with what the clients were answered, and
// the recorded ladder steps with the policy's deadlines as of now.
func check(ctx context.Context, dubanURL string, answers []answered) (findings, error) {
	var f findings
	conn, err := pgx.Connect(ctx, dubanURL)
	if err != nil {
		return f, err
	}
	defer conn.Close(ctx)
	// Read as of one instant, and take "now" after it: a step due before
	// now must be in what was read.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return f, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT case_id::text, type, occurred_at, data FROM events ORDER BY case_id, version`)
	if err != nil {
		return f, err
	}
	cases := map[string][]storedEvent{}
	for rows.Next() {
		var id string
		var e storedEvent
		var data []byte
		if err := rows.Scan(&id, &e.Type, &e.OccurredAt, &data); err != nil {
			return f, err
		}
		if err := json.Unmarshal(data, &e.Data); err != nil {
			return f, fmt.Errorf("case %s: %s data: %w", id, e.Type, err)
		}
		cases[id] = append(cases[id], e)
		f.Events++
	}
	if err := rows.Err(); err != nil {
		return f, err
	}
	now := time.Now()
	f.Cases = len(cases)

	// Every answered request, exactly once.
	for _, a := range answers {
		n := 0
		for _, e := range cases[a.CaseID] {
			if a.matches(e) {
				n++
			}
		}
		switch {
		case n == 0:
			f.Lost = append(f.Lost, fmt.Sprintf("%s %q on case %s", a.Kind, a.Marker, a.CaseID))
		case n > 1:
			f.Duplicated = append(f.Duplicated, fmt.Sprintf("%s %q on case %s: %d times", a.Kind, a.Marker, a.CaseID, n))
		}
	}
	// Nothing twice, answered or not: a description names one case; a case
	// is reported, acknowledged, resolved, passed and closed at most once
	// (no client fails a verification), and a marker is used once.
	descriptions := map[string][]string{}
	for id, events := range cases {
		seen := map[string]int{}
		for _, e := range events {
			switch e.Type {
			case "CaseReported":
				descriptions[e.Data.Description] = append(descriptions[e.Data.Description], id)
				seen[e.Type]++
			case "CaseAcknowledged", "CaseResolved", "VerificationPassed", "CaseClosed", "CaseDispatched":
				seen[e.Type]++
			case "CommentAdded":
				seen[e.Type+" "+e.Data.Text]++
			}
		}
		for what, n := range seen {
			if n > 1 {
				f.Duplicated = append(f.Duplicated, fmt.Sprintf("case %s: %s %d times", id, what, n))
			}
		}
		f.checkLadder(id, events, now)
	}
	for d, ids := range descriptions {
		if len(ids) > 1 {
			f.Duplicated = append(f.Duplicated, fmt.Sprintf("%q opened %d cases: %v", d, len(ids), ids))
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		return f, err
	}

	store, err := postgres.Open(ctx, dubanURL)
	if err != nil {
		return f, err
	}
	defer store.Close()
	audit, err := store.Verify(ctx)
	if err != nil {
		return f, err
	}
	for _, flaw := range audit.Flaws {
		f.AuditFlaws = append(f.AuditFlaws, flaw.String())
	}
	rebuild, err := store.RebuildProjections(ctx, true, nil)
	if err != nil {
		return f, err
	}
	for _, d := range rebuild.Examples {
		f.ProjectionDiffers = append(f.ProjectionDiffers, d.String())
	}
	if int64(len(f.ProjectionDiffers)) < rebuild.Differed {
		f.ProjectionDiffers = append(f.ProjectionDiffers, fmt.Sprintf("... %d in all", rebuild.Differed))
	}
	return f, nil
}

// matches reports whether e is the event a's request recorded.
func (a answered) matches(e storedEvent) bool {
	switch a.Kind {
	case "open":
		return e.Type == "CaseReported" && e.Data.Description == a.Marker
	case "acknowledge":
		return e.Type == "CaseAcknowledged"
	case "comment":
		return e.Type == "CommentAdded" && e.Data.Text == a.Marker
	case "resolve":
		return e.Type == "CaseResolved" && e.Data.Note == a.Marker
	case "verify":
		return e.Type == "VerificationPassed" && e.Data.Note == a.Marker
	}
	return false
}

// checkLadder compares the acknowledge stage's recorded steps with those
// due: every step due before the case was acknowledged (or before now, if
// it was not) is recorded exactly once, for its time; no other is.
func (f *findings) checkLadder(id string, events []storedEvent, now time.Time) {
	var dispatched, acknowledged *time.Time
	for _, e := range events {
		switch {
		case e.Type == "CaseDispatched" && dispatched == nil:
			dispatched = &e.OccurredAt
		case e.Type == "CaseAcknowledged":
			acknowledged = &e.OccurredAt
		}
	}
	if dispatched == nil {
		return
	}
	end := now
	if acknowledged != nil {
		end = *acknowledged
	}
	deadline := dispatched.Add(ackSLA)
	due := map[int]time.Time{0: dispatched.Add(ackSLA * 3 / 4), 1: deadline, 2: deadline.Add(level2After)}
	recorded := map[int][]time.Time{}
	for _, e := range events {
		switch {
		case e.Type == "DeadlineWarned" && e.Data.Stage == "acknowledge":
			recorded[0] = append(recorded[0], e.Data.DueAt)
		case e.Type == "CaseEscalated" && e.Data.Stage == "acknowledge":
			recorded[e.Data.Level] = append(recorded[e.Data.Level], e.Data.DueAt)
		}
	}
	for level := 0; level <= 2; level++ {
		at, got := due[level], recorded[level]
		expected := !at.After(end)
		switch {
		case expected && len(got) == 0:
			f.Missed = append(f.Missed, fmt.Sprintf("case %s: level %d due %s (end %s)", id, level, at.Format(time.StampMilli), end.Format(time.StampMilli)))
		case len(got) > 1:
			f.Duplicated = append(f.Duplicated, fmt.Sprintf("case %s: level %d recorded %d times", id, level, len(got)))
		case !expected && len(got) > 0:
			f.Spurious = append(f.Spurious, fmt.Sprintf("case %s: level %d recorded, due %s after the stage ended %s", id, level, at.Format(time.StampMilli), end.Format(time.StampMilli)))
		case len(got) == 1 && !got[0].Equal(at):
			f.Spurious = append(f.Spurious, fmt.Sprintf("case %s: level %d recorded for %s, due %s", id, level, got[0].Format(time.StampMilli), at.Format(time.StampMilli)))
		}
	}
	for level := range recorded {
		if level > 2 {
			f.Spurious = append(f.Spurious, fmt.Sprintf("case %s: level %d is not in the policy", id, level))
		}
	}
}
