package duban

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
	// RoleResident is a resident reporting through the public page or an
	// Open311 client: never a principal of the policy.
	RoleResident Role = "resident"
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
	switch r {
	case RoleInspector, RoleAdmin:
		return "an " + string(r)
	case "":
		return "a principal without a role"
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

// is reports whether p holds one of roles.
func (p Principal) is(roles ...Role) bool {
	for _, r := range roles {
		if p.Role == r {
			return true
		}
	}
	return false
}
