package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/duban/duban/dev/devserver"
	"github.com/duban/duban/dev/localpg"
	"github.com/duban/duban/internal/freeport"
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
	api      *process
	worker   *process
	apiBase  string
	logger   *slog.Logger
	binary   string
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
	// pool each per store.
	settings := map[string]string{"shared_buffers": "1GB", "max_connections": "400"}
	if s.pg, err = localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "postgres"), Durable: true, Settings: settings}); err != nil {
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
	if s.tc, err = workflows.Dial(ctx, s.temporal.HostPort, namespace, quiet{}); err != nil {
		s.close()
		return nil, err
	}
	if s.dubanURL, err = createDatabase(ctx, s.pg.URL, "duban"); err != nil {
		s.close()
		return nil, err
	}
	if s.db, err = pgxpool.New(ctx, s.dubanURL); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func createDatabase(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return "", err
		}
	}
	return strings.Replace(adminURL, "/postgres?", "/"+name+"?", 1), nil
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
	if args, err = withDebug("api", append(slices.Clone(common), "--addr", "127.0.0.1:"+strconv.Itoa(port))); err != nil {
		return err
	}
	if s.api, err = s.spawn("api", args); err != nil {
		return err
	}
	s.apiBase = "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if res, err := http.Get(s.apiBase + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("duban api did not become ready; see %s", s.api.log)
}

// process is a duban process the harness started.
type process struct {
	cmd *exec.Cmd
	log string
}

func (s *stack) spawn(command string, args []string) (*process, error) {
	logPath := filepath.Join(s.dir, command+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.binary, append([]string{command}, args...)...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+s.dubanURL)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() { cmd.Wait(); logFile.Close() }()
	return &process{cmd: cmd, log: logPath}, nil
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

// rss returns the process's resident memory in bytes.
func (p *process) rss() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func (p *process) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

func (s *stack) stopDuban() {
	s.api.stop()
	s.worker.stop()
	s.api, s.worker = nil, nil
}

func (s *stack) close() {
	s.stopDuban()
	if s.db != nil {
		s.db.Close()
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
		conn, err := pgx.Connect(ctx, s.pg.URL)
		if err == nil {
			_ = conn.QueryRow(ctx, "SELECT sum(pg_database_size(datname))::bigint FROM pg_database WHERE datname LIKE 'temporal%'").Scan(&temporal)
			conn.Close(ctx)
		}
		return duban, temporal
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if st, err := os.Stat(filepath.Join(s.dir, "temporal.db"+suffix)); err == nil {
			temporal += st.Size()
		}
	}
	return duban, temporal
}

type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
