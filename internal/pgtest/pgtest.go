// Package pgtest gives tests a real PostgreSQL: the server at DATABASE_URL
// when it is set, else a private cluster started for the test binary. Each
// test gets a database of its own, dropped when it ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban/dev/localpg"
)

// adminURL is the server tests create their databases on; set by Main.
var adminURL string

// Main runs a test binary's tests with a PostgreSQL server available,
// starting a private cluster when DATABASE_URL is not set. Call it from
// TestMain.
func Main(m *testing.M) int {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		adminURL = u
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "duban-pgtest-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The postgres user must reach the cluster when tests run as root.
	_ = os.Chmod(dir, 0o755)
	c, err := localpg.Start(context.Background(), localpg.Options{Dir: filepath.Join(dir, "pg")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: start PostgreSQL:", err)
		return 1
	}
	defer c.Stop()
	adminURL = c.URL
	return m.Run()
}

// NewDatabase creates an empty database for t, dropped when t ends, and
// returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if adminURL == "" {
		t.Fatal("pgtest: call pgtest.Main from TestMain")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	u, err := localpg.CreateDatabase(ctx, adminURL, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return u
}

// ReachableDir returns a temporary directory, removed when t ends, that the
// postgres user can reach: t.TempDir is private to its owner, and PostgreSQL
// runs as postgres when the tests run as root.
func ReachableDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
