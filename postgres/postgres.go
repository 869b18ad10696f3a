// Package postgres is duban's event store and case projection on PostgreSQL.
//
// Events are appended, never changed. The cases table holds each case as the
// fold of its events and is written in the same transaction as them, so a
// read right after an append sees it. All SQL is plain and parameterised.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duban/duban"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the event store and the projection.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database at url. It does not migrate. Unless url
// says otherwise (connect_timeout), a connection attempt gives up after 5
// seconds: a database that does not answer is reported, not waited for.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := PoolConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return &Store{pool: pool}, nil
}

// PoolConfig is how the store connects to the database at url: a
// connection attempt gives up after 5 seconds unless url says otherwise
// (connect_timeout), and PostgreSQL's JIT compiler is off unless url turns
// it on (options=-c%20jit=on): it costs a scorecard tens of milliseconds
// of compiling and saves none of duban's statements any. The benchmarks
// connect so too, to time raw statements as duban runs them.
func PoolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set && !strings.Contains(cfg.ConnConfig.RuntimeParams["options"], "jit") {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	return cfg, nil
}

// Close releases the store's connections.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return readErr(s.pool.Ping(ctx)) }

// readErr is err as the store's readers report it: a database that cannot
// be reached, or that is shutting down or starting up, is EUNAVAILABLE (a
// 503 to retry), not an internal error. The workflow's appends keep pgx's
// errors: their activity retries them.
func readErr(err error) error {
	if err == nil || duban.ErrorCode(err) != duban.EINTERNAL {
		return err
	}
	var connect *pgconn.ConnectError
	var pgErr *pgconn.PgError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		// Class 08: connection exceptions; 57P0x: shutting down, starting up;
		// 53300: too many connections.
		if !strings.HasPrefix(pgErr.Code, "08") && !strings.HasPrefix(pgErr.Code, "57P0") && pgErr.Code != "53300" {
			return err
		}
	case errors.As(err, &connect), errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), pgconn.SafeToRetry(err), pgconn.Timeout(err):
	default:
		if !strings.Contains(err.Error(), "conn closed") && !strings.Contains(err.Error(), "closed pool") {
			return err
		}
	}
	return duban.Unavailable("the database is unavailable; try again shortly", err)
}

// Migrate applies the embedded migrations not yet applied, in order, each in
// its own transaction, and records them in schema_migrations. Concurrent
// callers (an API and a worker starting together) wait for each other.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	const lockKey = 0x64756261 // "duba"
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey)

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := migrationFiles()
	if err != nil {
		return err
	}
	for _, name := range names {
		base := path.Base(name)
		version, err := migrationVersion(base)
		if err != nil {
			return err
		}
		var applied bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&applied); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if applied {
			continue
		}
		sql, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			if then, ok := afterMigration[version]; ok {
				if err := then(ctx, tx); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, base)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// afterMigration is the work in Go a migration needs done, in its
// transaction, once its SQL has run.
var afterMigration = map[int]func(context.Context, pgx.Tx) error{
	9: fillAssessment, // the scorecards' facts and stretches of the cases already held
}

// migrationFiles are the embedded migrations, in the order they apply.
func migrationFiles() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	slices.Sort(names)
	return names, err
}

func migrationVersion(base string) (int, error) {
	version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
	if err != nil {
		return 0, fmt.Errorf("migration %s: name must start with a number", base)
	}
	return version, nil
}

// CheckMigrated reports, writing nothing (a read-only role may call it),
// whether every embedded migration has been applied: an error names those
// that have not.
func (s *Store) CheckMigrated(ctx context.Context) error {
	var applied []int
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("read the schema's version: %w", err)
	}
	if exists {
		rows, err := s.pool.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read the schema's version: %w", err)
		}
		if applied, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
			return fmt.Errorf("read the schema's version: %w", err)
		}
	}
	names, err := migrationFiles()
	if err != nil {
		return err
	}
	var missing []string
	for _, name := range names {
		base := path.Base(name)
		if v, err := migrationVersion(base); err != nil {
			return err
		} else if !slices.Contains(applied, v) {
			missing = append(missing, base)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the database lacks migrations %s: run duban migrate (as a role that may write) first", strings.Join(missing, ", "))
	}
	return nil
}

// Exec runs one statement with arguments; for tools and tests.
func (s *Store) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := s.pool.Exec(ctx, sql, args...)
	return err
}
