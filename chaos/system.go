package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
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

// stack is duban in one of the shapes the harness runs: a process of each
// kind (system) or replicas on a Temporal cluster and a PostgreSQL pair
// (cluster).
type stack interface {
	start(context.Context) error
	stop()
	// parts are what the harness kills, in turn.
	parts() []part
	// apiBase is where clients send requests.
	apiBase() string
	// databaseURL is duban's database, for the checks.
	databaseURL() string
}

// part is one of the parts the harness kills and restarts.
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
	p, err := spawnTemporal(ctx, s.self, s.dir, "temporal", []string{"-port", strconv.Itoa(s.temporalPort), "-pg", "127.0.0.1:" + strconv.Itoa(s.pgPort)}, s.pgPassword)
	if err == nil {
		s.temporal = p
	}
	return err
}

// spawnTemporal runs the harness as (a service of) the Temporal server,
// with args, and returns once it runs.
func spawnTemporal(ctx context.Context, self, dir, name string, args []string, pgPassword string) (*harness.Process, error) {
	ready := filepath.Join(dir, name+".ready")
	_ = os.Remove(ready)
	p, err := harness.Spawn(self, append([]string{temporalCommand, "-ready", ready}, args...),
		[]string{"CHAOS_PG_PASSWORD=" + pgPassword}, filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	deadline := time.After(3 * time.Minute)
	for {
		if _, err := os.Stat(ready); err == nil {
			return p, nil
		}
		select {
		case <-p.Exited():
			return nil, fmt.Errorf("%s exited while starting; see %s", name, p.Log)
		case <-deadline:
			p.Kill()
			return nil, fmt.Errorf("%s did not start within 3 minutes; see %s", name, p.Log)
		case <-ctx.Done():
			p.Kill()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// serveTemporal runs the Temporal server on PostgreSQL until interrupted,
// all its services or one (-service, the cluster's ports then given as
// -ports), and creates the -ready file once it runs.
func serveTemporal(args []string) error {
	fs := flag.NewFlagSet(temporalCommand, flag.ContinueOnError)
	ready := fs.String("ready", "", "file to create once the server runs")
	port := fs.Int("port", 0, "the frontend's port, all services in one process")
	service := fs.String("service", "", "run this service alone: frontend, history, matching or worker")
	ports := fs.String("ports", "", "with -service: the ports of the frontend (gRPC, HTTP), history, matching and worker, comma-separated")
	pg := fs.String("pg", "", "PostgreSQL's host:port")
	standby := fs.String("standby", "", "the standby's host:port, promoted when the first fails")
	metricsPort := fs.Int("metrics", 0, "serve the server's metrics on this port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, pgPort, err := net.SplitHostPort(*pg)
	if err != nil {
		return fmt.Errorf("-pg: %w", err)
	}
	opts := devserver.Options{
		Port:        *port,
		Service:     *service,
		MetricsPort: *metricsPort,
		Postgres:    &devserver.Postgres{Host: host, User: "postgres", Password: os.Getenv("CHAOS_PG_PASSWORD"), Standby: *standby},
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Level:       slog.LevelWarn,
	}
	opts.Postgres.Port, _ = strconv.Atoi(pgPort)
	if *ports != "" {
		var p [5]int
		fields := strings.Split(*ports, ",")
		for i := range p {
			if i < len(fields) {
				p[i], err = strconv.Atoi(fields[i])
			}
			if i >= len(fields) || err != nil {
				return fmt.Errorf("-ports %q: want five ports", *ports)
			}
		}
		opts.Ports = &devserver.Ports{Frontend: p[0], FrontendHTTP: p[1], History: p[2], Matching: p[3], Worker: p[4]}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := devserver.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer srv.Stop()
	if err := os.WriteFile(*ready, nil, 0o644); err != nil {
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

func (s *system) databaseURL() string { return s.dubanURL }

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
