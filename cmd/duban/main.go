// Command duban runs the duban case engine: `duban dev` on one machine with
// everything embedded, `duban serve` (or `api` and `worker` apart) against an
// external Temporal and PostgreSQL, `duban migrate` to set up the database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // time zones for policies, even on images without /usr/share/zoneinfo

	"github.com/duban/duban/workflows"
)

func main() {
	m := NewMain()
	if err := m.ParseArgs(os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "duban:", err)
		os.Exit(2)
	}
	if m.Config.Command == "dev" {
		if err := execDevBuild(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "duban:", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "duban:", err)
		m.Close()
		os.Exit(1)
	}
	if !m.Config.OneShot() {
		<-ctx.Done()
		fmt.Fprintln(os.Stderr, "duban: shutting down")
	}
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "duban:", err)
		os.Exit(1)
	}
}

const usage = `duban: the civic case engine

Usage:
  duban dev      [--addr A] [--data-dir D] [--policy F] [--temporal-port P]
                 everything on one machine: an embedded Temporal server and a
                 private PostgreSQL (unless DATABASE_URL is set), state in D
  duban serve    [--addr A] [--temporal H:P] [--namespace N] [--policy F]
                 API and worker against an external Temporal and DATABASE_URL
  duban api      the API alone (same flags as serve)
  duban worker   the worker alone (same flags as serve, without --addr)
  duban migrate  apply database migrations to DATABASE_URL and exit
  duban policy check FILE
                 check a policy file: every problem with its line, or a summary
  duban audit verify [--blob-store S]
                 check every case's hash-chained events in DATABASE_URL: finds
                 an event changed, removed or reordered by hand (exit 1), and
                 with --blob-store every attachment missing or changed;
                 reads only, so a read-only role may run it
  duban projections rebuild [--check]
                 fold every case's events again and rewrite the projection
                 rows that differ (online); --check compares, writes nothing
  duban passwd   read a password from standard input (twice, unechoed, at a
                 terminal) and print its argon2id hash for a principal's
                 password_hash in the policy
  duban report   --from YYYY-MM-DD --to YYYY-MM-DD [--unit U] [--csv] [--policy F]
                 the units' scorecards for [from, to) from DATABASE_URL, as
                 a table, or as CSV with every field; reads only
  duban sites import [--dry-run] [--as ADMIN] [--policy F] FILE.csv
                 import a spreadsheet of sites (点位) into DATABASE_URL: new
                 ones registered, changed ones changed, none twice; a dry
                 run names every bad row by its line and writes nothing

Every command also takes --log-level (debug, info, warn, error) and
--log-format (json, text). Run 'duban COMMAND -h' for a command's flags.
`

// commands say what each command does, for its -h.
var commands = map[string]string{
	"dev":         "everything on one machine: an embedded Temporal server and a private PostgreSQL (unless DATABASE_URL is set)",
	"serve":       "the API and the worker against an external Temporal server and DATABASE_URL",
	"api":         "the API alone, against an external Temporal server and DATABASE_URL",
	"worker":      "the worker alone, against an external Temporal server and DATABASE_URL",
	"migrate":     "apply the database migrations to DATABASE_URL and exit",
	"audit":       "check every case's hash-chained events in DATABASE_URL (reads only; exit 1 on a flaw)",
	"projections": "fold every case's events in DATABASE_URL again and rewrite the rows that differ; with --check, compare only (reads only)",
	"passwd":      "read a password from standard input and print its argon2id hash, for password_hash in the policy",
	"report":      "print the units' scorecards for the days [from, to) from DATABASE_URL, ranked by the policy's weights (reads only)",
	"sites":       "import a spreadsheet of sites (CSV, UTF-8; a header of id, name, type, lat, lon and area, unit, head_name, head_phone, in English or Chinese) into DATABASE_URL: new sites registered, changed ones changed, none twice",
}

// Config is everything duban reads from its arguments and environment.
type Config struct {
	Command      string
	Addr         string
	DataDir      string
	PolicyFile   string
	TemporalAddr string
	Namespace    string
	TaskQueue    string
	TemporalPort int
	// WorkflowCache is how many cases' workflows a worker keeps in memory.
	WorkflowCache int
	DatabaseURL   string
	// Check makes projections rebuild compare without writing.
	Check bool
	// From, To, Unit, Category, Area and CSV say what duban report prints.
	From, To, Unit, Category, Area string
	CSV                            bool
	// File, DryRun and As say what duban sites import reads, whether it
	// writes, and as which admin of the policy.
	File   string
	DryRun bool
	As     string
	// AllowDevTokens lets serve and api run with a policy that gives
	// principals plaintext tokens.
	AllowDevTokens bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client, for counting wrong passwords by the client's address.
	TrustedProxies []netip.Prefix
	DebugAddr      string
	// MetricsAddr is where a worker serves /metrics (an API serves it on
	// its own address).
	MetricsAddr string
	// PublicURL is where people reach the office pages, for the links in
	// the work-chat messages.
	PublicURL string
	// BlobStore is where attachments are kept (package blobs): a
	// directory or s3://bucket?endpoint=...; dev's default is under its
	// data dir.
	BlobStore string
	LogLevel  string
	LogFormat string
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
}

// subcommands are the commands that take one, and its name.
var subcommands = map[string]string{"audit": "verify", "projections": "rebuild", "sites": "import"}

// OneShot reports whether the command does its work and exits, rather than
// running until it is stopped.
func (c Config) OneShot() bool {
	switch c.Command {
	case "migrate", "policy", "audit", "projections", "report", "passwd", "sites":
		return true
	}
	return false
}

// usesPolicy reports whether the command reads a policy.
func (c Config) usesPolicy() bool {
	switch c.Command {
	case "dev", "serve", "api", "worker", "policy", "report", "sites":
		return true
	}
	return false
}

// readOnly reports whether the command only reads the database: it then
// migrates nothing, so that a read-only role may run it.
func (c Config) readOnly() bool {
	return c.Command == "audit" || c.Command == "report" || c.Command == "projections" && c.Check || c.Command == "sites" && c.DryRun
}

// ParseArgs fills m.Config from the command line and the environment.
func (m *Main) ParseArgs(args []string, getenv func(string) string) error {
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		fmt.Fprint(m.Config.Stderr, usage)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return flag.ErrHelp
	}
	c := &m.Config
	c.Command = args[0]
	if c.Command == "policy" {
		const policyUsage = "usage: duban policy check FILE\n\ncheck a policy file: every problem with its line, or a summary of the policy\n"
		if len(args) == 3 && args[1] == "check" && isHelp(args[2]) || len(args) == 2 && isHelp(args[1]) {
			fmt.Fprint(c.Stderr, policyUsage)
			return flag.ErrHelp
		}
		if len(args) != 3 || args[1] != "check" {
			return errors.New("usage: duban policy check FILE")
		}
		c.PolicyFile, c.LogLevel, c.LogFormat = args[2], "warn", "text"
		return nil
	}
	what, ok := commands[c.Command]
	if !ok {
		fmt.Fprint(c.Stderr, usage)
		return fmt.Errorf("unknown command %q", c.Command)
	}
	name := c.Command
	if sub, ok := subcommands[c.Command]; ok {
		name += " " + sub
		switch {
		case len(args) >= 2 && args[1] == sub:
			args = args[1:] // the flags follow the subcommand
		case len(args) >= 2 && isHelp(args[1]): // -h before the subcommand: its help all the same
		default:
			return fmt.Errorf("usage: duban %s [flags] (duban %s -h lists them)", name, name)
		}
	}
	fs := flag.NewFlagSet("duban "+name, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.Stderr, "usage: duban %s [flags]\n\n%s\n\nflags:\n", name, what)
		fs.PrintDefaults()
		if c.Command == "dev" {
			fmt.Fprintln(c.Stderr, "\nenvironment:\n  DATABASE_URL\tan existing PostgreSQL database to use instead of the private cluster")
		} else {
			fmt.Fprintln(c.Stderr, "\nenvironment:\n  DATABASE_URL\tthe PostgreSQL database, postgres://user:password@host:5432/db (required)")
		}
	}
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	logFormat := "json"
	switch c.Command {
	case "dev":
		logFormat = "text"
		fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address the API listens on")
		fs.StringVar(&c.DataDir, "data-dir", "./.duban", "where the embedded Temporal server and PostgreSQL keep their state")
		fs.IntVar(&c.TemporalPort, "temporal-port", 7233, "port of the embedded Temporal server on 127.0.0.1 (0: any free port)")
	case "serve", "api", "worker":
		if c.Command != "worker" {
			fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address the API listens on")
			fs.BoolVar(&c.AllowDevTokens, "allow-dev-tokens", false, "run with a policy that gives principals plaintext tokens, such as the built-in one's development tokens")
		}
		fs.StringVar(&c.TemporalAddr, "temporal", "localhost:7233", "Temporal frontend host:port")
		fs.StringVar(&c.Namespace, "namespace", "default", "Temporal namespace")
		fs.StringVar(&c.TaskQueue, "task-queue", workflows.TaskQueue, "Temporal task queue of case workflows")
	case "projections":
		fs.BoolVar(&c.Check, "check", false, "compare the projection with the events and write nothing")
	case "report":
		fs.StringVar(&c.From, "from", "", "the period's first day, YYYY-MM-DD in the policy's time zone (required)")
		fs.StringVar(&c.To, "to", "", "the day after the period's last, YYYY-MM-DD (required): --from 2026-11-01 --to 2026-12-01 is November")
		fs.StringVar(&c.Unit, "unit", "", "only this unit's row")
		fs.StringVar(&c.Category, "category", "", "count only cases of this category")
		fs.StringVar(&c.Area, "area", "", "count only cases in this area")
		fs.BoolVar(&c.CSV, "csv", false, "write CSV with every field (UTF-8 with a byte order mark, as the API's) instead of the table")
	case "sites":
		fs.BoolVar(&c.DryRun, "dry-run", false, "check every row against the policy and the sites there are, and write nothing")
		fs.StringVar(&c.As, "as", "", "the admin of the policy the changes are recorded as (default: its only admin)")
	}
	switch c.Command {
	case "dev", "serve", "api", "worker", "report", "sites":
		fs.StringVar(&c.PolicyFile, "policy", "", "policy file (default: the built-in policy)")
	}
	switch c.Command {
	case "dev", "serve", "api", "worker":
		fs.StringVar(&c.DebugAddr, "debug-addr", "", "serve Go's profiler (/debug/pprof/) on this address; off when empty")
	}
	switch c.Command {
	case "dev", "serve", "api", "audit":
		def := "where attachments (photos) are kept: a directory, or s3://BUCKET?endpoint=HOST:PORT[&tls=false][&region=R][&prefix=P] with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set"
		switch c.Command {
		case "dev":
			def += " (default: DATA-DIR/blobs)"
		case "audit":
			def += "; given, the audit also checks every attachment the events refer to"
		default:
			def += " (default: none, and no attachments are taken)"
		}
		fs.StringVar(&c.BlobStore, "blob-store", "", def)
	}
	if c.Command == "dev" || c.Command == "serve" || c.Command == "api" {
		fs.Func("trusted-proxies", "the reverse proxies in front of duban, comma-separated addresses or CIDRs (e.g. 10.0.0.0/8): their X-Forwarded-For names the client whose wrong passwords are counted; without them, the header is ignored and a proxy's clients share its address",
			func(v string) error {
				for _, f := range strings.Split(v, ",") {
					p, err := parsePrefix(strings.TrimSpace(f))
					if err != nil {
						return err
					}
					c.TrustedProxies = append(c.TrustedProxies, p)
				}
				return nil
			})
	}
	if c.Command == "worker" {
		fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics (GET /metrics) on this address; off when empty (the API serves them on its own address)")
	}
	if c.Command == "dev" || c.Command == "serve" || c.Command == "worker" {
		fs.StringVar(&c.PublicURL, "public-url", "", "where people reach the office pages, for the links in work-chat messages (default: http:// and the API's address)")
		fs.IntVar(&c.WorkflowCache, "workflow-cache", 10_000, "how many open cases' workflows the worker keeps in memory (about 20 KB of heap each); others are replayed from their history when they wake")
	}
	fs.StringVar(&c.LogFormat, "log-format", logFormat, "log format: json or text")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if c.Command == "sites" {
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: duban sites import [--dry-run] [--as ADMIN] FILE.csv")
		}
		c.File = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	c.DatabaseURL = getenv("DATABASE_URL")
	if c.DatabaseURL == "" && c.Command != "dev" && c.Command != "passwd" {
		return fmt.Errorf("%s needs DATABASE_URL (postgres://user:password@host:5432/db)", name)
	}
	return nil
}

// parsePrefix reads a CIDR, or an address as the prefix of itself alone.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }
