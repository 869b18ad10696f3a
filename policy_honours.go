package duban

import "slices"

// The honours and sanctions as written.
type rawHonours struct {
	RedList   *rawRedList   `yaml:"red_list"`
	BlackList *rawBlackList `yaml:"black_list"`
	Sites     *struct {
		RedList   *rawRedList   `yaml:"red_list"`
		BlackList *rawBlackList `yaml:"black_list"`
	} `yaml:"sites"`
}

type rawRedList struct {
	Top      *int     `yaml:"top"`
	MinScore *float64 `yaml:"min_score"`
}

type rawBlackList struct {
	Below *float64 `yaml:"below"`
}

type rawSanction struct {
	When   string `yaml:"when"`
	Times  *int   `yaml:"times"`
	Within *int   `yaml:"within"`
	Action string `yaml:"action"`
}

// honours reads the red and black lists of units and of sites; a list
// the policy does not write is not published.
func (c *policyChecker) honours(raw *rawHonours) Honours {
	var h Honours
	if raw == nil {
		return h
	}
	h.Units = c.listRules(raw.RedList, raw.BlackList, "honours")
	if raw.Sites != nil {
		h.Sites = c.listRules(raw.Sites.RedList, raw.Sites.BlackList, "honours", "sites")
	}
	return h
}

// listRules reads a red and a black list at path: a red list's top is 1
// or more, scores are from 0 to 100.
func (c *policyChecker) listRules(red *rawRedList, black *rawBlackList, path ...any) ListRules {
	var l ListRules
	score := func(v *float64, key ...any) *float64 {
		if v != nil && (*v < 0 || *v > 100) {
			c.problem(append(slices.Clone(path), key...), "must be a score from 0 to 100, not %g", *v)
			return nil
		}
		return v
	}
	if red != nil {
		switch {
		case red.Top == nil:
			c.problem(append(slices.Clone(path), "red_list", "top"), "is required: how many are named on the red list")
		case *red.Top < 1:
			c.problem(append(slices.Clone(path), "red_list", "top"), "must be 1 or more, not %d", *red.Top)
		default:
			l.Top = *red.Top
		}
		l.MinScore = score(red.MinScore, "red_list", "min_score")
	}
	if black != nil {
		if black.Below == nil {
			c.problem(append(slices.Clone(path), "black_list", "below"), "is required: the score under which one is black-listed")
		}
		l.Below = score(black.Below, "black_list", "below")
	}
	return l
}

// sanctions reads the ladder: each rule counts black-listings (when:
// black_list), at least once (times), within as many periods or more
// (within, this one included; none: all), and names a known action.
func (c *policyChecker) sanctions(raw []rawSanction) []SanctionRule {
	var out []SanctionRule
	for i, r := range raw {
		path := func(key string) []any { return at("sanctions", i, key) }
		rule := SanctionRule{When: r.When, Action: SanctionAction(r.Action)}
		if r.When != WhenBlackList {
			c.problem(path("when"), "unknown %q: a sanction counts the black list (when: black_list)", r.When)
		}
		switch {
		case r.Times == nil:
			c.problem(path("times"), "is required: how many black-listings bring the sanction")
		case *r.Times < 1:
			c.problem(path("times"), "must be 1 or more, not %d", *r.Times)
		default:
			rule.Times = *r.Times
		}
		if r.Within != nil {
			if *r.Within < rule.Times {
				c.problem(path("within"), "must be at least times (%d): the periods counted, this one included", rule.Times)
			} else {
				rule.Within = *r.Within
			}
		}
		if !slices.Contains(SanctionActions, rule.Action) {
			c.problem(path("action"), "unknown action %q: use notice, yellow_card, interview or accountability", r.Action)
		}
		out = append(out, rule)
	}
	return out
}
