// Package app is the one way into duban's cases. Every door (the JSON API
// today; the office pages, the field page, Open311 and subscriptions'
// replays after it) decodes its input, builds a domain command and hands it
// here, and reads cases through here; a door decides nothing itself.
//
// For a command, app resolves the facts its decision needs (from the
// policy, and from the store for what other cases say), decides it once
// against the projection with duban.Decide, so that a refusal costs no trip
// to the engine, and then gives it to the engine (the case's workflow),
// which decides again on the case as it stands and answers with the case
// once its events are committed. app owns what makes a command safe to
// repeat: the case id an open's Idempotency-Key stands for, the command id
// a command's key stands for, and the answer to a repeat whose first answer
// was lost. It also lets only a few commands at a time through to one case.
//
// For a read, app asks the domain what the principal may see.
package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/duban/duban"
)

// Store is what app reads of the event store and its projection.
type Store interface {
	// Case returns a case, whole, and the cases merged into it; ENOTFOUND
	// when there is none.
	Case(ctx context.Context, id string) (Row, error)
	// Listing returns a case as reads send it; ENOTFOUND when there is none.
	Listing(ctx context.Context, id string) (Listed, error)
	// Cases lists the cases f selects, newest opened first, and the cursor
	// of the next page (nil on the last).
	Cases(ctx context.Context, f duban.CaseFilter) ([]Listed, *duban.CaseCursor, error)
	// CountCases counts the cases f selects, all pages (f's paging aside).
	CountCases(ctx context.Context, f duban.CaseFilter) (int, error)
	// Plotted returns the first limit cases f selects, newest opened
	// first, as the map draws them, and whether more were left.
	Plotted(ctx context.Context, f duban.CaseFilter, limit int) ([]Plotted, bool, error)
	// Escalations returns the open cases f selects that are overdue at
	// f.Now, worst first, from the position after (nil: the top), and the
	// position of the next page (nil on the last).
	Escalations(ctx context.Context, f duban.CaseFilter, after *duban.BoardCursor) ([]Listed, *duban.BoardCursor, error)
	// Events returns a case's events in version order; ENOTFOUND when it
	// has none.
	Events(ctx context.Context, id string) ([]duban.Event, error)
	// CaseAfter returns the case as it stood after the last event the
	// command commandID recorded, and false when it recorded none.
	CaseAfter(ctx context.Context, caseID, commandID string) (duban.Case, bool, error)
	// NextCaseNumber draws the next number of year's sequence: 1, 2, …,
	// each drawn once, whatever becomes of the open it was drawn for.
	NextCaseNumber(ctx context.Context, year int) (int, error)

	// UnitCounts counts the scorecards' figures over q, a row for each
	// unit with any; duban.Assessment.Finish does the rest.
	UnitCounts(ctx context.Context, q duban.ReportQuery) ([]duban.UnitRow, error)
	// InspectorCounts counts the inspectors' figures over q.
	InspectorCounts(ctx context.Context, q duban.ReportQuery) ([]duban.InspectorRow, error)
	// FigureCases returns the ids of the cases behind a figure of
	// q.Unit's row, each once, in order.
	FigureCases(ctx context.Context, q duban.ReportQuery, figure string) ([]string, error)
	// Bulletins lists the published bulletins, the latest first, without
	// their rows; Bulletin returns one whole (ENOTFOUND when none).
	Bulletins(ctx context.Context) ([]duban.Bulletin, error)
	Bulletin(ctx context.Context, period string) (duban.Bulletin, error)

	// Sanctions lists the sanctions f selects (duban.SortSanctions);
	// Sanction returns one (ENOTFOUND when none), SanctionEvents its
	// events in order. RecordSanction records a sanction's change (its
	// event and its row, together), ECONFLICT when the sanction is no
	// longer at the version before.
	Sanctions(ctx context.Context, f duban.SanctionFilter) ([]duban.Sanction, error)
	Sanction(ctx context.Context, id string) (duban.Sanction, error)
	SanctionEvents(ctx context.Context, id string) ([]duban.SanctionEvent, error)
	RecordSanction(ctx context.Context, after duban.Sanction) error
}

// SiteStore is what app reads and writes of the sites (点位): their events
// and their projection, written together.
type SiteStore interface {
	// AppendSite records a site command's events and the site after them;
	// ECONFLICT when the site is no longer at before.Version.
	AppendSite(ctx context.Context, before duban.Site, events []duban.SiteEvent) error
	// Site returns a site; ENOTFOUND when there is none.
	Site(ctx context.Context, id string) (duban.Site, error)
	// Sites lists the sites f selects by id, and the id to list the next
	// page after ("" on the last).
	Sites(ctx context.Context, f duban.SiteFilter) ([]duban.Site, string, error)
	// SiteEvents returns a site's events in version order.
	SiteEvents(ctx context.Context, id string) ([]duban.SiteEvent, error)

	// RecordRound records a planned round and the sites it drew; a round
	// whose id is there already is left as it is and answered, created
	// false. Round returns one with what of it is inspected (ENOTFOUND
	// when none); Rounds the latest, at most limit, those with a site for
	// inspector (every one for "").
	RecordRound(ctx context.Context, r duban.Round) (stored duban.Round, created bool, err error)
	Round(ctx context.Context, id string) (duban.Round, error)
	Rounds(ctx context.Context, inspector string, limit int) ([]duban.Round, error)
	// RecordRoundStep records a step of a round's ladder, unless its level
	// is recorded already (recorded false).
	RecordRoundStep(ctx context.Context, step duban.RoundStep) (recorded bool, err error)
	// RecordInspection records a site's inspection in its round; one there
	// already is left as it is and answered, created false. Inspection
	// returns it (nil when there is none).
	RecordInspection(ctx context.Context, in duban.SiteInspection) (stored duban.SiteInspection, created bool, err error)
	Inspection(ctx context.Context, round, site string) (*duban.SiteInspection, error)
	// SiteCounts counts the site report's figures over q, per site type
	// with an active site or an inspection (Policy.SiteRows completes
	// them); Inspections lists a site's inspections in [from, to), the
	// latest first.
	SiteCounts(ctx context.Context, q duban.SiteReportQuery) ([]duban.SiteTypeRow, error)
	// SiteScores counts each site inspected over q (duban.WorstSites ranks
	// them).
	SiteScores(ctx context.Context, q duban.SiteReportQuery) ([]duban.SiteScore, error)
	Inspections(ctx context.Context, site string, from, to time.Time) ([]duban.SiteInspection, error)
	// LastFinding returns the last case opened for item at site but the
	// case except (nil when none); cases cancelled as invalid or as
	// duplicates do not count.
	LastFinding(ctx context.Context, site, item, except string) (*duban.LastFinding, error)
}

// Engine runs commands on cases: each case's single writer, which decides
// the command again on the case as it stands, records its events and
// answers with the case after them. Its refusals are Decide's errors; when
// the case's writer has ended (the case is over), it answers ErrEnded.
type Engine interface {
	// Open opens the case cmd names, or answers as the case decides when
	// it is already open (the same request: the case; another: a conflict).
	Open(ctx context.Context, cmd duban.OpenCase) (duban.Case, error)
	// Execute gives cmd to the case. A command repeated with the same
	// commandID is answered as the first one was, never run twice; an
	// empty commandID runs it once, whatever happens.
	Execute(ctx context.Context, caseID string, cmd duban.Command, commandID string) (duban.Case, error)
}

// ResidentStore keeps what residents' reports need beside their cases:
// their follow links, the reporters recognised by phone and the points
// ledger. The points a confirmed report earns are written with its events
// (Store.Append), so that they are earned exactly once.
type ResidentStore interface {
	// AddFollow records a follow link: its token's SHA-256 and its case.
	AddFollow(ctx context.Context, token [32]byte, caseID string, at time.Time) error
	// FollowedCase returns the case of a follow link; ENOTFOUND when none.
	FollowedCase(ctx context.Context, token [32]byte) (string, error)
	// Reporter returns the id of the reporter with the phone whose SHA-256
	// is phone: the one recorded, else newID, recorded with masked.
	Reporter(ctx context.Context, phone [32]byte, masked, newID string, at time.Time) (string, error)
	// KnownReporter returns the id of the reporter with that phone;
	// ENOTFOUND when none.
	KnownReporter(ctx context.Context, phone [32]byte) (string, error)
	// Points tallies a reporter's ledger: earned since day and since
	// month, and the balance.
	Points(ctx context.Context, reporter string, day, month time.Time) (duban.PointsTally, error)
	// Redeem records a redemption, refused (ECONFLICT) beyond the balance;
	// it answers with the balance after it.
	Redeem(ctx context.Context, r duban.Redemption) (int, error)
	// Leaderboard ranks the reporters by the points earned in [from, to),
	// the n first, masked.
	Leaderboard(ctx context.Context, from, to time.Time, n int) ([]duban.Leader, error)
	// PublicRequests returns the cases f selects as Open311 shows them,
	// newest first, f.Limit at most: without decoding a case.
	PublicRequests(ctx context.Context, f duban.CaseFilter) ([]PublicRequest, error)
}

// ErrEnded is an Engine's answer to a command for a case whose writer has
// ended: the case is over, and the store says why the command is refused.
var ErrEnded = errors.New("the case's writer has ended")

// Row is a case as the projection holds it: the case, and what other
// cases' events say of it.
type Row struct {
	duban.Case
	// Duplicates are the cases cancelled as duplicates of this one.
	Duplicates []string
}

// Listed is a case as reads send it: its view as stored, its clock and the
// cases merged into it, with what paging and access checks need. Reading it
// decodes no case.
type Listed struct {
	ID         string
	Unit       string
	OpenedAt   time.Time
	Version    int64
	View       []byte // a JSON object: duban.View
	Clock      duban.Clock
	Duplicates []string
}

// Plotted is a case as the map draws it: where, what, and its clock; read
// from the projection's columns, no view decoded.
type Plotted struct {
	ID, Number, Category string
	Status               duban.Status
	Lat, Lon             float64
	Listed               bool
	Clock                duban.Clock
}

// Answer is a case as a command leaves it.
type Answer struct {
	Case       duban.Case
	Duplicates []string
	// Created is true for the open that made the case, false for a
	// repeat of it and for every other command.
	Created bool
}

// Service runs every door's commands and reads.
type Service struct {
	Policy *duban.Policy
	Store  Store
	Engine Engine
	// Now is the clock decisions and the overdue filters are read against
	// (default time.Now).
	Now func() time.Time
	// CommandTimeout bounds how long a command waits for its case's answer
	// (default 30 s).
	CommandTimeout time.Duration
	// Dependencies are what Watch checks; Logger says when one goes down or
	// comes back (default slog.Default()).
	Dependencies []Dependency
	Logger       *slog.Logger
	// Feed follows the event log for the streams; nil where no stream is served.
	Feed *Feed
	// Sessions keeps the office pages' sessions, which last SessionLifetime
	// (default 12 h).
	Sessions        SessionStore
	SessionLifetime time.Duration
	// Outbox reads and replays the subscriptions' failed deliveries.
	Outbox Outbox
	// Attachments and Blobs keep the attachments (nil: none are taken).
	Attachments AttachmentStore
	Blobs       BlobStore
	// Sites keeps the sites (点位); nil where none are served.
	Sites SiteStore
	// Residents keeps residents' follow links and points; nil where no
	// resident reports.
	Residents ResidentStore
	// Ladders starts the ladder of each round planned (nil: rounds are
	// planned without one, as by a scheduled round's own workflow).
	Ladders interface {
		StartRound(ctx context.Context, id string) error
	}
	// Observe, when set, is told the outcome of every open and command
	// (nil, or the refusal): the metrics count them.
	Observe func(command string, err error)

	gate   gate
	health health
	posts  posts
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) observe(command string, err error) {
	if s.Observe != nil {
		s.Observe(command, err)
	}
}

func (s *Service) commandTimeout() time.Duration {
	if s.CommandTimeout <= 0 {
		return 30 * time.Second
	}
	return s.CommandTimeout
}
