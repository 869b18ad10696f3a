package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The OpenAPI tools below are the npm registry's, which .ci/run installs
// into the repository's node_modules (its npm install line names their
// versions).
const npmTools = "@redocly/cli, @stoplight/spectral-cli, openapi-typescript and typescript"

// nodeTool returns the path of an npm package's command in the
// repository's node_modules, skipping the test without it (outside CI).
func nodeTool(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "node_modules", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node_modules/.bin/%s is not installed: .ci/run's npm install installs %s", name, npmTools)
		}
		t.Skipf("node_modules/.bin/%s is not installed: run .ci/run's npm install line (%s)", name, npmTools)
	}
	return path
}

// servedDocument writes the document GET /v1/openapi.json serves to dir,
// as openapi.json, and returns its path.
func servedDocument(t *testing.T, dir string) string {
	t.Helper()
	res := newDoor(t).call("GET", "/v1/openapi.json", "", nil)
	res.Expect(t, 200, nil)
	path := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(path, res.Body, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyFile copies the file at from into dir, under the same name.
func copyFile(t *testing.T, from, dir string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(from)), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runTool runs a tool from the repository's root, with nothing of its
// own sent over the network (Redocly's telemetry and update check are
// off), and returns its standard output; stderr is logged.
func runTool(t *testing.T, tool string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "DO_NOT_TRACK=1", "NO_COLOR=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if stderr.Len() > 0 {
		t.Logf("%s: %s", filepath.Base(tool), stderr.Bytes())
	}
	return out, err
}

// Redocly's recommended rules (api/testdata/lint/redocly.yaml says which
// one is off, and .redocly.lint-ignore.yaml beside it which problems are
// none) find nothing in the served document: no error, no warning.
func TestOpenAPIPassesRedocly(t *testing.T) {
	redocly := nodeTool(t, "redocly")
	dir := t.TempDir()
	doc := servedDocument(t, dir)
	// The ignore file names the document relative to the configuration,
	// so both sit beside it.
	copyFile(t, filepath.Join("testdata", "lint", "redocly.yaml"), dir)
	copyFile(t, filepath.Join("testdata", "lint", ".redocly.lint-ignore.yaml"), dir)
	out, err := runTool(t, redocly, "lint", "--format=json", "--config", filepath.Join(dir, "redocly.yaml"), doc)
	var report struct {
		Totals struct {
			Errors, Warnings, Ignored int
		}
		Problems []struct {
			RuleID   string `json:"ruleId"`
			Severity string
			Message  string
			Location []struct{ Pointer string }
		}
	}
	if jerr := json.Unmarshal(out, &report); jerr != nil {
		t.Fatalf("redocly lint: %v, and its output is not its JSON report (%v):\n%s", err, jerr, out)
	}
	for _, p := range report.Problems {
		at := ""
		if len(p.Location) > 0 {
			at = p.Location[0].Pointer
		}
		t.Errorf("redocly %s %s at %s: %s", p.Severity, p.RuleID, at, p.Message)
	}
	if err != nil || report.Totals.Errors+report.Totals.Warnings > 0 {
		t.Errorf("redocly lint: %v; %d errors, %d warnings", err, report.Totals.Errors, report.Totals.Warnings)
	}
	if report.Totals.Ignored != 4 {
		t.Errorf("redocly ignored %d problems, want the 4 of .redocly.lint-ignore.yaml: update it", report.Totals.Ignored)
	}
}

// Spectral's OpenAPI rules (api/testdata/lint/spectral.yaml) find
// nothing in the served document, of any severity.
func TestOpenAPIPassesSpectral(t *testing.T) {
	spectral := nodeTool(t, "spectral")
	dir := t.TempDir()
	doc := servedDocument(t, dir)
	results := filepath.Join(dir, "spectral.json")
	ruleset, err := filepath.Abs(filepath.Join("testdata", "lint", "spectral.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = runTool(t, spectral, "lint", "--ruleset", ruleset, "--format", "json", "--output", results, "--fail-severity", "hint", doc)
	b, rerr := os.ReadFile(results)
	var found []struct {
		Code     string
		Message  string
		Severity int // 0 error, 1 warning, 2 information, 3 hint
		Path     []any
	}
	if rerr != nil || json.Unmarshal(b, &found) != nil {
		t.Fatalf("spectral lint: %v; no JSON results (%v):\n%s", err, rerr, b)
	}
	severities := []string{"error", "warning", "information", "hint"}
	for _, r := range found {
		severity := fmt.Sprint("severity ", r.Severity)
		if r.Severity >= 0 && r.Severity < len(severities) {
			severity = severities[r.Severity]
		}
		t.Errorf("spectral %s %s at %v: %s", severity, r.Code, r.Path, r.Message)
	}
	if err != nil && len(found) == 0 {
		t.Errorf("spectral lint: %v", err)
	}
}

// A TypeScript client generated from the served document by
// openapi-typescript reads each event's data as its type has it: a
// comment's text, an escalation's level (api/testdata/lint/client.ts,
// compiled strictly against the generated types).
func TestOpenAPITypesAnEventsData(t *testing.T) {
	generate := nodeTool(t, "openapi-typescript")
	tsc := nodeTool(t, "tsc")
	dir := t.TempDir()
	doc := servedDocument(t, dir)
	if out, err := runTool(t, generate, doc, "--output", filepath.Join(dir, "openapi.ts")); err != nil {
		t.Fatalf("openapi-typescript: %v\n%s", err, out)
	}
	copyFile(t, filepath.Join("testdata", "lint", "client.ts"), dir)
	out, err := runTool(t, tsc, "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "esnext",
		"--moduleResolution", "bundler", filepath.Join(dir, "client.ts"))
	if err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
}
