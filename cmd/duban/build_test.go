package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A plain `go build ./cmd/duban` gives the production build: no Temporal
// server linked in, and `duban dev` outside duban's source tree says how
// to get the development stack rather than starting anything.
func TestPlainBuildIsProduction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds duban")
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "duban")
	build := exec.Command("go", "build", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	deps, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(deps), "go.temporal.io/sdk") || strings.Contains(string(deps), "go.temporal.io/server") {
		t.Fatalf("the plain build's modules are not the production build's (the SDK, not the server):\n%s", deps)
	}
	dev := exec.Command(binary, "dev", "--data-dir", filepath.Join(dir, "data"))
	dev.Dir = dir // not duban's source tree
	dev.Env = append(os.Environ(), "DATABASE_URL=")
	out, err := dev.CombinedOutput()
	if code := dev.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(string(out), "production build") ||
		!strings.Contains(string(out), "go run ./cmd/duban dev") {
		t.Fatalf("duban dev of the production build, outside the source tree: exit %d, %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Fatalf("the production build's duban dev made its data directory: %v", err)
	}
}
