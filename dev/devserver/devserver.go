// Package devserver runs a Temporal server inside the duban process, for
// `duban dev`, end-to-end tests and benchmarks, every service on 127.0.0.1:
// on SQLite persisted to a file (or in memory), as `duban dev` does, or on
// PostgreSQL, the shape a city runs in production.
//
// It follows the Temporal CLI's `server start-dev`: static hosts instead of
// ringpop membership, the schema applied when the store is new, namespaces
// created if missing. SQLite runs with WAL and synchronous=normal, which lets
// it write several times faster than its default journal.
package devserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	schematool "go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"

	"github.com/duban/duban/internal/freeport"
)

// Options say where the server keeps its state and listens.
type Options struct {
	// DatabaseFile persists the server's state; empty keeps it in memory.
	DatabaseFile string
	// Port of the frontend (the address clients dial) on 127.0.0.1; 0 picks
	// a free one.
	Port int
	// Namespace to create (default "default").
	Namespace string
	// Logger receives the server's logs at Level and above (default: warnings).
	Logger *slog.Logger
	Level  slog.Level
	// Postgres, when set, persists to PostgreSQL instead of SQLite: the
	// databases temporal and temporal_visibility on that server, created
	// with their schema when missing.
	Postgres *Postgres
	// Shards is the number of history shards (default 4). It cannot change
	// once a store has been created: a SQLite file made with another
	// number keeps it (DatabaseFile + ".shards" says which; a file made
	// before that note has 1).
	Shards int
	// Service, when set, runs that service alone (frontend, history,
	// matching or worker): one process of a cluster whose services run
	// apart, on PostgreSQL, each found by the others at Ports. Start
	// returns once the service runs; for the frontend, once it answers
	// and knows the namespace (registering it).
	Service string
	// Ports are where the services listen on 127.0.0.1, the same in every
	// process of a cluster; required with Service. Without it, Port is
	// the frontend's and the others are picked.
	Ports *Ports
	// MetricsPort, when set, serves the server's metrics for Prometheus
	// at /metrics on that port of 127.0.0.1.
	MetricsPort int
}

// Ports are the services' gRPC ports and the frontend's HTTP port.
type Ports struct {
	Frontend, FrontendHTTP, History, Matching, Worker int
}

// Postgres is where a PostgreSQL-backed server keeps its state.
type Postgres struct {
	Host     string
	Port     int
	User     string
	Password string
	// Standby, when set, is a second server (host:port) that may be
	// promoted when the first fails: the server connects to whichever of
	// the two accepts writes (pgx's target_session_attrs=read-write).
	Standby string
}

// Server is a running embedded Temporal server.
type Server struct {
	// HostPort is the frontend's address.
	HostPort  string
	Namespace string
	server    temporal.Server
	level     *slog.LevelVar
}

const ip = "127.0.0.1"

// Start starts the server and returns once its frontend answers.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Level == 0 {
		opts.Level = slog.LevelWarn
	}
	var err error
	services := temporal.DefaultServices
	if opts.Service != "" {
		if opts.Ports == nil || opts.Postgres == nil {
			return nil, fmt.Errorf("the %s service alone needs the cluster's ports and PostgreSQL", opts.Service)
		}
		if !slices.Contains(services, opts.Service) {
			return nil, fmt.Errorf("no Temporal service %q (want one of %s)", opts.Service, strings.Join(services, ", "))
		}
		services = []string{opts.Service}
	}
	if opts.Ports != nil {
		opts.Port = opts.Ports.Frontend
	} else if opts.Port == 0 {
		if opts.Port, err = freeport.Get(); err != nil {
			return nil, err
		}
	}
	if opts.Service == "" || opts.Service == "frontend" {
		if err := portFree(opts.Port); err != nil {
			return nil, fmt.Errorf("the Temporal port %d is taken (another duban or Temporal server?): %w", opts.Port, err)
		}
	}
	var stores map[string]config.DataStore
	if opts.Postgres != nil {
		stores, err = postgresStores(*opts.Postgres)
	} else {
		if opts.Shards, err = sqliteShards(opts.DatabaseFile, opts.Shards); err != nil {
			return nil, err
		}
		stores, err = sqliteStores(opts)
	}
	if err != nil {
		return nil, err
	}
	if opts.Shards == 0 {
		opts.Shards = defaultShards
	}
	ports := opts.Ports
	if ports == nil {
		ports = &Ports{Frontend: opts.Port}
		for _, p := range []*int{&ports.FrontendHTTP, &ports.History, &ports.Matching, &ports.Worker} {
			if *p, err = freeport.Get(); err != nil {
				return nil, err
			}
		}
	}
	conf := serverConfig(*ports, max(opts.Shards, 1), stores)
	if opts.MetricsPort != 0 {
		conf.Global.Metrics = &metrics.Config{Prometheus: &metrics.PrometheusConfig{Framework: metrics.FrameworkOpentelemetry,
			ListenAddress: net.JoinHostPort(ip, strconv.Itoa(opts.MetricsPort)), HandlerPath: "/metrics"}}
	}
	level := new(slog.LevelVar)
	level.Set(opts.Level)
	logger := slogLogger{log: opts.Logger, level: level}
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, err
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, err
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for _, svc := range []primitives.ServiceName{primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(ip, strconv.Itoa(conf.Services[string(svc)].RPC.GRPCPort)))
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(services),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		// The history service's cache of workflows' mutable state is left
		// at Temporal's size (128,000 entries), as the compose stack runs
		// it. With 8,192, as this server had until 2026-12-01, 10,000
		// deadlines due at once did not fit: each escalation loaded its
		// workflow's state from the store 2.3 times, and the burst took
		// 193-208 s instead of 149-175 (BENCHMARKS.md, the Monday-morning
		// burst).
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s := &Server{HostPort: net.JoinHostPort(ip, strconv.Itoa(opts.Port)), Namespace: opts.Namespace, server: srv, level: level}
	if opts.Service != "" && opts.Service != "frontend" {
		return s, nil // the frontend, started apart, says when the cluster answers
	}
	if err := s.waitReady(ctx, opts.Postgres != nil); err != nil {
		s.Stop()
		return nil, err
	}
	if opts.DatabaseFile != "" {
		if err := os.WriteFile(opts.DatabaseFile+".shards", []byte(strconv.Itoa(opts.Shards)+"\n"), 0o644); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// defaultShards is the number of history shards of a new store. With one,
// as duban dev once ran, a single client's open of a new case waited a
// flat ~49 ms for its first workflow task (p50 of 40 Update-with-Starts
// on SQLite, in memory or in a file, 2026-12-01); with four, 7 ms.
const defaultShards = 4

// sqliteShards is the number of history shards for the SQLite store in
// file (in memory: none): the number it was made with, if it exists,
// else want, else defaultShards.
func sqliteShards(file string, want int) (int, error) {
	if file == "" {
		return cmp.Or(want, defaultShards), nil
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return cmp.Or(want, defaultShards), nil
	} else if err != nil {
		return 0, err
	}
	made := 1 // a store made before the note was kept
	if b, err := os.ReadFile(file + ".shards"); err == nil {
		if made, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil || made < 1 {
			return 0, fmt.Errorf("%s.shards: not a number of shards", file)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	if want != 0 && want != made {
		return 0, fmt.Errorf("the Temporal store %s was made with %d history shards, not %d: the number cannot change", file, made, want)
	}
	return made, nil
}

// Stop shuts the server down. Its services complain about each other's
// departure while they stop, and about the calls that stopping cuts short
// (at ERROR: "unable to add metrics baggage to gRPC trailer"): none of it
// is a problem, so nothing is logged from then on.
func (s *Server) Stop() {
	s.level.Set(slog.LevelError + 4)
	_ = s.server.Stop()
}

// waitReady returns once the frontend answers and knows the namespace,
// registering it first when asked to (the SQLite store has it already).
func (s *Server) waitReady(ctx context.Context, register bool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		c, err := client.Dial(client.Options{HostPort: s.HostPort, Namespace: s.Namespace, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if err == nil {
			err = s.namespaceReady(ctx, c, register)
			c.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Temporal server did not become ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) namespaceReady(ctx context.Context, c client.Client, register bool) error {
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return err
	}
	nc, err := client.NewNamespaceClient(client.Options{HostPort: s.HostPort, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return err
	}
	defer nc.Close()
	if register {
		err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        s.Namespace,
			WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return err
		}
	}
	_, err = nc.Describe(ctx, s.Namespace)
	return err
}

// postgresStores creates Temporal's databases and schemas on a PostgreSQL
// server, where missing, with the server's own schema tasks and embedded
// schema (what temporal-sql-tool create-database, setup-schema and
// update-schema do).
func postgresStores(pg Postgres) (map[string]config.DataStore, error) {
	quiet := log.NewNoopLogger()
	addr, attrs := net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port)), map[string]string(nil)
	if pg.Standby != "" {
		addr += "," + pg.Standby
		attrs = map[string]string{"target_session_attrs": "read-write"}
	}
	stores := map[string]config.DataStore{}
	for _, db := range []struct{ name, schema string }{
		{"temporal", "postgresql/v12/temporal"},
		{"temporal_visibility", "postgresql/v12/visibility"},
	} {
		conf := &config.SQL{
			PluginName:        postgresql.PluginNamePGX,
			DatabaseName:      db.name,
			ConnectAddr:       addr,
			ConnectAttributes: attrs,
			ConnectProtocol:   "tcp",
			User:              pg.User,
			Password:          pg.Password,
			MaxConns:          20,
			MaxIdleConns:      20,
			MaxConnLifetime:   time.Hour,
		}
		// Creating a database that exists fails: its schema exists then too,
		// and the update below brings it up to date.
		admin := *conf
		if sqltool.DoCreateDatabase(&admin, "postgres", quiet) == nil {
			if err := runSchemaTask(conf, func(c *sqltool.Connection) error {
				return schematool.NewSetupSchemaTask(c, &schematool.SetupConfig{InitialVersion: "0.0"}, quiet).Run()
			}); err != nil {
				return nil, fmt.Errorf("set up %s: %w", db.name, err)
			}
		}
		if err := runSchemaTask(conf, func(c *sqltool.Connection) error {
			return schematool.NewUpdateSchemaTask(c, &schematool.UpdateConfig{DBName: db.name, SchemaName: db.schema}, quiet).Run()
		}); err != nil {
			return nil, fmt.Errorf("update %s: %w", db.name, err)
		}
		stores[db.name] = config.DataStore{SQL: conf}
	}
	return map[string]config.DataStore{"default": stores["temporal"], "visibility": stores["temporal_visibility"]}, nil
}

func runSchemaTask(conf *config.SQL, task func(*sqltool.Connection) error) error {
	c, err := sqltool.NewConnection(conf, log.NewNoopLogger())
	if err != nil {
		return err
	}
	defer c.Close()
	return task(c)
}

// sqliteStores prepares the SQLite store: a file, made with its schema when
// new, or memory.
func sqliteStores(opts Options) (map[string]config.DataStore, error) {
	conf, err := sqlConfig(opts)
	if err != nil {
		return nil, err
	}
	// One store serves both: each store opens its own connections, and an
	// in-memory SQLite database is made anew for each.
	return map[string]config.DataStore{"default": {SQL: conf}}, nil
}

func sqlConfig(opts Options) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if opts.DatabaseFile == "" {
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		conf.DatabaseName = strconv.Itoa(rand.IntN(1 << 30))
	} else {
		conf.ConnectAttributes = map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal"}
		conf.DatabaseName = opts.DatabaseFile
		if _, err := os.Stat(opts.DatabaseFile); os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o755); err != nil {
				return nil, err
			}
			if err := sqliteschema.SetupSchema(conf); err != nil {
				os.Remove(opts.DatabaseFile)
				return nil, fmt.Errorf("set up the Temporal schema in %s: %w", opts.DatabaseFile, err)
			}
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig("active", opts.Namespace, false, nil)
	if err != nil {
		return nil, err
	}
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", opts.Namespace, err)
	}
	return conf, nil
}

func serverConfig(ports Ports, shards int, stores map[string]config.DataStore) *config.Config {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = ip
	conf.Persistence.DefaultStore = "default"
	conf.Persistence.VisibilityStore = "default"
	if _, ok := stores["visibility"]; ok {
		conf.Persistence.VisibilityStore = "visibility"
	}
	conf.Persistence.NumHistoryShards = int32(shards)
	conf.Persistence.DataStores = stores
	frontend := net.JoinHostPort(ip, strconv.Itoa(ports.Frontend))
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{
			"active": {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontend,
				HTTPAddress:            net.JoinHostPort(ip, strconv.Itoa(ports.FrontendHTTP)),
				// No ClusterID: the server makes one (a UUID) when the store
				// is new, and keeps it.
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for name, port := range map[string]int{"frontend": ports.Frontend, "history": ports.History, "matching": ports.Matching, "worker": ports.Worker} {
		svc := config.Service{}
		svc.RPC.BindOnIP = ip
		svc.RPC.GRPCPort = port
		if name == "frontend" {
			svc.RPC.HTTPPort = ports.FrontendHTTP
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	return &conf
}

func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// slogLogger adapts slog to the server's logger.
type slogLogger struct {
	log   *slog.Logger
	level *slog.LevelVar
}

var _ log.Logger = slogLogger{}

func (s slogLogger) Debug(msg string, tags ...tag.Tag)  { s.emit(slog.LevelDebug, msg, tags) }
func (s slogLogger) Info(msg string, tags ...tag.Tag)   { s.emit(slog.LevelInfo, msg, tags) }
func (s slogLogger) Warn(msg string, tags ...tag.Tag)   { s.emit(slog.LevelWarn, msg, tags) }
func (s slogLogger) Error(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }
func (s slogLogger) DPanic(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }
func (s slogLogger) Panic(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }
func (s slogLogger) Fatal(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }

func (s slogLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	if level < s.level.Level() {
		return
	}
	attrs := make([]slog.Attr, 0, len(tags)+1)
	attrs = append(attrs, slog.String("component", "temporal"))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	s.log.LogAttrs(context.Background(), level, msg, attrs...)
}
