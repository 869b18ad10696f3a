package messages_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/duban/duban/messages"
)

// messageFuncs are the functions whose format argument (by index) is a
// message a person may read: duban.Errorf, duban.Field, a checker's add,
// the list filters' bad, duban.Unavailable.
var messageFuncs = map[string]int{"Errorf": 1, "Field": 1, "add": 1, "bad": 1, "Unavailable": 0, "TooMany": 1}

// Every message duban gives a person is written as a literal format, and
// the Chinese catalogue says each: a page in Chinese never shows one in
// English. (fmt.Errorf is for logs, never shown: not counted.)
func TestEveryRefusalIsSaidInChinese(t *testing.T) {
	catalogs, err := messages.Load()
	if err != nil {
		t.Fatal(err)
	}
	formats := map[string]string{} // format: where
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "bench" || d.Name() == "chaos" || d.Name() == "internal" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var name string
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr: // duban.Errorf, errs.add: not t.Errorf, fmt.Errorf
				if x, ok := fn.X.(*ast.Ident); ok && (x.Name == "duban" || x.Name == "errs") {
					name = fn.Sel.Name
				}
			}
			i, ok := messageFuncs[name]
			if !ok || len(call.Args) <= i {
				return true
			}
			where := fset.Position(call.Pos()).String()
			if id, ok := call.Args[i].(*ast.Ident); ok && (id.Name == "format" || id.Name == "message") {
				return true // a wrapper, passing its caller's on
			}
			lit, ok := call.Args[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				if name == "add" || name == "bad" || name == "Field" || name == "Errorf" {
					t.Errorf("%s: a message's format is not a literal: no catalogue can say it", where)
				}
				return true
			}
			format, _ := strconv.Unquote(lit.Value)
			formats[format] = where
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(formats) < 50 {
		t.Fatalf("found %d messages: the walk missed the code", len(formats))
	}
	var missing []string
	for format, where := range formats {
		if _, ok := catalogs["zh"].Refusal(format); !ok {
			missing = append(missing, where+": "+strconv.Quote(format))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d messages lack a Chinese text in messages/refusals.zh.json:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}
