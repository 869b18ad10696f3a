package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/duban/duban"
)

// PublicReport is a resident's report as the public page, a client of
// /v1/public or an Open311 client sends it: its photos already uploaded
// (Upload, as the resident), its reporter found by Reporter.
type PublicReport struct {
	Category    string
	Description string
	Location    duban.Location
	Evidence    []duban.Evidence
	// Channel is duban.ChannelWeb or "open311:<client>".
	Channel string
}

// Reported is what a resident is answered: the case and its follow link's
// token, which only this answer ever holds.
type Reported struct {
	Case  duban.Case
	Token string
	// Created is false for a repeat of the report (the same key).
	Created bool
}

// Reporter returns the resident principal a report with phone (or none)
// comes from: the one recorded for the phone, else a new one. A report
// without a phone, retried under its Idempotency-Key key, is the same
// reporter's; with neither, a new reporter.
func (s *Service) Reporter(ctx context.Context, phone, key string) (duban.Principal, error) {
	if err := s.residentsServed(); err != nil {
		return duban.Principal{}, err
	}
	if phone == "" {
		id := duban.NewResidentID()
		if key != "" {
			sum := sha256.Sum256([]byte("resident\n" + key))
			id = hex.EncodeToString(sum[:8])
		}
		return duban.Principal{ID: duban.ResidentID(id), Role: duban.RoleResident}, nil
	}
	digits, ok := duban.NormalisePhone(phone)
	if !ok {
		return duban.Principal{}, duban.Invalid(duban.Field("phone", "is not a phone number"))
	}
	id, err := s.Residents.Reporter(ctx, sha256.Sum256([]byte(digits)), duban.MaskPhone(digits), duban.ResidentID(duban.NewResidentID()), s.now())
	return duban.Principal{ID: id, Role: duban.RoleResident}, err
}

// MayPost takes one of the posts allowed from address in an hour, and,
// for a report with phone, one of the phone's in a day: a post beyond
// either is refused (ETOOMANY, with how long to wait). An empty address
// or phone is not counted: a door that knows the phone only once it has
// read the body asks for each in turn.
func (s *Service) MayPost(address, phone string) error {
	pub, now := s.Policy.Public, s.now()
	if address != "" {
		if wait := s.posts.take("addr:"+address, pub.PerAddress, time.Hour, now); wait > 0 {
			return duban.TooMany(wait, "too many reports from this address: try again in %s", roundUp(wait))
		}
	}
	if digits, ok := duban.NormalisePhone(phone); ok {
		sum := sha256.Sum256([]byte(digits))
		if wait := s.posts.take("phone:"+string(sum[:]), pub.PerPhone, 24*time.Hour, now); wait > 0 {
			return duban.TooMany(wait, "too many reports with this phone today: try again in %s", roundUp(wait))
		}
	}
	return nil
}

// roundUp rounds d up to whole minutes, as a wait is said.
func roundUp(d time.Duration) time.Duration { return (d + time.Minute - 1).Truncate(time.Minute) }

// Report opens a resident's report by (see Reporter): a case in reported,
// awaiting the office's check, and its follow link. key is the request's
// Idempotency-Key, or empty: a report retried with it is the same report,
// answered with a new follow link to it.
func (s *Service) Report(ctx context.Context, by duban.Principal, r PublicReport, key string) (Reported, error) {
	if err := s.residentsServed(); err != nil {
		return Reported{}, err
	}
	cmd := duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: by},
		Category:    r.Category, Severity: duban.SeverityNormal, Description: r.Description,
		Location: r.Location, Evidence: r.Evidence,
		Public: &duban.PublicOpen{Channel: r.Channel},
	}
	cmd.CaseID = newCaseID(by, key) // drawn here for the link; Open keeps it
	token, hash := followToken()
	// The link is recorded first: a link to a report that then fails to
	// open leads nowhere (404), never a report without its link.
	if err := s.Residents.AddFollow(ctx, hash, cmd.CaseID, s.now()); err != nil {
		return Reported{}, err
	}
	a, err := s.Open(ctx, cmd, key)
	if err != nil {
		return Reported{}, err
	}
	return Reported{Case: a.Case, Token: token, Created: a.Created}, nil
}

// followToken draws a follow link's token: 128 random bits, URL-safe, and
// its SHA-256, which is all the store keeps.
func followToken() (string, [32]byte) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	return token, sha256.Sum256([]byte(token))
}

// Followed is a resident's report as its follow link shows it: never the
// reporter's phone or name, nor the office's internal comments.
type Followed struct {
	Number      string         `json:"number"`
	Status      duban.Status   `json:"status"`
	Category    string         `json:"category"`
	Description string         `json:"description"`
	Address     string         `json:"address,omitempty"`
	OpenedAt    time.Time      `json:"opened_at"`
	Replies     []Reply        `json:"replies"`
	Outcome     duban.Outcome  `json:"outcome,omitempty"`
	Photos      []FollowPhoto  `json:"photos"`
	Rating      *FollowRating  `json:"rating,omitempty"`
	RateBy      *time.Time     `json:"rate_by,omitempty"`
	MayRate     bool           `json:"may_rate"`
	Points      *FollowPoints  `json:"points,omitempty"`
	Rejected    string         `json:"rejected,omitempty"`
	DuplicateOf *FollowedMerge `json:"merged_into,omitempty"`
}

// Reply is a step of the report the resident is told of, with the
// office's or the unit's words where there are any.
type Reply struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"` // reported, confirmed, rejected, dispatched, resolved, rework, closed, reopened, merged, cancelled, rated
	Text string    `json:"text,omitempty"`
}

// FollowPhoto is a photo of the report (before) or of its fix (after,
// once closed), served by the follow link without where and when it was
// taken.
type FollowPhoto struct {
	N     int    `json:"n"`
	Stage string `json:"stage"` // before, after
	URL   string `json:"url"`
}

// FollowRating is the reporter's rating of the latest closing.
type FollowRating struct {
	Rating  duban.Rating `json:"rating"`
	Comment string       `json:"comment,omitempty"`
}

// FollowPoints is what the report earned and the reporter's ledger.
type FollowPoints struct {
	Earned int `json:"earned"`
	duban.PointsTally
}

// FollowedMerge is the case a report was merged into: its status only.
type FollowedMerge struct {
	Number string       `json:"number"`
	Status duban.Status `json:"status"`
}

// follower reads a resident's report for its follow link: it sees every
// case, and their photos only without metadata (duban.SeesWholeEvidence).
var follower = duban.Principal{ID: "follow-link", Role: duban.RoleSystem}

// followed returns the case a follow link's token leads to.
func (s *Service) followed(ctx context.Context, token string) (Row, error) {
	if err := s.residentsServed(); err != nil {
		return Row{}, err
	}
	id, err := s.Residents.FollowedCase(ctx, sha256.Sum256([]byte(token)))
	if err != nil {
		return Row{}, err
	}
	row, err := s.Store.Case(ctx, id)
	if err == nil && row.Public == nil {
		err = duban.Errorf(duban.ENOTFOUND, "no report has this follow link")
	}
	return row, err
}

// Follow returns the report token leads to, as its follow link shows it.
func (s *Service) Follow(ctx context.Context, token string) (Followed, error) {
	row, err := s.followed(ctx, token)
	if err != nil {
		return Followed{}, err
	}
	events, err := s.Store.Events(ctx, row.ID)
	if err != nil {
		return Followed{}, err
	}
	c, now := row.Case, s.now()
	f := Followed{
		Number: c.Number, Status: c.Status, Category: c.Category, Description: c.Description, Address: c.Location.Address,
		OpenedAt: c.OpenedAt, Outcome: c.Outcome, Rejected: c.Public.Rejected, RateBy: c.Public.RateBy, MayRate: c.RatingOpen(now) && c.Public.Rating == "",
		Replies: replies(events), Photos: []FollowPhoto{},
	}
	for i, p := range followPhotos(events, c.Status == duban.StatusClosed) {
		f.Photos = append(f.Photos, FollowPhoto{N: i, Stage: p.stage, URL: "/v1/public/reports/" + token + "/photos/" + strconv.Itoa(i)})
	}
	if c.Public.Rating != "" {
		f.Rating = &FollowRating{Rating: c.Public.Rating, Comment: c.Public.RatingComment}
	}
	if c.DuplicateOf != "" {
		if o, err := s.Store.Case(ctx, c.DuplicateOf); err == nil {
			f.DuplicateOf = &FollowedMerge{Number: o.Number, Status: o.Status}
		}
	}
	day, month := s.pointsDay(now)
	tally, err := s.Residents.Points(ctx, c.Reporter, day, month)
	if err != nil {
		return Followed{}, err
	}
	f.Points = &FollowPoints{Earned: c.Public.Points, PointsTally: tally}
	return f, nil
}

// replies are the steps of a report its reporter is told of.
func replies(events []duban.Event) []Reply {
	var out []Reply
	for _, e := range events {
		if r, ok := reply(e); ok {
			out = append(out, r)
		}
	}
	return out
}

// reply is the step event e is, as its reporter is told; false for an
// event they are not told of.
func reply(e duban.Event) (Reply, bool) {
	r := Reply{At: e.OccurredAt}
	switch d := e.Data.(type) {
	case duban.CaseReported:
		r.Kind = "reported"
	case duban.ReportConfirmed:
		r.Kind, r.Text = "confirmed", d.Note
	case duban.ReportRejected:
		r.Kind, r.Text = "rejected", d.Reason
	case duban.CaseDispatched:
		r.Kind = "dispatched"
	case duban.CaseResolved:
		r.Kind, r.Text = "resolved", d.Note
	case duban.VerificationFailed:
		r.Kind = "rework"
	case duban.CaseClosed:
		r.Kind = "closed"
	case duban.CaseReopened:
		r.Kind = "reopened"
	case duban.ReporterRated:
		r.Kind = "rated"
	case duban.CaseCancelled:
		r.Kind, r.Text = "cancelled", d.Reason
		if d.DuplicateOf != "" {
			r.Kind, r.Text = "merged", ""
		}
	default:
		return Reply{}, false
	}
	return r, true
}

type followPhoto struct {
	stage string
	id    string
}

// followPhotos are the report's photos and, once closed, those of its
// latest fix: the attachments only.
func followPhotos(events []duban.Event, closed bool) []followPhoto {
	var before, after []followPhoto
	for _, e := range events {
		switch d := e.Data.(type) {
		case duban.CaseReported:
			for _, id := range duban.Attachments(d.Evidence) {
				before = append(before, followPhoto{"before", id})
			}
		case duban.CaseResolved:
			after = after[:0]
			for _, id := range duban.Attachments(d.Evidence) {
				after = append(after, followPhoto{"after", id})
			}
		}
	}
	if !closed {
		return before
	}
	return append(before, after...)
}

// FollowPhoto returns photo n of the report token leads to, without its
// metadata, or its thumbnail.
func (s *Service) FollowPhoto(ctx context.Context, token string, n int, thumbnail bool) (Blob, error) {
	row, err := s.followed(ctx, token)
	if err != nil {
		return Blob{}, err
	}
	events, err := s.Store.Events(ctx, row.ID)
	if err != nil {
		return Blob{}, err
	}
	photos := followPhotos(events, row.Status == duban.StatusClosed)
	if n < 0 || n >= len(photos) {
		return Blob{}, duban.Errorf(duban.ENOTFOUND, "the report has no photo %d", n)
	}
	return s.AttachmentFile(ctx, follower, photos[n].id, thumbnail)
}

// Rate gives the reporter's rating of the report token leads to.
func (s *Service) Rate(ctx context.Context, token string, rating duban.Rating, comment string) (Followed, error) {
	row, err := s.followed(ctx, token)
	if err != nil {
		return Followed{}, err
	}
	by := duban.Principal{ID: row.Reporter, Role: duban.RoleResident}
	if _, err := s.Execute(ctx, row.ID, duban.Rate{CommandMeta: duban.CommandMeta{By: by}, Rating: rating, Comment: comment}, ""); err != nil {
		return Followed{}, err
	}
	return s.Follow(ctx, token)
}

// NearbyCase is an open case near a resident's report: one the check may
// merge it into.
type NearbyCase struct {
	ID, Number  string
	Status      duban.Status
	Description string
	Meters      int
}

// Nearby returns the open cases by may see that report c may be merged
// into (duban.Case.Near), nearest first.
func (s *Service) Nearby(ctx context.Context, by duban.Principal, c duban.Case) ([]NearbyCase, error) {
	var open []duban.Status
	for _, st := range duban.OpenStatuses() {
		if st != duban.StatusReported {
			open = append(open, st)
		}
	}
	listed, _, err := s.Cases(ctx, by, duban.CaseFilter{Category: c.Category, Statuses: open, OpenedFrom: c.OpenedAt.Add(-duban.NearbyWithin), Limit: 500})
	if err != nil {
		return nil, err
	}
	var near []NearbyCase
	for _, l := range listed {
		var v duban.View
		if err := json.Unmarshal(l.View, &v); err != nil {
			return nil, err
		}
		if v.ID != c.ID && c.Near(v.Status, v.Location, v.OpenedAt) {
			near = append(near, NearbyCase{ID: v.ID, Number: v.Number, Status: v.Status, Description: v.Description, Meters: int(math.Round(duban.Distance(c.Location, v.Location)))})
		}
	}
	slices.SortStableFunc(near, func(a, b NearbyCase) int { return a.Meters - b.Meters })
	return near, nil
}

// pointsDay returns the start of now's day and month in the policy's time
// zone: what the points caps count from.
func (s *Service) pointsDay(now time.Time) (day, month time.Time) {
	t := now.In(s.zone())
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location()), time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
}

// resolveConfirm gives a confirm its facts: the unit routing finds for the
// report, the original it names, the points its reporter is due.
func (s *Service) resolveConfirm(ctx context.Context, before Row, c duban.Confirm) (duban.Command, error) {
	c.Unit, c.Routing = s.Policy.Route(before.Category, before.Location.Area)
	if c.DuplicateOf != "" {
		original, err := s.Store.Case(ctx, c.DuplicateOf)
		if err != nil && duban.ErrorCode(err) != duban.ENOTFOUND {
			return nil, err
		} else if err == nil {
			c.Original = original.Ref()
		}
	}
	c.Points = duban.PointsDue{PointsRule: s.Policy.Public.Points}
	if s.Residents != nil && before.Public != nil {
		day, month := s.pointsDay(s.now())
		tally, err := s.Residents.Points(ctx, before.Reporter, day, month)
		if err != nil {
			return nil, err
		}
		c.Points.Today, c.Points.Month = tally.Today, tally.Month
	}
	return c, nil
}

// Redeem records points a reporter, known by phone, spent: by the office
// only. It answers with the balance left.
func (s *Service) Redeem(ctx context.Context, by duban.Principal, phone string, points int, note string) (int, error) {
	if err := by.MayRedeem(); err != nil {
		return 0, err
	}
	if err := s.residentsServed(); err != nil {
		return 0, err
	}
	var errs []duban.FieldError
	digits, ok := duban.NormalisePhone(phone)
	if !ok {
		errs = append(errs, duban.Field("phone", "is not a phone number"))
	}
	if points < 1 {
		errs = append(errs, duban.Field("points", "must be 1 or more"))
	}
	if len(note) > duban.MaxNote {
		errs = append(errs, duban.Field("note", "is too long: at most %d characters", duban.MaxNote))
	}
	if len(errs) > 0 {
		return 0, duban.Invalid(errs...)
	}
	reporter, err := s.Residents.KnownReporter(ctx, sha256.Sum256([]byte(digits)))
	if err != nil {
		return 0, err
	}
	return s.Residents.Redeem(ctx, duban.Redemption{Reporter: reporter, Points: points, Note: note, By: by.ID, At: s.now().UTC().Truncate(time.Millisecond)})
}

// Leaderboard is the public monthly leaderboard of the month holding at,
// in the policy's time zone: the n first reporters, their phones masked.
func (s *Service) Leaderboard(ctx context.Context, at time.Time, n int) ([]duban.Leader, error) {
	if err := s.residentsServed(); err != nil {
		return nil, err
	}
	_, month := s.pointsDay(at)
	return s.Residents.Leaderboard(ctx, month, month.AddDate(0, 1, 0), n)
}

func (s *Service) residentsServed() error {
	if s.Residents == nil || len(s.Policy.PublicCategories()) == 0 {
		return duban.Errorf(duban.ENOTFOUND, "this duban takes no residents' reports")
	}
	return nil
}

// posts counts the public posts by address and by phone, in fixed
// windows. It is each process's own: with several API processes behind a
// balancer, each allows the policy's limits.
type posts struct {
	mu      sync.Mutex
	windows map[string]*postWindow
	swept   time.Time
}

type postWindow struct {
	start time.Time
	n     int
}

// take counts a post under key, at most limit per window: it returns how
// long to wait when the window is full, else 0.
func (p *posts) take(key string, limit int, window time.Duration, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.windows == nil {
		p.windows = map[string]*postWindow{}
	}
	if now.Sub(p.swept) >= time.Minute {
		// Once a minute, forget the windows that have ended (a day is
		// the longest): what a flood of addresses costs is the memory
		// of a day's posts.
		for k, w := range p.windows {
			if now.Sub(w.start) >= 24*time.Hour {
				delete(p.windows, k)
			}
		}
		p.swept = now
	}
	w := p.windows[key]
	if w == nil || now.Sub(w.start) >= window {
		w = &postWindow{start: now}
		p.windows[key] = w
	}
	if w.n >= limit {
		return w.start.Add(window).Sub(now)
	}
	w.n++
	return 0
}
