package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban/dev/localpg"
	"github.com/duban/duban/internal/freeport"
	"github.com/duban/duban/internal/harness"
)

// cluster is duban in the shape a city runs on several machines, here as
// processes on 127.0.0.1, each on a port of its own that it keeps across
// restarts: two API replicas behind HAProxy (which health-checks their
// /readyz), two workers, a Temporal cluster whose frontend, history,
// matching and worker services run as processes of their own, and
// PostgreSQL as a primary with a synchronous streaming-replication
// standby, which duban and Temporal both reach by a URL naming the two
// (target_session_attrs=read-write).
type cluster struct {
	dir, binary, self, policyFile string

	lbPort     int
	apiPorts   [2]int
	pgPorts    [2]int
	temporal   [5]int         // the -ports of the services: frontend gRPC and HTTP, history, matching, worker
	metrics    map[string]int // each Temporal service's metrics port
	pgPassword string
	dubanURL   string

	pg       [2]*localpg.Cluster
	primary  int // which of pg is the primary
	services map[string]*harness.Process
	apis     [2]*harness.Process
	workers  [2]*harness.Process
	lb       *harness.Process
	// next says which replica of each kind the next kill takes: they
	// take turns.
	next map[string]int
}

// temporalServices are the Temporal services, in the order they start.
var temporalServices = []string{"history", "matching", "frontend", "worker"}

func newCluster(dir, binary, policy string) (*cluster, error) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		return nil, errors.New("the cluster's load balancer is HAProxy, not found on PATH: install it (Debian: apt-get install haproxy)")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, binary: binary, self: self, policyFile: filepath.Join(dir, "policy.yaml"),
		services: map[string]*harness.Process{}, next: map[string]int{}, metrics: map[string]int{}}
	if err := os.WriteFile(c.policyFile, []byte(policy), 0o644); err != nil {
		return nil, err
	}
	ports := []*int{&c.lbPort, &c.apiPorts[0], &c.apiPorts[1], &c.pgPorts[0], &c.pgPorts[1]}
	for i := range c.temporal {
		ports = append(ports, &c.temporal[i])
	}
	for _, p := range ports {
		if *p, err = freeport.Get(); err != nil {
			return nil, err
		}
	}
	for _, name := range temporalServices {
		if c.metrics[name], err = freeport.Get(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) parts() []part {
	parts := []part{
		{"api", func() { c.apis[c.next["api"]].Kill() }, c.restartReplica("api", c.startAPI), func() string { return c.apis[c.next["api"]].Log }},
		{"worker", func() { c.workers[c.next["worker"]].Kill() }, c.restartReplica("worker", c.startWorker), func() string { return c.workers[c.next["worker"]].Log }},
		{"postgres", func() { c.pg[c.primary].Kill() }, c.failover, func() string { return filepath.Join(c.pgDir(c.primary), "postgres.log") }},
	}
	for _, name := range []string{"frontend", "history", "matching"} {
		parts = append(parts, part{name, func() { c.services[name].Kill() }, func(ctx context.Context) error { return c.startService(ctx, name) },
			func() string { return c.services[name].Log }})
	}
	return parts
}

// restartReplica starts again the replica of kind that was killed, and
// makes the other the next to be killed.
func (c *cluster) restartReplica(kind string, start func(context.Context, int) error) func(context.Context) error {
	return func(ctx context.Context) error {
		i := c.next[kind]
		if err := start(ctx, i); err != nil {
			return err
		}
		c.next[kind] = 1 - i
		return nil
	}
}

func (c *cluster) apiBase() string     { return "http://127.0.0.1:" + strconv.Itoa(c.lbPort) }
func (c *cluster) databaseURL() string { return c.dubanURL }

func (c *cluster) pgDir(i int) string { return filepath.Join(c.dir, "postgres-"+strconv.Itoa(i)) }

func (c *cluster) pgOptions(i int, standbyOf string) localpg.Options {
	return localpg.Options{Dir: c.pgDir(i), Port: c.pgPorts[i], Durable: true, StandbyOf: standbyOf,
		Settings: map[string]string{"max_connections": "400", "wal_keep_size": "1GB"}}
}

func (c *cluster) start(ctx context.Context) error {
	var err error
	if c.pg[0], err = localpg.Start(ctx, c.pgOptions(0, "")); err != nil {
		return err
	}
	c.pgPassword, _ = urlPassword(c.pg[0].URL)
	if c.pg[1], err = localpg.Start(ctx, c.pgOptions(1, c.pg[0].URL)); err != nil {
		return err
	}
	if err := c.synchronous(ctx, true); err != nil {
		return err
	}
	if _, err := localpg.CreateDatabase(ctx, c.pg[0].URL, "duban"); err != nil {
		return err
	}
	c.dubanURL = localpg.WritableURL("duban", c.pg[0], c.pg[1])
	for _, name := range temporalServices {
		if err := c.startService(ctx, name); err != nil {
			return err
		}
	}
	for i := range 2 {
		if err := c.startWorker(ctx, i); err != nil {
			return err
		}
		if err := c.startAPI(ctx, i); err != nil {
			return err
		}
	}
	return c.startLB(ctx)
}

// synchronous makes the primary's commits wait for the standby to have
// them (synchronous_standby_names), or, alone, not wait: what a failover
// manager such as Patroni does around a promotion.
func (c *cluster) synchronous(ctx context.Context, on bool) error {
	conn, err := pgx.Connect(ctx, c.pg[c.primary].URL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if on {
		// The standby first streams, so that no commit waits for it.
		for deadline := time.Now().Add(time.Minute); ; {
			var streaming bool
			if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming')`).Scan(&streaming); err != nil {
				return err
			}
			if streaming {
				break
			}
			if time.Now().After(deadline) {
				return errors.New("the standby does not stream within a minute")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	names := ""
	if on {
		names = "*"
	}
	if _, err := conn.Exec(ctx, `ALTER SYSTEM SET synchronous_standby_names = '`+names+`'`); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `SELECT pg_reload_conf()`)
	return err
}

// failover promotes the standby once the primary died, and makes the old
// primary, copied afresh, the new one's standby.
func (c *cluster) failover(ctx context.Context) error {
	old, next := c.primary, 1-c.primary
	if err := c.pg[next].Promote(ctx); err != nil {
		return err
	}
	c.primary = next
	if err := c.synchronous(ctx, false); err != nil {
		return fmt.Errorf("the promoted primary alone: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(c.pgDir(old), "data")); err != nil {
		return err
	}
	pg, err := localpg.Start(ctx, c.pgOptions(old, c.pg[next].URL))
	if err != nil {
		return fmt.Errorf("the old primary as the new one's standby: %w", err)
	}
	c.pg[old] = pg
	return c.synchronous(ctx, true)
}

func (c *cluster) startService(ctx context.Context, name string) error {
	ports := make([]string, len(c.temporal))
	for i, p := range c.temporal {
		ports[i] = strconv.Itoa(p)
	}
	p, err := spawnTemporal(ctx, c.self, c.dir, "temporal-"+name, []string{"-service", name, "-ports", strings.Join(ports, ","), "-metrics", strconv.Itoa(c.metrics[name]),
		"-pg", "127.0.0.1:" + strconv.Itoa(c.pgPorts[0]), "-standby", "127.0.0.1:" + strconv.Itoa(c.pgPorts[1])}, c.pgPassword)
	if err == nil {
		c.services[name] = p
	}
	return err
}

func (c *cluster) dubanArgs(command string) []string {
	return []string{command, "--policy", c.policyFile, "--temporal", "127.0.0.1:" + strconv.Itoa(c.temporal[0]), "--log-level", "warn"}
}

func (c *cluster) spawnDuban(name string, args []string) (*harness.Process, error) {
	return harness.Spawn(c.binary, args, []string{"DATABASE_URL=" + c.dubanURL, "CHAOS_SECRET=" + chaosSecret}, filepath.Join(c.dir, name+".log"))
}

// startWorker starts worker i and returns once it has stayed up for a
// second.
func (c *cluster) startWorker(ctx context.Context, i int) error {
	return retry(ctx, 2*time.Minute, func() error {
		p, err := c.spawnDuban("worker-"+strconv.Itoa(i), c.dubanArgs("worker"))
		if err != nil {
			return err
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("worker %d exited while starting; see %s", i, p.Log)
		case <-time.After(time.Second):
			c.workers[i] = p
			return nil
		}
	})
}

// startAPI starts API replica i and returns once it answers /readyz.
func (c *cluster) startAPI(ctx context.Context, i int) error {
	addr := "127.0.0.1:" + strconv.Itoa(c.apiPorts[i])
	return retry(ctx, 2*time.Minute, func() error {
		p, err := c.spawnDuban("api-"+strconv.Itoa(i), append(c.dubanArgs("api"), "--addr", addr, "--allow-dev-tokens"))
		if err != nil {
			return err
		}
		if err := harness.WaitOK(ctx, "http://"+addr+"/readyz", time.Minute, p); err != nil {
			p.Kill()
			return err
		}
		c.apis[i] = p
		return nil
	})
}

// haproxyConfig balances the two API replicas, taking a replica out once
// two health checks of /readyz fail (half a second apart). A request that
// could not reach a replica, or that a replica dropped without an answer,
// goes to the other: duban's writes are safe to repeat, by their
// Idempotency-Key. Streams stay open for an hour.
const haproxyConfig = `global
	maxconn 4096

defaults
	mode http
	timeout connect 2s
	timeout client 1h
	timeout server 1h
	timeout http-request 10s
	retries 2
	option redispatch
	retry-on conn-failure empty-response

frontend duban
	bind 127.0.0.1:%d
	default_backend api

backend api
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server inter 500ms fall 2 rise 2
	server api0 127.0.0.1:%d check
	server api1 127.0.0.1:%d check
`

func (c *cluster) startLB(ctx context.Context) error {
	conf := filepath.Join(c.dir, "haproxy.cfg")
	if err := os.WriteFile(conf, fmt.Appendf(nil, haproxyConfig, c.lbPort, c.apiPorts[0], c.apiPorts[1]), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("haproxy", "-c", "-q", "-f", conf).CombinedOutput(); err != nil {
		return fmt.Errorf("haproxy -c %s: %v\n%s", conf, err, out)
	}
	p, err := harness.Spawn("haproxy", []string{"-db", "-f", conf}, nil, filepath.Join(c.dir, "haproxy.log"))
	if err != nil {
		return err
	}
	c.lb = p
	return harness.WaitOK(ctx, c.apiBase()+"/readyz", time.Minute, p)
}

// stop stops every part, the last started first.
func (c *cluster) stop() {
	c.lb.Stop()
	for i := range 2 {
		c.apis[i].Stop()
		c.workers[i].Stop()
	}
	for i := len(temporalServices) - 1; i >= 0; i-- {
		c.services[temporalServices[i]].Stop()
	}
	for _, i := range []int{1 - c.primary, c.primary} {
		if c.pg[i] != nil {
			_ = c.pg[i].Stop()
		}
	}
}

func urlPassword(u string) (string, error) {
	conf, err := pgx.ParseConfig(u)
	if err != nil {
		return "", err
	}
	return conf.Password, nil
}
