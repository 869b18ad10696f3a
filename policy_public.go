package duban

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"time"
)

// PublicPolicy is how the office takes residents' reports (SPEC.md,
// "Residents"): the photos a report needs, how long the office has to
// check it, how long the reporter may rate it once closed, where it may
// be, the points it earns and how often one address or phone may post.
type PublicPolicy struct {
	MinPhotos    int
	Check        time.Duration
	RatingWindow time.Duration
	// Bounds is where a report may be: the policy's public.bounds, else
	// the box around its areas' outlines; nil when it says neither.
	Bounds *Bounds
	Points PointsRule
	// PerAddress and PerPhone bound the reports posted from one address
	// in an hour and with one phone in a day.
	PerAddress int
	PerPhone   int
}

// The defaults of a policy's public block.
var defaultPublic = PublicPolicy{
	MinPhotos:    1,
	Check:        2 * time.Hour,
	RatingWindow: 7 * 24 * time.Hour,
	Points:       PointsRule{Confirmed: 10, DailyCap: 45, MonthlyCap: 1350},
	PerAddress:   30,
	PerPhone:     20,
}

// PublicCategories returns the codes of the categories residents may
// report, in the policy's order.
func (p *Policy) PublicCategories() []string {
	var codes []string
	for _, c := range p.Categories {
		if c.Public {
			codes = append(codes, c.Code)
		}
	}
	return codes
}

// resolvePublic gives a resident's report the policy's facts: the public
// categories, the photos needed, the bounds, the rating window and the
// check stage's length.
func (p *Policy) resolvePublic(c *OpenCase) {
	pub := *c.Public
	pub.Categories = p.PublicCategories()
	pub.MinPhotos = p.Public.MinPhotos
	pub.Bounds = p.Public.Bounds
	pub.RatingWindow = p.Public.RatingWindow
	c.Public = &pub
	c.Terms.SLA.Check = p.Public.Check
}

// APIKey is an Open311 client's key: its name and the key's SHA-256.
type APIKey struct {
	Name string
	hash [sha256.Size]byte
}

// Open311Client returns the name of the client whose api_key key is.
func (p *Policy) Open311Client(key string) (string, bool) {
	sum := sha256.Sum256([]byte(key))
	for _, k := range p.Open311 {
		if subtle.ConstantTimeCompare(sum[:], k.hash[:]) == 1 {
			return k.Name, true
		}
	}
	return "", false
}

type rawPublic struct {
	MinPhotos    *int        `yaml:"min_photos"`
	Check        string      `yaml:"check"`
	RatingWindow string      `yaml:"rating_window"`
	Bounds       [][]float64 `yaml:"bounds"`
	Points       *struct {
		Confirmed  *int `yaml:"confirmed"`
		DailyCap   *int `yaml:"daily_cap"`
		MonthlyCap *int `yaml:"monthly_cap"`
	} `yaml:"points"`
	Limits *struct {
		PerAddress *int `yaml:"per_address"`
		PerPhone   *int `yaml:"per_phone"`
	} `yaml:"limits"`
}

type rawOpen311 struct {
	APIKeys []struct {
		Name      string `yaml:"name"`
		KeySHA256 string `yaml:"key_sha256"`
	} `yaml:"api_keys"`
}

// public reads the public block: the defaults where it says nothing.
func (c *policyChecker) public(raw *rawPublic, areas Bounds, hasAreas bool) PublicPolicy {
	pub := defaultPublic
	if hasAreas {
		pub.Bounds = &areas
	}
	if raw == nil {
		return pub
	}
	count := func(dst *int, v *int, path []any, least int) {
		switch {
		case v == nil:
		case *v < least:
			c.problem(path, "must be %d or more", least)
		default:
			*dst = *v
		}
	}
	count(&pub.MinPhotos, raw.MinPhotos, at("public", "min_photos"), 0)
	if raw.Check != "" {
		pub.Check = c.duration(at("public", "check"), raw.Check)
	}
	if raw.RatingWindow != "" {
		pub.RatingWindow = c.days(at("public", "rating_window"), raw.RatingWindow)
	}
	if raw.Bounds != nil {
		b, ok := Bounds{}, len(raw.Bounds) == 2
		for _, corner := range raw.Bounds {
			ok = ok && len(corner) == 2 && corner[0] >= -90 && corner[0] <= 90 && corner[1] >= -180 && corner[1] <= 180
		}
		if ok {
			b = Bounds{
				MinLat: min(raw.Bounds[0][0], raw.Bounds[1][0]), MaxLat: max(raw.Bounds[0][0], raw.Bounds[1][0]),
				MinLon: min(raw.Bounds[0][1], raw.Bounds[1][1]), MaxLon: max(raw.Bounds[0][1], raw.Bounds[1][1]),
			}
			pub.Bounds = &b
		} else {
			c.problem(at("public", "bounds"), "must be two corners [lat, lon], such as [[39.80, 111.15], [39.95, 111.35]]")
		}
	}
	if pts := raw.Points; pts != nil {
		count(&pub.Points.Confirmed, pts.Confirmed, at("public", "points", "confirmed"), 0)
		count(&pub.Points.DailyCap, pts.DailyCap, at("public", "points", "daily_cap"), 0)
		count(&pub.Points.MonthlyCap, pts.MonthlyCap, at("public", "points", "monthly_cap"), 0)
	}
	if l := raw.Limits; l != nil {
		count(&pub.PerAddress, l.PerAddress, at("public", "limits", "per_address"), 1)
		count(&pub.PerPhone, l.PerPhone, at("public", "limits", "per_phone"), 1)
	}
	return pub
}

// open311 reads the Open311 clients' keys, each by its SHA-256.
func (c *policyChecker) open311(raw *rawOpen311) []APIKey {
	if raw == nil {
		return nil
	}
	var keys []APIKey
	for i, k := range raw.APIKeys {
		path := func(key string) []any { return at("open311", "api_keys", i, key) }
		if !idPattern.MatchString(k.Name) {
			c.problem(path("name"), "a client's name is required: lower-case letters, digits, - and _")
		}
		for _, other := range keys {
			if other.Name == k.Name {
				c.problem(path("name"), "client %q is given twice", k.Name)
			}
		}
		key := APIKey{Name: k.Name}
		if b, err := hex.DecodeString(k.KeySHA256); err != nil || len(b) != sha256.Size {
			c.problem(path("key_sha256"), "must be the key's SHA-256 in hex: printf %%s KEY | sha256sum")
		} else {
			copy(key.hash[:], b)
		}
		keys = append(keys, key)
	}
	return keys
}
