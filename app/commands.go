package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/duban/duban"
)

// Open opens a case with the request cmd holds (its category, severity,
// description, location and evidence; by whom). key is the request's
// Idempotency-Key, or empty: the same key from the same principal with the
// same request answers with the same case, never a second one, and with
// another request is a conflict.
func (s *Service) Open(ctx context.Context, cmd duban.OpenCase, key string) (a Answer, err error) {
	defer func() { s.observe(cmd.Name(), err) }()
	if err := s.available(); err != nil {
		return Answer{}, err
	}
	cmd = s.Policy.Resolve(cmd).(duban.OpenCase)
	if cmd.Stored, err = s.storedAttachments(ctx, cmd.Evidence); err != nil {
		return Answer{}, err
	}
	cmd.RequestHash = requestHash(cmd)
	if cmd.CaseID == "" { // a resident's report has drawn its id already
		cmd.CaseID = newCaseID(cmd.By, key)
	}
	if _, err := duban.Decide(duban.Case{}, cmd, s.now()); err != nil {
		return Answer{}, err
	}
	if key != "" {
		if a, found, err := s.reopened(ctx, cmd); found || err != nil {
			return a, err
		}
	}
	// The number is drawn last, once the open is known to be a new case's:
	// a number drawn for an open that then fails is skipped, never reused.
	year := s.Policy.NumberYear(s.now())
	seq, err := s.Store.NextCaseNumber(ctx, year)
	if err != nil {
		return Answer{}, err
	}
	cmd.Number = duban.CaseNumber(year, seq)
	engineCtx, cancel := context.WithTimeout(ctx, s.commandTimeout())
	defer cancel()
	c, err := s.Engine.Open(engineCtx, cmd)
	if err != nil {
		// A repeat racing this request may have opened the case, or opened
		// and finished it, so that its workflow refuses a new start.
		if key != "" {
			if a, found, readErr := s.reopened(ctx, cmd); found && readErr == nil {
				return a, nil
			}
		}
		return Answer{}, err
	}
	return Answer{Case: c, Created: true}, nil
}

// reopened answers a repeated open from the store: found is false when
// the case is not there.
func (s *Service) reopened(ctx context.Context, cmd duban.OpenCase) (a Answer, found bool, err error) {
	row, err := s.Store.Case(ctx, cmd.CaseID)
	if duban.ErrorCode(err) == duban.ENOTFOUND {
		return Answer{}, false, nil
	} else if err != nil {
		return Answer{}, false, err
	}
	if _, err := duban.Decide(row.Case, cmd, s.now()); err != nil {
		return Answer{}, true, err
	}
	return Answer{Case: row.Case, Duplicates: row.Duplicates}, true, nil
}

// caseIDSpace is the UUID namespace of case ids derived from Idempotency-Keys.
var caseIDSpace = uuid.MustParse("3d0f6a52-9b1e-4c67-8a2d-51e0c4b7f9a3")

// newCaseID is the id of a case by opens: its Idempotency-Key's, or a
// new one without.
func newCaseID(by duban.Principal, key string) string {
	if key == "" {
		return uuid.Must(uuid.NewV7()).String()
	}
	return caseIDFor(by, key)
}

// caseIDFor is the id of the case by opens with Idempotency-Key key.
func caseIDFor(by duban.Principal, key string) string {
	return uuid.NewSHA1(caseIDSpace, []byte(by.ID+"\n"+key)).String()
}

// openRequest is what an open's RequestHash is taken of: the request, its
// defaults applied, as JSON in this shape. The shape must never change: a
// repeated open is recognised by its hash, also across an upgrade.
type openRequest struct {
	Category    string           `json:"category"`
	Severity    duban.Severity   `json:"severity"`
	Description string           `json:"description"`
	Location    openLocation     `json:"location"`
	Evidence    []duban.Evidence `json:"evidence"`
}

type openLocation struct {
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	Address string  `json:"address"`
	Area    string  `json:"area"`
}

// requestHash fingerprints the request an open carries.
func requestHash(cmd duban.OpenCase) string {
	b, _ := json.Marshal(openRequest{
		Category: cmd.Category, Severity: cmd.Severity, Description: cmd.Description, Evidence: cmd.Evidence,
		Location: openLocation{Lat: cmd.Location.Lat, Lon: cmd.Location.Lon, Address: cmd.Location.Address, Area: cmd.Location.Area},
	})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Execute gives cmd to the case caseID and answers with the case after it.
// key is the command's Idempotency-Key, or empty: a command repeated with
// its key is answered as the first one was, never applied twice, even when
// the case has moved on since.
func (s *Service) Execute(ctx context.Context, caseID string, cmd duban.Command, key string) (a Answer, err error) {
	defer func() { s.observe(cmd.Name(), err) }()
	if err := s.available(); err != nil {
		return Answer{}, err
	}
	before, err := s.Store.Case(ctx, caseID)
	if err != nil {
		return Answer{}, err
	}
	if cmd, err = s.resolve(ctx, before, cmd); err != nil {
		return Answer{}, err
	}
	commandID := ""
	if key != "" {
		sum := sha256.Sum256([]byte(cmd.Meta().By.ID + "\n" + cmd.Name() + "\n" + key))
		commandID = "key:" + hex.EncodeToString(sum[:16])
	}
	if _, err := duban.Decide(before.Case, cmd, s.now()); err != nil {
		return s.answerLost(ctx, before, commandID, err)
	}
	if err := s.gate.enter(caseID); err != nil {
		return Answer{}, err
	}
	defer s.gate.leave(caseID)
	engineCtx, cancel := context.WithTimeout(ctx, s.commandTimeout())
	defer cancel()
	after, err := s.Engine.Execute(engineCtx, caseID, cmd, commandID)
	if errors.Is(err, ErrEnded) {
		return s.ended(ctx, caseID, cmd, commandID, err)
	} else if err != nil {
		return Answer{}, err
	}
	// What other cases say of this one (its duplicates) is as read before
	// the command: no command on this case changes it.
	return Answer{Case: after, Duplicates: before.Duplicates}, nil
}

// ended answers a command whose case ended while the command was on its way
// (its writer is gone): the case as the store holds it now refuses it, or
// answers it as the command's first attempt, when the command is a repeat
// of one that was applied. A case the store holds as open, whose writer is
// gone all the same (stopped by hand), is an internal error.
func (s *Service) ended(ctx context.Context, caseID string, cmd duban.Command, commandID string, engineErr error) (Answer, error) {
	now, err := s.Store.Case(ctx, caseID)
	if err != nil {
		return Answer{}, err
	}
	if _, refusal := duban.Decide(now.Case, cmd, s.now()); refusal != nil {
		return s.answerLost(ctx, now, commandID, refusal)
	}
	return Answer{}, fmt.Errorf("case %s is %s in the store: %w", caseID, now.Status, engineErr)
}

// resolve gives cmd the facts its decision needs: the policy's, which of
// its evidence's attachments are stored, and for a duplicate, its
// original as the store holds it (none when there is no such case).
func (s *Service) resolve(ctx context.Context, before Row, cmd duban.Command) (duban.Command, error) {
	cmd = s.Policy.Resolve(cmd)
	var err error
	switch c := cmd.(type) {
	case duban.Resolve:
		c.Stored, err = s.storedAttachments(ctx, c.Evidence)
		return c, err
	case duban.Verify:
		c.Stored, err = s.storedAttachments(ctx, c.Evidence)
		return c, err
	case duban.Confirm:
		return s.resolveConfirm(ctx, before, c)
	}
	cancel, ok := cmd.(duban.Cancel)
	if !ok || cancel.DuplicateOf == "" {
		return cmd, nil
	}
	original := before
	if cancel.DuplicateOf != before.ID {
		var err error
		original, err = s.Store.Case(ctx, cancel.DuplicateOf)
		if duban.ErrorCode(err) == duban.ENOTFOUND {
			return cancel, nil
		} else if err != nil {
			return nil, err
		}
	}
	cancel.Original = original.Ref()
	return cancel, nil
}

// answerLost answers a command that the case refuses (refusal) with what
// the case answered it the first time, when it is a repeat of a command
// that was applied and whose answer was lost (the client timed out, the
// API died): the case has moved on, but the repeat answers as the first
// would have. Any other refusal stands.
func (s *Service) answerLost(ctx context.Context, before Row, commandID string, refusal error) (Answer, error) {
	code := duban.ErrorCode(refusal)
	if commandID == "" || (code != duban.ECONFLICT && code != duban.EPRECONDITION) {
		return Answer{}, refusal
	}
	after, applied, err := s.Store.CaseAfter(ctx, before.ID, commandID)
	if err != nil {
		return Answer{}, err
	}
	if !applied {
		return Answer{}, refusal
	}
	return Answer{Case: after, Duplicates: before.Duplicates}, nil
}
