package duban_test

import (
	"errors"
	"os"
	"testing"

	"github.com/duban/duban"
)

// No policy file, however broken, crashes ParsePolicy; every refusal is a
// *PolicyError that names the file.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(minimalPolicy))
	if b, err := os.ReadFile("default-policy.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("units: [{id: x}]\ncategories: [{code: c, unit: x, sla: {normal: {acknowledge: 1s, resolve: 2s, verify: 1s}}}]\nescalation: [{at: '-5%', action: warn}, {at: 0s, level: 1}]"))
	f.Add([]byte("{{{"))
	f.Add([]byte("escalation: [{at: 1e309%, action: warn}]"))
	f.Add([]byte("- - - -"))
	f.Add([]byte("&a [*a, *a]"))
	f.Add([]byte("holidays: &h [a, b, c, d]\nunits: [{id: x, name: *h}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := duban.ParsePolicy("fuzz.yaml", data)
		if err != nil {
			var pe *duban.PolicyError
			if !errors.As(err, &pe) || pe.File != "fuzz.yaml" || len(pe.Problems) == 0 {
				t.Fatalf("unexpected error %T: %v", err, err)
			}
			return
		}
		// A policy that parses routes and gives terms without panicking.
		for _, c := range p.Categories {
			p.Route(c.Code, "old-town")
			if _, ok := p.Terms(c.Code, duban.SeverityUrgent); !ok {
				t.Fatalf("category %s has no urgent terms", c.Code)
			}
		}
	})
}
