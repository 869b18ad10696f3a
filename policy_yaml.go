package duban

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Reading a policy's YAML from its nodes, so that every problem is placed
// at the line of the node it concerns: the YAML library gives positions on
// nodes, and only words in its own errors.

// maxPolicyNodes bounds the values a policy may hold, aliases expanded: a
// city's is a few thousand.
const maxPolicyNodes = 1_000_000

// decode fills v from the YAML node n, as the library's decoder would, but
// records each problem (an unknown or repeated key, a value of the wrong
// kind) at the line of the node it concerns and goes on with the rest.
func (c *policyChecker) decode(n *yaml.Node, v reflect.Value) {
	if c.decoded++; c.decoded > maxPolicyNodes {
		if c.decoded == maxPolicyNodes+1 {
			c.problems = append(c.problems, PolicyProblem{n.Line, "the policy is too large: its aliases repeat it beyond reason"})
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.ShortTag() == "!!null" {
		return // absent, as if not written
	}
	if v.Type() == reflect.TypeFor[rawOutline]() && n.Kind == yaml.ScalarNode {
		v.FieldByName("File").SetString(n.Value) // an outline kept in a file
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		c.decode(n, v.Elem())
	case reflect.Struct:
		if c.expect(n, yaml.MappingNode, v.Type()) {
			c.mapping(n, func(key *yaml.Node, value *yaml.Node) {
				f, ok := fieldByTag(v, key.Value)
				if !ok {
					c.problems = append(c.problems, PolicyProblem{key.Line, fmt.Sprintf("unknown key %q", key.Value)})
					return
				}
				c.decode(value, f)
			})
		}
	case reflect.Map:
		if c.expect(n, yaml.MappingNode, v.Type()) {
			v.Set(reflect.MakeMap(v.Type()))
			c.mapping(n, func(key *yaml.Node, value *yaml.Node) {
				elem := reflect.New(v.Type().Elem()).Elem()
				c.decode(value, elem)
				v.SetMapIndex(reflect.ValueOf(key.Value), elem)
			})
		}
	case reflect.Slice:
		if c.expect(n, yaml.SequenceNode, v.Type()) {
			v.Set(reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content)))
			for i, item := range n.Content {
				c.decode(item, v.Index(i))
			}
		}
	default:
		if c.expect(n, yaml.ScalarNode, v.Type()) && n.Decode(v.Addr().Interface()) != nil {
			c.problems = append(c.problems, PolicyProblem{n.Line, notAllowed(n, v.Type())})
		}
	}
}

// expect records a problem and returns false unless n is of kind.
func (c *policyChecker) expect(n *yaml.Node, kind yaml.Kind, want reflect.Type) bool {
	if n.Kind == kind {
		return true
	}
	c.problems = append(c.problems, PolicyProblem{n.Line, notAllowed(n, want)})
	return false
}

// mapping calls each with every key and value of the mapping n, once per
// key: a key given twice is a problem at its second line.
func (c *policyChecker) mapping(n *yaml.Node, each func(key, value *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if first, dup := seen[key.Value]; dup {
			c.problems = append(c.problems, PolicyProblem{key.Line, fmt.Sprintf("%q is given twice (first on line %d)", key.Value, first)})
			continue
		}
		seen[key.Value] = key.Line
		each(key, n.Content[i+1])
	}
}

// fieldByTag returns the field of struct v whose yaml tag is name.
func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	for i := range v.NumField() {
		if tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// notAllowed says in a policy author's words that n is not what want is.
func notAllowed(n *yaml.Node, want reflect.Type) string {
	var got string
	switch n.Kind {
	case yaml.SequenceNode:
		got = "a list"
	case yaml.MappingNode:
		got = "a mapping"
	default:
		switch n.ShortTag() {
		case "!!int", "!!float":
			got = fmt.Sprintf("the number %q", n.Value)
		case "!!bool":
			got = fmt.Sprintf("the boolean %q", n.Value)
		default:
			got = fmt.Sprintf("the value %q", n.Value)
		}
	}
	var expected string
	switch want.Kind() {
	case reflect.Slice:
		expected = "a list"
	case reflect.Map, reflect.Struct:
		expected = "a mapping"
	case reflect.Int:
		expected = "a whole number"
	case reflect.Float64:
		expected = "a number"
	case reflect.Bool:
		expected = "true or false"
	default:
		expected = "a text value"
	}
	return got + " is not allowed here: expected " + expected
}
