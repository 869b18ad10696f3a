package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"expvar"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
	"github.com/duban/duban/blobs"
	"github.com/duban/duban/metrics"
	"github.com/duban/duban/outbox"
	"github.com/duban/duban/postgres"
	"github.com/duban/duban/web"
	"github.com/duban/duban/worker"
	"github.com/duban/duban/workflows"
)

// Main is a running duban: what Run started, stopped in reverse by Close.
type Main struct {
	Config Config
	Logger *slog.Logger
	Policy *duban.Policy

	// HistoryLimit is passed to new case workflows (0: the default); tests
	// make it small to see continue-as-new.
	HistoryLimit int
	// Getenv reads the environment: the subscriptions' secrets and URLs
	// (default os.Getenv).
	Getenv func(string) string

	listener net.Listener
	closers  []func() error
	metrics  *metrics.Metrics
	// privateDatabase is set when duban dev runs its own PostgreSQL: its
	// banner then shows the database's whole URL, password and all.
	privateDatabase bool
}

// NewMain returns a Main writing to the process's stdout and stderr.
func NewMain() *Main {
	return &Main{Config: Config{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}}
}

// Addr is where the API listens, once Run has started it.
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

func (m *Main) onClose(f func() error) { m.closers = append(m.closers, f) }

// Close stops what Run started, last started first: the API drains its
// requests, the worker finishes its tasks, then Temporal and PostgreSQL stop.
func (m *Main) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

// Run starts the configured command and returns once it is serving.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	if m.Logger == nil {
		var err error
		if m.Logger, err = newLogger(c.Stderr, c.LogLevel, c.LogFormat); err != nil {
			return err
		}
	}
	if c.usesPolicy() {
		if err := m.loadPolicy(); err != nil {
			return err
		}
	}
	if (c.Command == "serve" || c.Command == "api") && !c.AllowDevTokens {
		if ids := m.Policy.PlaintextSecrets(); len(ids) > 0 {
			return fmt.Errorf("the policy gives %s plaintext tokens or passwords, as development policies do (the built-in one included): "+
				"give each principal token_sha256 (printf %%s TOKEN | sha256sum) and password_hash (duban passwd) instead, or, to run with them all the same, --allow-dev-tokens",
				strings.Join(ids, ", "))
		}
	}
	if c.DebugAddr != "" {
		if err := m.serveDebug(c.DebugAddr); err != nil {
			return err
		}
	}
	if c.Command == "policy" {
		m.printPolicySummary()
		return nil
	}
	if c.Command == "passwd" {
		return m.passwd()
	}
	if c.Command == "dev" {
		if err := m.startDevStack(ctx); err != nil {
			return err
		}
	}
	store, err := postgres.Open(ctx, m.Config.DatabaseURL)
	if err != nil {
		return err
	}
	m.onClose(func() error { store.Close(); return nil })
	if c.readOnly() {
		if err := store.CheckMigrated(ctx); err != nil {
			return err
		}
	} else if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate the database: %w", err)
	}
	switch c.Command {
	case "migrate":
		m.Logger.Info("database is up to date")
		return nil
	case "audit":
		return m.audit(ctx, store)
	case "projections":
		return m.rebuildProjections(ctx, store)
	case "report":
		return m.report(ctx, store)
	case "sites":
		return m.importSites(ctx, store)
	}
	m.metrics = metrics.New()
	if c.MetricsAddr != "" {
		if err := m.serveMetrics(c.MetricsAddr); err != nil {
			return err
		}
	}
	sdkMetrics, closeSDKMetrics := m.metrics.Temporal()
	m.onClose(closeSDKMetrics.Close)
	tc, err := workflows.Dial(ctx, m.Config.TemporalAddr, m.Config.Namespace, m.Logger, sdkMetrics)
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", m.Config.TemporalAddr, err)
	}
	m.onClose(func() error { tc.Close(); return nil })
	if c.Command != "api" {
		if c.WorkflowCache > 0 {
			sdkworker.SetStickyWorkflowCacheSize(c.WorkflowCache)
		}
		if err := workflows.RegisterSearchAttributes(ctx, tc, c.Namespace); err != nil {
			return err
		}
		w := worker.New(tc, observedStore{store, m.metrics}, m.Policy, c.TaskQueue)
		if err := w.Start(); err != nil {
			return fmt.Errorf("start the worker: %w", err)
		}
		m.onClose(func() error { w.Stop(); return nil })
		// Ready means a case opened now runs on time: its first task taken
		// and accepted, not refused for attributes the server's services
		// do not see yet and retried ten seconds later.
		start := time.Now()
		queue := cmp.Or(c.TaskQueue, workflows.TaskQueue)
		if err := workflows.AwaitFirstTask(ctx, tc, queue, 2*time.Minute); err != nil {
			return err
		}
		m.Logger.Info("the worker runs case workflows", "task_queue", queue, "waited", time.Since(start).Round(time.Millisecond))
		if err := workflows.StartBulletins(ctx, tc, c.TaskQueue); err != nil {
			return fmt.Errorf("start the bulletins: %w", err)
		}
		if err := workflows.ScheduleRounds(ctx, tc, m.Policy, c.TaskQueue); err != nil {
			return fmt.Errorf("schedule the policy's rounds: %w", err)
		}
		if err := workflows.StartLadders(ctx, &workflows.Client{Temporal: tc, TaskQueue: c.TaskQueue}, store); err != nil {
			return fmt.Errorf("start the rounds' ladders: %w", err)
		}
		if err := m.deliver(store); err != nil {
			return err
		}
	}
	if c.Command != "worker" {
		if err := m.serveAPI(store, tc); err != nil {
			return err
		}
	}
	if c.Command == "dev" {
		m.printBanner()
	}
	return nil
}

// blobs opens the store of attachments --blob-store names (dev: under its
// data dir); nil when there is none.
func (m *Main) blobs() (blobs.Store, error) {
	dataDir := ""
	if m.Config.Command == "dev" {
		dataDir = m.Config.DataDir
	}
	if m.Config.BlobStore == "" && dataDir == "" {
		if m.Config.Command != "audit" {
			m.Logger.Warn("no --blob-store: attachments (photos) are not taken")
		}
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	files, err := blobs.Open(ctx, m.Config.BlobStore, dataDir, m.getenv())
	if err != nil {
		return nil, err
	}
	m.Logger.Info("attachments kept", "in", files.String())
	return files, nil
}

// audit verifies the event store's hash chains, and with a blob store the
// attachments the events refer to, and prints what it found.
func (m *Main) audit(ctx context.Context, store *postgres.Store) error {
	a, err := store.Verify(ctx)
	if err != nil {
		return err
	}
	w := m.Config.Stdout
	for _, f := range a.Flaws {
		fmt.Fprintln(w, f)
	}
	if a.FlawCount > int64(len(a.Flaws)) {
		fmt.Fprintf(w, "... and %d more\n", a.FlawCount-int64(len(a.Flaws)))
	}
	fmt.Fprintf(w, "audit: %d cases, %d events", a.Cases, a.Events)
	if a.FlawCount > 0 {
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, ": every chain holds")
	}
	files, err := m.blobs()
	if err != nil {
		return err
	}
	var blobFlaws []string
	if files != nil {
		var checked int
		if blobFlaws, checked, err = auditBlobs(ctx, store, files); err != nil {
			return err
		}
		for _, f := range blobFlaws {
			fmt.Fprintln(w, f)
		}
		fmt.Fprintf(w, "audit: %d attachments referred to, %d whole, %d missing or changed\n", checked+len(blobFlaws), checked, len(blobFlaws))
	}
	if a.FlawCount > 0 || len(blobFlaws) > 0 {
		return fmt.Errorf("audit: %d flaws in the event store, %d attachments missing or changed", a.FlawCount, len(blobFlaws))
	}
	return nil
}

// rebuildProjections folds every case again and compares, or rewrites.
func (m *Main) rebuildProjections(ctx context.Context, store *postgres.Store) error {
	check := m.Config.Check
	last := time.Now()
	r, err := store.RebuildProjections(ctx, check, func(folded int64) {
		if time.Since(last) > 2*time.Second {
			fmt.Fprintf(m.Config.Stderr, "folded %d cases\n", folded)
			last = time.Now()
		}
	})
	if err != nil {
		return err
	}
	w := m.Config.Stdout
	for _, d := range r.Examples {
		fmt.Fprintln(w, d)
	}
	if r.Differed > int64(len(r.Examples)) {
		fmt.Fprintf(w, "... and %d more\n", r.Differed-int64(len(r.Examples)))
	}
	if check {
		fmt.Fprintf(w, "projections: %d cases folded, %d rows differ\n", r.Cases, r.Differed)
		if r.Differed > 0 {
			return fmt.Errorf("projections: %d rows differ from their events; 'duban projections rebuild' rewrites them", r.Differed)
		}
		return nil
	}
	fmt.Fprintf(w, "projections: %d cases folded, %d rows differed, %d rewritten\n", r.Cases, r.Differed, r.Rewritten)
	return nil
}

func (m *Main) loadPolicy() error {
	if m.Policy != nil {
		return nil
	}
	if m.Config.PolicyFile == "" {
		m.Policy = duban.DefaultPolicy()
		return nil
	}
	b, err := os.ReadFile(m.Config.PolicyFile)
	if err != nil {
		return fmt.Errorf("read the policy: %w", err)
	}
	// A file the policy names (an area's outline) is found beside it.
	dir := filepath.Dir(m.Config.PolicyFile)
	m.Policy, err = duban.ParsePolicyWith(m.Config.PolicyFile, b, func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	})
	if err != nil {
		return fmt.Errorf("the policy is invalid:\n%w", err)
	}
	return nil
}

func (m *Main) serveAPI(store *postgres.Store, tc client.Client) error {
	dependencies := []app.Dependency{
		{Name: "database", Check: store.Ping},
		{Name: "temporal", Check: m.temporalReady(tc)},
	}
	engine := &workflows.Client{Temporal: tc, TaskQueue: m.Config.TaskQueue, HistoryLimit: m.HistoryLimit}
	cases := &app.Service{
		Policy:       m.Policy,
		Store:        store,
		Engine:       engine,
		Ladders:      engine,
		Dependencies: dependencies,
		Logger:       m.Logger,
		Feed:         &app.Feed{Store: store, Logger: m.Logger},
		Sessions:     store,
		Outbox:       store,
		Sites:        store,
		Residents:    store,
		Observe:      m.metrics.Command,
	}
	m.metrics.WatchCases(store)
	var subscriptions []string
	for _, sub := range m.Policy.Subscriptions {
		subscriptions = append(subscriptions, sub.Name)
	}
	m.metrics.WatchOutbox(store, subscriptions)
	watch, stopWatching := context.WithCancel(context.Background())
	go cases.Watch(watch, time.Second)
	go cases.Feed.Run(watch)
	m.onClose(func() error { stopWatching(); return nil })
	files, err := m.blobs()
	if err != nil {
		return err
	}
	if files != nil {
		cases.Attachments, cases.Blobs = store, files
	}
	pages, err := (&web.Server{App: cases, Policy: m.Policy, Logger: m.Logger, TrustedProxies: m.Config.TrustedProxies}).Handler()
	if err != nil {
		return fmt.Errorf("the office pages: %w", err)
	}
	srv := &api.Server{
		Policy:        m.Policy,
		Cases:         cases,
		Commands:      cases,
		Reports:       cases,
		Streams:       cases,
		Sessions:      cases,
		Subscriptions: cases,
		Attachments:   cases,
		Sites:         cases,
		Residents:     cases,
		Pages:         pages,
		Metrics:       m.metrics.Handler(),
		Instrument:    m.metrics.Requests,
		Logger:        m.Logger,
		Ready:         dependencies,
	}
	l, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Addr, err)
	}
	m.listener = l
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	// Streams never go idle: end them when the server shuts down, so that
	// it drains the other requests without waiting for the boards.
	hs.RegisterOnShutdown(srv.CloseStreams)
	go func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("the API stopped", "error", err)
		}
	}()
	m.onClose(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return hs.Shutdown(ctx)
	})
	m.Logger.Info("API listening", "addr", l.Addr().String())
	return nil
}

// temporalReady checks that Temporal answers and, until it once has, that
// the namespace lists the case search attributes: an API alone (duban api)
// is not ready before a worker, or an operator, has added them.
func (m *Main) temporalReady(tc client.Client) func(context.Context) error {
	var listed atomic.Bool
	return func(ctx context.Context) error {
		if _, err := tc.CheckHealth(ctx, nil); err != nil {
			return err
		}
		if listed.Load() {
			return nil
		}
		if err := workflows.SearchAttributesListed(ctx, tc, m.Config.Namespace); err != nil {
			return err
		}
		listed.Store(true)
		return nil
	}
}

// deliver sends the policy's subscriptions their events, until Close.
func (m *Main) deliver(store *postgres.Store) error {
	targets, err := outbox.Targets(m.Policy.Subscriptions, m.getenv())
	if err != nil || len(targets) == 0 {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&outbox.Deliverer{Store: store, Targets: targets, Policy: m.Policy, PublicURL: m.publicURL(),
			Logger: m.Logger.With("component", "outbox")}).Run(ctx)
	}()
	m.onClose(func() error { cancel(); <-done; return nil })
	m.Logger.Info("delivering to subscriptions", "count", len(targets))
	return nil
}

// publicURL is where people reach the office pages, for the links in the
// chat messages: --public-url, else the API's own address.
func (m *Main) publicURL() string {
	if m.Config.PublicURL != "" {
		return m.Config.PublicURL
	}
	addr := m.Config.Addr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	return "http://" + addr
}

func (m *Main) getenv() func(string) string {
	if m.Getenv == nil {
		return os.Getenv
	}
	return m.Getenv
}

// observedStore is the worker's store, whose appends the metrics watch for
// how late warnings and escalations are recorded.
type observedStore struct {
	*postgres.Store
	metrics *metrics.Metrics
}

func (s observedStore) Append(ctx context.Context, a duban.Append) (duban.Appended, error) {
	out, err := s.Store.Append(ctx, a)
	if err == nil {
		s.metrics.Escalations(a.Before, out.Events)
	}
	return out, err
}

// serveMetrics serves GET /metrics on addr, for a worker, which has no API
// to serve it on.
func (m *Main) serveMetrics(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.metrics.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	m.onClose(hs.Close)
	m.Logger.Info("metrics listening", "addr", l.Addr().String())
	return nil
}

// serveDebug serves Go's profiler and memory statistics (/debug/vars) on
// addr, for operators chasing a slow or hungry process.
func (m *Main) serveDebug(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	m.onClose(hs.Close)
	m.Logger.Info("profiler listening", "addr", l.Addr().String())
	return nil
}

func (m *Main) printPolicySummary() {
	p := m.Policy
	items := 0
	for _, t := range p.SiteTypes {
		items += len(t.Items)
	}
	fmt.Fprintf(m.Config.Stdout, "%s: ok, version %s: %s, %s, %s, %s, %s, %s, %s (%s), %s; deadlines on %s",
		m.Config.PolicyFile, p.Version, count(len(p.Units), "unit"), count(len(p.Categories), "category"), count(len(p.Areas), "area"),
		count(len(p.Routing), "routing rule"), count(len(p.Escalation), "escalation step"), count(len(p.SiteTypes), "site type"),
		count(items, "standard"), "pass at "+strconv.Itoa(p.Inspection.PassScore), count(len(p.Principals), "principal"), p.Calendar.Kind)
	if p.Calendar.Kind == duban.CalendarBusiness {
		fmt.Fprintf(m.Config.Stdout, " time in %s", p.TimeZone)
	}
	fmt.Fprintln(m.Config.Stdout)
}

// count says how many of thing there are: "1 routing rule", "2 categories".
func count(n int, thing string) string {
	switch {
	case n == 1:
		return "1 " + thing
	case strings.HasSuffix(thing, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(thing, "y"))
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func (m *Main) printBanner() {
	w := m.Config.Stdout
	base := "http://" + m.Addr()
	fmt.Fprintf(w, "\nduban dev is running\n\n")
	fmt.Fprintf(w, "  API        %s\n", base)
	fmt.Fprintf(w, "  Temporal   %s, namespace %s\n", m.Config.TemporalAddr, m.Config.Namespace)
	if m.privateDatabase {
		// A cluster of this machine's, on 127.0.0.1, on the same port at
		// every start: the URL works for psql and duban's admin commands.
		fmt.Fprintf(w, "  Database   %s\n", m.Config.DatabaseURL)
	} else {
		fmt.Fprintf(w, "  Database   %s\n", redacted(m.Config.DatabaseURL))
	}
	fmt.Fprintf(w, "  Data       %s\n", m.Config.DataDir)
	policy := "built-in default"
	if m.Config.PolicyFile != "" {
		policy = m.Config.PolicyFile
	}
	fmt.Fprintf(w, "  Policy     %s (version %s)\n\n", policy, m.Policy.Version)
	fmt.Fprintf(w, "Office pages: %s/login, signed in with a USER and PASSWORD below.\n", base)
	fmt.Fprintf(w, "Development principals (the API takes Authorization: Bearer TOKEN):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  TOKEN\tUSER\tPASSWORD\tROLE\tUNIT\n")
	for _, p := range m.Policy.Principals {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", orHidden(p.Token), orNone(p.User), orHidden(p.Password), p.Role, p.Unit)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nTry:\n  curl -s -H 'Authorization: Bearer dev-supervisor' %s/v1/cases\n\nCtrl-C stops duban; its state stays in %s.\n\n", base, m.Config.DataDir)
}

// orHidden is a secret for the banner: held as a hash when the policy does not hold it in the clear.
func orHidden(secret string) string {
	if secret == "" {
		return "(a hash)"
	}
	return secret
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// redacted is a database URL without its password, for a banner.
func redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Redacted()
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be json or text, not %q", format)
}

// auditBlobs reads every attachment the events refer to and checks that its
// bytes hash to its id.
func auditBlobs(ctx context.Context, store *postgres.Store, files blobs.Store) (flaws []string, checked int, err error) {
	ids, err := store.Attachments(ctx)
	if err != nil {
		return nil, 0, err
	}
	for _, id := range ids {
		r, _, err := files.Get(ctx, app.OriginalKey(id))
		if errors.Is(err, blobs.ErrNotFound) {
			flaws = append(flaws, fmt.Sprintf("attachment %s: missing from the blob store", id))
			continue
		} else if err != nil {
			return nil, checked, err
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return nil, checked, err
		}
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != id {
			flaws = append(flaws, fmt.Sprintf("attachment %s: its bytes have changed (they hash to %s)", id, got))
			continue
		}
		checked++
	}
	return flaws, checked, nil
}
