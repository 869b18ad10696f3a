package duban

import "strings"

// Role is what a principal is in the campaign, and so what it may do.
type Role string

// The roles of SPEC.md. RoleSystem is duban itself: the actor of deadline
// warnings and escalations that fire with no one looking.
const (
	RoleInspector  Role = "inspector"
	RoleUnit       Role = "unit"
	RoleSupervisor Role = "supervisor"
	RoleAdmin      Role = "admin"
	RoleSystem     Role = "system"
)

// Valid reports whether r is one of the roles a person can hold.
func (r Role) Valid() bool {
	switch r {
	case RoleInspector, RoleUnit, RoleSupervisor, RoleAdmin:
		return true
	}
	return false
}

// withArticle names the role for a message: "an inspector", "a unit".
func (r Role) withArticle() string {
	if r != "" && strings.ContainsRune("aeiou", rune(r[0])) {
		return "an " + string(r)
	}
	return "a " + string(r)
}

// Principal is who acts: resolved from a bearer token, recorded as the actor of
// every event. Unit is set for, and only for, RoleUnit.
type Principal struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
	Unit string `json:"unit,omitempty"`
}

// System is the actor of events duban records on its own.
var System = Principal{ID: "system", Role: RoleSystem}

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

// CanSee reports whether p may see c at all. A unit sees only the cases
// assigned to it; everyone else in the campaign sees every case. A case a
// principal may not see does not exist for it (404, not 403).
func (p Principal) CanSee(c *Case) bool { return p.CanSeeAssigned(c.Unit) }

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

// is reports whether p holds one of roles.
func (p Principal) is(roles ...Role) bool {
	for _, r := range roles {
		if p.Role == r {
			return true
		}
	}
	return false
}
