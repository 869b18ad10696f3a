package duban

// Who may do what, in one place: which commands each role may give (Decide
// asks authorize and MayOpen) and what each may read (the application layer
// asks CanRead, ScopeList and MayWatchEscalations before every read). A case
// a principal may not see does not exist for it: reads and commands alike
// answer ENOTFOUND, never EFORBIDDEN, so nothing tells another unit's case
// from no case at all.

// CanSee reports whether p may see c at all. A unit sees only the cases
// assigned to it; everyone else in the campaign sees every case.
// A resident sees their own reports only, through their follow links.
func (p Principal) CanSee(c *Case) bool {
	if p.Role == RoleResident {
		return c.Public != nil && p.ID != "" && c.Reporter == p.ID
	}
	return p.CanSeeAssigned(c.Unit)
}

// CanSeeAssigned reports whether p may see a case assigned to unit ("" for
// none): what CanSee decides, for a reader that has only the unit.
func (p Principal) CanSeeAssigned(unit string) bool {
	switch p.Role {
	case RoleInspector, RoleSupervisor, RoleAdmin, RoleSystem:
		return true
	case RoleUnit:
		return p.Unit != "" && unit == p.Unit
	}
	return false
}

// CanRead refuses (ENOTFOUND) the read of a case assigned to unit that p
// may not see: its answer, its events, anything of it.
func (p Principal) CanRead(unit string) error {
	if !p.CanSeeAssigned(unit) {
		return Errorf(ENOTFOUND, "case not found")
	}
	return nil
}

// ScopeList narrows a list's filter to the cases p may see: a unit's list
// holds its own cases only. ok is false when the filter asks for cases p
// may not see (a unit asking for another unit's), which no case can match.
func (p Principal) ScopeList(f CaseFilter) (scoped CaseFilter, ok bool) {
	if p.Role != RoleUnit {
		return f, true
	}
	ok = f.Unit == "" || f.Unit == p.Unit
	f.Unit = p.Unit
	return f, ok
}

// MayWatchEscalations refuses (EFORBIDDEN) all but supervisors and admins:
// the escalation board is the campaign office's.
func (p Principal) MayWatchEscalations() error {
	if !p.Oversees() {
		return Errorf(EFORBIDDEN, "only supervisors and admins watch escalations")
	}
	return nil
}

// MayReadMap refuses (EFORBIDDEN) all but supervisors and admins: the map
// (一张图) is the campaign office's, as the board is.
func (p Principal) MayReadMap() error {
	if !p.Oversees() {
		return Errorf(EFORBIDDEN, "only the office reads the map")
	}
	return nil
}

// MayManageSubscriptions refuses (EFORBIDDEN) all but supervisors and
// admins: the subscriptions' failed deliveries and their replay.
func (p Principal) MayManageSubscriptions() error {
	if !p.Oversees() {
		return Errorf(EFORBIDDEN, "only supervisors and admins manage subscriptions")
	}
	return nil
}

// MayRedeem refuses (EFORBIDDEN) all but supervisors and admins: the
// office records what residents' points were spent on.
func (p Principal) MayRedeem() error {
	if !p.Oversees() {
		return Errorf(EFORBIDDEN, "only the office records redemptions of points")
	}
	return nil
}

// Oversees reports whether p sees and steers every case: supervisors and admins.
func (p Principal) Oversees() bool {
	return p.Role == RoleSupervisor || p.Role == RoleAdmin
}

// MayOpen refuses (EFORBIDDEN) a principal who may not open cases: only
// inspectors, supervisors and admins may.
func (p Principal) MayOpen() error {
	if !p.is(RoleInspector, RoleSupervisor, RoleAdmin) {
		return Errorf(EFORBIDDEN, "%s may not open cases", p.Role.withArticle())
	}
	return nil
}

// MayReport refuses (EFORBIDDEN) all but residents the opening of a
// resident's report, which waits for the office's check.
func (p Principal) MayReport() error {
	if p.Role != RoleResident {
		return Errorf(EFORBIDDEN, "%s may not open a resident's report", p.Role.withArticle())
	}
	return nil
}

// MayUpload refuses (EFORBIDDEN) a principal who may not store
// attachments: everyone who gives commands with evidence may, and
// residents the photos of their reports.
func (p Principal) MayUpload() error {
	if !p.is(RoleInspector, RoleUnit, RoleSupervisor, RoleAdmin, RoleResident) {
		return Errorf(EFORBIDDEN, "%s may not upload attachments", p.Role.withArticle())
	}
	return nil
}

// SeesWholeEvidence reports whether p, who may see a case assigned to unit
// and reported by reporter, sees its attached photos as they were taken,
// with where and when (EXIF): the case's reporter, the unit it is assigned
// to, and those who oversee every case. Anyone else who may see it gets
// copies without that metadata.
func (p Principal) SeesWholeEvidence(unit, reporter string) bool {
	return p.Oversees() || (p.ID != "" && p.ID == reporter) || (p.Role == RoleUnit && p.Unit != "" && p.Unit == unit)
}

// authorize checks that the actor's role may give cmd to c, which it can see.
func authorize(c *Case, cmd Command) error {
	by := cmd.Meta().By
	var ok bool
	switch cmd.(type) {
	case Acknowledge, Resolve, Dispute, RequestExtension:
		ok = by.Role == RoleUnit && by.Unit == c.Unit
	case Verify, Confirm, Reject:
		ok = by.is(RoleInspector, RoleSupervisor, RoleAdmin)
	case Assign, DecideExtension, Urge, Cancel, Suspend, Resume, List, Delist, Reopen:
		ok = by.Oversees()
	case Rate:
		ok = by.Role == RoleResident
	case AddComment:
		ok = by.Role != RoleSystem && by.Role != RoleResident
	case Tick:
		ok = by.Role == RoleSystem
	}
	if !ok {
		return Errorf(EFORBIDDEN, "%s may not %s this case", by.Role.withArticle(), deed(cmd))
	}
	return nil
}

// deed says in words what cmd does to a case, for a refusal: "a unit may
// not decide extensions of this case".
func deed(cmd Command) string {
	switch cmd.(type) {
	case AddComment:
		return "comment on"
	case RequestExtension:
		return "ask for an extension of"
	case DecideExtension:
		return "decide extensions of"
	case Tick:
		return "record deadlines of"
	}
	return cmd.Name()
}

// MayReadScorecard refuses the scorecard of unit ("" for every unit's) to
// a principal who may not read it: supervisors and admins read every
// unit's; a unit its own, another unit's being not found (404), as its
// cases are; an inspector none (EFORBIDDEN).
func (p Principal) MayReadScorecard(unit string) error {
	switch {
	case p.Oversees():
		return nil
	case p.Role == RoleUnit && (unit == "" || unit == p.Unit):
		return nil
	case p.Role == RoleUnit:
		return Errorf(ENOTFOUND, "no scorecard of unit %q here", unit)
	}
	return Errorf(EFORBIDDEN, "%s may not read the units' scorecards", p.Role.withArticle())
}

// MayReadSanctions refuses the sanctions of unit ("" for every unit's) to
// whom MayReadScorecard refuses its rows, in the sanctions' words: the
// office reads every unit's, a unit its own (another's is not found), an
// inspector none.
func (p Principal) MayReadSanctions(unit string) error {
	switch ErrorCode(p.MayReadScorecard(unit)) {
	case "":
		return nil
	case ENOTFOUND:
		return Errorf(ENOTFOUND, "no sanctions of unit %q here", unit)
	}
	return Errorf(EFORBIDDEN, "%s may not read the sanctions", p.Role.withArticle())
}

// ScopeScorecard is the unit whose scorecard rows p reads when asking for
// unit's ("" every unit's), or MayReadScorecard's refusal: the office
// reads what it asks for, a unit its own row whatever it asks.
func (p Principal) ScopeScorecard(unit string) (string, error) {
	return p.ownUnit(unit, p.MayReadScorecard(unit))
}

// ScopeSanctions is the unit whose sanctions p reads when asking for
// unit's ("" every unit's), or MayReadSanctions' refusal: the office
// reads what it asks for, a unit its own whatever it asks.
func (p Principal) ScopeSanctions(unit string) (string, error) {
	return p.ownUnit(unit, p.MayReadSanctions(unit))
}

// ownUnit is the unit p reads when it asks for unit's, given whether it
// may (refusal): a unit its own, anyone else what it asks for.
func (p Principal) ownUnit(unit string, refusal error) (string, error) {
	switch {
	case refusal != nil:
		return "", refusal
	case p.Role == RoleUnit:
		return p.Unit, nil
	}
	return unit, nil
}

// ScopeBulletin is b as p reads it, once MayReadScorecard("") allows it:
// the office all of it, a unit its own row, its own place on the lists
// and its own sanctions (Bulletin.Only).
func (p Principal) ScopeBulletin(b Bulletin) Bulletin {
	if p.Role == RoleUnit {
		return b.Only(p.Unit)
	}
	return b
}

// MayReadInspectorReport refuses the inspectors' report to all but
// supervisors and admins.
func (p Principal) MayReadInspectorReport() error {
	if !p.Oversees() {
		return Errorf(EFORBIDDEN, "only supervisors and admins read the inspectors' report")
	}
	return nil
}
