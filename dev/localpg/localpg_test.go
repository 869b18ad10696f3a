package localpg_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban/dev/localpg"
	"github.com/duban/duban/internal/pgtest"
)

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

func query(t *testing.T, url, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStartKeepsDataAcrossRestartsAndCrashes(t *testing.T) {
	ctx := context.Background()
	dir := pgtest.ReachableDir(t)
	c, err := localpg.Start(ctx, localpg.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, c.URL, "CREATE TABLE kept AS SELECT 'yes' AS v")
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	c, err = localpg.Start(ctx, localpg.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, c.URL, "SELECT v FROM kept"); got != "yes" {
		t.Fatalf("after restart: %q", got)
	}
	// A parent that crashed leaves its postmaster running: starting again on
	// the same directory stops it and comes back with the data.
	leftover := c
	c, err = localpg.Start(ctx, localpg.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, c.URL, "SELECT v FROM kept"); got != "yes" {
		t.Fatalf("after a leftover postmaster: %q", got)
	}
	_ = leftover.Stop()
	if got := query(t, c.URL, "SELECT current_user"); got != "postgres" {
		t.Fatalf("user %q", got)
	}
	// A crash of the postmaster (kill -9) loses nothing a durable cluster
	// committed.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if c, err = localpg.Start(ctx, localpg.Options{Dir: dir, Durable: true}); err != nil {
		t.Fatal(err)
	}
	execSQL(t, c.URL, "INSERT INTO kept VALUES ('before the crash')")
	c.Kill()
	c, err = localpg.Start(ctx, localpg.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if got := query(t, c.URL, "SELECT count(*) FROM kept"); got != "2" {
		t.Fatalf("after kill -9: %s rows", got)
	}
}

func TestWrongPasswordIsRefused(t *testing.T) {
	ctx := context.Background()
	c, err := localpg.Start(ctx, localpg.Options{Dir: pgtest.ReachableDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	conn, err := pgx.Connect(ctx, "postgres://postgres:wrong@127.0.0.1:"+itoa(c.Port)+"/postgres?sslmode=disable")
	if err == nil {
		conn.Close(ctx)
		t.Fatal("a wrong password was accepted")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
