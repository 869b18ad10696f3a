package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/duban/duban/dev/devserver"
	"github.com/duban/duban/dev/localpg"
	"github.com/duban/duban/internal/freeport"
	"github.com/duban/duban/internal/harness"
)

// system is duban in the production shape, each part a process of its own
// on a fixed port of 127.0.0.1, so that a part restarted after a kill is
// found where the others look for it: PostgreSQL (duban's database and
// Temporal's), the Temporal server, duban's worker and duban's API.
type system struct {
	dir, binary, self, policyFile string

	pgPort, temporalPort, apiPort int
	pgPassword                    string
	dubanURL                      string

	pg       *localpg.Cluster
	temporal *harness.Process
	worker   *harness.Process
	api      *harness.Process
}

// part is one of the four parts the harness kills and restarts.
type part struct {
	name  string
	kill  func()
	start func(context.Context) error
	// log is where the part writes, for the tail shown when it fails.
	log func() string
}

func (s *system) parts() []part {
	return []part{
		{"api", func() { s.api.Kill() }, s.startAPI, func() string { return s.api.Log }},
		{"worker", func() { s.worker.Kill() }, s.startWorker, func() string { return s.worker.Log }},
		{"postgres", func() { s.pg.Kill() }, s.startPostgres, func() string { return filepath.Join(s.dir, "postgres", "postgres.log") }},
		{"temporal", func() { s.temporal.Kill() }, s.startTemporal, func() string { return s.temporal.Log }},
	}
}

func newSystem(dir, binary, policy string) (*system, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	s := &system{dir: dir, binary: binary, self: self, policyFile: filepath.Join(dir, "policy.yaml")}
	if err := os.WriteFile(s.policyFile, []byte(policy), 0o644); err != nil {
		return nil, err
	}
	for _, p := range []*int{&s.pgPort, &s.temporalPort, &s.apiPort} {
		if *p, err = freeport.Get(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// start starts every part, in the order each needs the one before.
func (s *system) start(ctx context.Context) error {
	if err := s.startPostgres(ctx); err != nil {
		return err
	}
	u, _ := url.Parse(s.pg.URL)
	s.pgPassword, _ = u.User.Password()
	var err error
	if s.dubanURL, err = localpg.CreateDatabase(ctx, s.pg.URL, "duban"); err != nil {
		return err
	}
	for _, start := range []func(context.Context) error{s.startTemporal, s.startWorker, s.startAPI} {
		if err := start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// startPostgres starts (or restarts, recovering from its log) PostgreSQL,
// durable as in production.
func (s *system) startPostgres(ctx context.Context) error {
	opts := localpg.Options{Dir: filepath.Join(s.dir, "postgres"), Port: s.pgPort, Durable: true,
		Settings: map[string]string{"max_connections": "400"}}
	return retry(ctx, time.Minute, func() error {
		pg, err := localpg.Start(ctx, opts)
		if err == nil {
			s.pg = pg
		}
		return err
	})
}

// temporalCommand is the argument on which the harness runs as the
// Temporal server: the server is a process of its own, to be killed alone.
const temporalCommand = "temporal-server"

func (s *system) startTemporal(ctx context.Context) error {
	ready := filepath.Join(s.dir, "temporal.ready")
	_ = os.Remove(ready)
	p, err := harness.Spawn(s.self, []string{temporalCommand, strconv.Itoa(s.temporalPort), strconv.Itoa(s.pgPort), ready},
		[]string{"CHAOS_PG_PASSWORD=" + s.pgPassword}, filepath.Join(s.dir, "temporal.log"))
	if err != nil {
		return err
	}
	s.temporal = p
	deadline := time.After(3 * time.Minute)
	for {
		if _, err := os.Stat(ready); err == nil {
			return nil
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("the Temporal server exited while starting; see %s", p.Log)
		case <-deadline:
			return fmt.Errorf("the Temporal server did not start within 3 minutes; see %s", p.Log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// serveTemporal runs the Temporal server on PostgreSQL until interrupted:
// args are its port, PostgreSQL's port and a file to create once it
// answers.
func serveTemporal(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: chaos temporal-server PORT PG_PORT READY_FILE")
	}
	port, err1 := strconv.Atoi(args[0])
	pgPort, err2 := strconv.Atoi(args[1])
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := devserver.Start(ctx, devserver.Options{
		Port:     port,
		Postgres: &devserver.Postgres{Host: "127.0.0.1", Port: pgPort, User: "postgres", Password: os.Getenv("CHAOS_PG_PASSWORD")},
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Level:    slog.LevelWarn,
	})
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := os.WriteFile(args[2], nil, 0o644); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func (s *system) dubanArgs(command string) []string {
	return []string{command, "--policy", s.policyFile, "--temporal", "127.0.0.1:" + strconv.Itoa(s.temporalPort),
		"--log-level", "warn"}
}

func (s *system) spawnDuban(command string, args []string) (*harness.Process, error) {
	return harness.Spawn(s.binary, args, []string{"DATABASE_URL=" + s.dubanURL, "CHAOS_SECRET=" + chaosSecret}, filepath.Join(s.dir, command+".log"))
}

// startWorker starts the worker and returns once it has stayed up for a
// second: it has no endpoint of its own to ask (the load shows it works).
func (s *system) startWorker(ctx context.Context) error {
	return retry(ctx, 2*time.Minute, func() error {
		p, err := s.spawnDuban("worker", s.dubanArgs("worker"))
		if err != nil {
			return err
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("the worker exited while starting; see %s", p.Log)
		case <-time.After(time.Second):
			s.worker = p
			return nil
		}
	})
}

func (s *system) apiBase() string { return "http://127.0.0.1:" + strconv.Itoa(s.apiPort) }

// startAPI starts the API and returns once it answers /readyz.
func (s *system) startAPI(ctx context.Context) error {
	return retry(ctx, 2*time.Minute, func() error {
		p, err := s.spawnDuban("api", append(s.dubanArgs("api"), "--addr", "127.0.0.1:"+strconv.Itoa(s.apiPort), "--allow-dev-tokens"))
		if err != nil {
			return err
		}
		if err := harness.WaitOK(ctx, s.apiBase()+"/readyz", time.Minute, p); err != nil {
			p.Kill()
			return err
		}
		s.api = p
		return nil
	})
}

// stop stops every part, the last started first.
func (s *system) stop() {
	s.api.Stop()
	s.worker.Stop()
	s.temporal.Stop()
	if s.pg != nil {
		_ = s.pg.Stop()
	}
}

// retry calls f until it succeeds, for at most d.
func retry(ctx context.Context, d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
