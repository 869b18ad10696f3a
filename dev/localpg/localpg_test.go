package localpg_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban/dev/localpg"
	"github.com/duban/duban/internal/dirlock"
	"github.com/duban/duban/internal/pgtest"
)

// dieEnv makes the test binary start a cluster on its directory, say its
// port and wait to be killed: a parent that dies leaving PostgreSQL running.
const dieEnv = "LOCALPG_TEST_START_AND_WAIT"

func TestMain(m *testing.M) {
	if dir := os.Getenv(dieEnv); dir != "" {
		c, err := localpg.Start(context.Background(), localpg.Options{Dir: dir, KeepPort: true})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(c.Port)
		select {}
	}
	os.Exit(m.Run())
}

// startAndDie runs a cluster on dir from a child process, kills the child
// with SIGKILL and returns the port its cluster, still running, listens on.
func startAndDie(t *testing.T, dir string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), dieEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	port, perr := strconv.Atoi(strings.TrimSpace(line))
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err != nil || perr != nil {
		t.Fatalf("the child's cluster: %q, %v", line, err)
	}
	return port
}

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
	// While a live process runs the cluster, another start is refused and
	// the running one goes on.
	_, err = localpg.Start(ctx, localpg.Options{Dir: dir})
	var inUse *dirlock.InUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() {
		t.Fatalf("a second start on a directory in use: %v", err)
	}
	if got := query(t, c.URL, "SELECT v FROM kept"); got != "yes" {
		t.Fatalf("the running cluster after a refused start: %q", got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	// A parent killed with kill -9 leaves its postmaster running: starting
	// again on the same directory stops it and comes back with the data, on
	// the port of the last start when it keeps its port.
	port := startAndDie(t, dir)
	c, err = localpg.Start(ctx, localpg.Options{Dir: dir, KeepPort: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, c.URL, "SELECT v FROM kept"); got != "yes" {
		t.Fatalf("after a leftover postmaster: %q", got)
	}
	if c.Port != port {
		t.Fatalf("port %d, the last start's was %d", c.Port, port)
	}
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

// A standby follows its primary, refuses writes, and takes them once
// promoted after the primary died; a client given both hosts follows the
// one that accepts writes.
func TestStandbyFollowsAndIsPromoted(t *testing.T) {
	ctx := context.Background()
	primary, err := localpg.Start(ctx, localpg.Options{Dir: pgtest.ReachableDir(t), Durable: true,
		Settings: map[string]string{"synchronous_standby_names": "*"}})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Stop()
	standby, err := localpg.Start(ctx, localpg.Options{Dir: pgtest.ReachableDir(t), Durable: true, StandbyOf: primary.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Stop()
	either := localpg.WritableURL("postgres", primary, standby)
	execSQL(t, either, "CREATE TABLE kept (v text)")
	// Synchronous: once the insert returns, the standby has it.
	execSQL(t, either, "INSERT INTO kept VALUES ('before')")
	if got := query(t, standby.URL, "SELECT string_agg(v, ',') FROM kept"); got != "before" {
		t.Fatalf("the standby has %q", got)
	}
	conn, err := pgx.Connect(ctx, standby.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO kept VALUES ('no')"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a write on the standby: %v, want refused as read-only", err)
	}
	conn.Close(ctx)

	primary.Kill()
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	execSQL(t, either, "INSERT INTO kept VALUES ('after')")
	if got := query(t, either, "SELECT string_agg(v, ',' ORDER BY v) FROM kept"); got != "after,before" {
		t.Fatalf("after the promotion the writable server has %q", got)
	}
}
