package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/duban/duban/dev/devserver"
	"github.com/duban/duban/dev/localpg"
	"github.com/duban/duban/internal/freeport"
	"github.com/duban/duban/internal/harness"
	"github.com/duban/duban/postgres"
	"github.com/duban/duban/workflows"
)

// stack is one shape of the system under measure: a PostgreSQL cluster, a
// Temporal server on SQLite ("dev") or on that PostgreSQL ("prod"), and
// duban's API and worker as processes of their own.
type stack struct {
	name     string
	dir      string
	pg       *localpg.Cluster
	temporal *devserver.Server
	tc       client.Client
	dubanURL string        // the duban database
	db       *pgxpool.Pool // on the duban database, for ceilings and seeding
	admin    *pgxpool.Pool // on the cluster's maintenance database
	api      *harness.Process
	worker   *harness.Process
	apiBase  string
	// env is more of duban's environment (a subscription's secret).
	env    []string
	logger *slog.Logger
	binary string
	// debug holds the debug listeners (profiler, memory statistics) of the
	// api and the worker.
	debug map[string]string
}

const namespace = "default"

// startStack starts PostgreSQL and Temporal; duban is started by startDuban.
func startStack(ctx context.Context, name, dir, binary string, logger *slog.Logger) (*stack, error) {
	s := &stack{name: name, dir: dir, binary: binary, logger: logger}
	var err error
	// What a server of this size would have: Temporal's services open a
	// pool each per store. pg_stat_statements tells where PostgreSQL's
	// time goes in a burst.
	settings := map[string]string{"shared_buffers": "1GB", "max_connections": "400", "shared_preload_libraries": "pg_stat_statements"}
	if s.pg, err = localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "postgres"), Durable: true, Settings: settings}); err != nil {
		return nil, err
	}
	if s.admin, err = pgxpool.New(ctx, s.pg.URL); err != nil {
		s.close()
		return nil, err
	}
	if _, err := s.admin.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		s.close()
		return nil, err
	}
	if err := errors.Join(pin(os.Getpid(), 0), pinTree(s.pg.PID(), 1)); err != nil {
		s.close()
		return nil, err
	}
	opts := devserver.Options{Logger: logger, Level: slog.LevelError}
	if name == "prod" {
		u, _ := url.Parse(s.pg.URL)
		pw, _ := u.User.Password()
		opts.Postgres = &devserver.Postgres{Host: "127.0.0.1", Port: s.pg.Port, User: "postgres", Password: pw}
	} else {
		opts.DatabaseFile = filepath.Join(dir, "temporal.db")
	}
	if s.temporal, err = devserver.Start(ctx, opts); err != nil {
		s.close()
		return nil, fmt.Errorf("start Temporal (%s): %w", name, err)
	}
	if s.tc, err = workflows.Dial(ctx, s.temporal.HostPort, namespace, slog.New(slog.DiscardHandler), nil); err != nil {
		s.close()
		return nil, err
	}
	if s.dubanURL, err = localpg.CreateDatabase(ctx, s.pg.URL, "duban"); err != nil {
		s.close()
		return nil, err
	}
	cfg, err := postgres.PoolConfig(s.dubanURL) // as duban connects
	if err != nil {
		s.close()
		return nil, err
	}
	if s.db, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// startDuban starts `duban worker` and `duban api` with policy, and waits
// until the API is ready.
func (s *stack) startDuban(ctx context.Context, policy string) error {
	s.stopDuban()
	file := filepath.Join(s.dir, fmt.Sprintf("policy-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(file, []byte(policy), 0o644); err != nil {
		return err
	}
	common := []string{"--policy", file, "--temporal", s.temporal.HostPort, "--namespace", namespace,
		"--task-queue", "duban-bench", "--log-level", "warn"}
	s.debug = map[string]string{}
	withDebug := func(name string, args []string) ([]string, error) {
		port, err := freeport.Get()
		if err != nil {
			return nil, err
		}
		s.debug[name] = "127.0.0.1:" + strconv.Itoa(port)
		return append(slices.Clone(args), "--debug-addr", s.debug[name]), nil
	}
	args, err := withDebug("worker", common)
	if err != nil {
		return err
	}
	if s.worker, err = s.spawn("worker", args); err != nil {
		return err
	}
	port, err := freeport.Get()
	if err != nil {
		return err
	}
	if args, err = withDebug("api", append(slices.Clone(common), "--addr", "127.0.0.1:"+strconv.Itoa(port), "--allow-dev-tokens",
		"--blob-store", s.blobDir())); err != nil {
		return err
	}
	if s.api, err = s.spawn("api", args); err != nil {
		return err
	}
	s.apiBase = "http://127.0.0.1:" + strconv.Itoa(port)
	if err := errors.Join(pin(s.api.PID(), 1), pin(s.worker.PID(), 1)); err != nil {
		return err
	}
	if err := harness.WaitOK(ctx, s.apiBase+"/readyz", time.Minute, s.api); err != nil {
		return fmt.Errorf("duban api did not become ready: %w; see %s", err, s.api.Log)
	}
	return nil
}

// blobDir is where the API keeps attachments.
func (s *stack) blobDir() string { return filepath.Join(s.dir, "blobs") }

func (s *stack) spawn(command string, args []string) (*harness.Process, error) {
	return harness.Spawn(s.binary, append([]string{command}, args...), append([]string{"DATABASE_URL=" + s.dubanURL}, s.env...), filepath.Join(s.dir, command+".log"))
}

// liveHeap returns the bytes a duban process ("api" or "worker") holds
// live: its heap in use right after a garbage collection.
func (s *stack) liveHeap(name string) (int64, error) {
	addr := s.debug[name]
	res, err := http.Get("http://" + addr + "/debug/pprof/heap?gc=1") // collects first
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	res, err = http.Get("http://" + addr + "/debug/vars")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var vars struct {
		Memstats struct{ HeapAlloc int64 } `json:"memstats"`
	}
	if err := json.NewDecoder(res.Body).Decode(&vars); err != nil {
		return 0, err
	}
	return vars.Memstats.HeapAlloc, nil
}

func (s *stack) stopDuban() {
	s.api.Stop()
	s.worker.Stop()
	s.api, s.worker = nil, nil
}

func (s *stack) close() {
	s.stopDuban()
	if s.db != nil {
		s.db.Close()
	}
	if s.admin != nil {
		s.admin.Close()
	}
	if s.tc != nil {
		s.tc.Close()
	}
	if s.temporal != nil {
		s.temporal.Stop()
	}
	if s.pg != nil {
		s.pg.Stop()
	}
}

// sizes reports the on-disk size of duban's database and of Temporal's store.
func (s *stack) sizes(ctx context.Context) (duban, temporal int64) {
	_ = s.db.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&duban)
	if s.name == "prod" {
		_ = s.admin.QueryRow(ctx, "SELECT sum(pg_database_size(datname))::bigint FROM pg_database WHERE datname LIKE 'temporal%'").Scan(&temporal)
		return duban, temporal
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if st, err := os.Stat(filepath.Join(s.dir, "temporal.db"+suffix)); err == nil {
			temporal += st.Size()
		}
	}
	return duban, temporal
}
