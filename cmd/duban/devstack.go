//go:build devstack

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/duban/duban/dev/devserver"
	"github.com/duban/duban/dev/localpg"
	"github.com/duban/duban/internal/dirlock"
)

// The development stack is linked into duban only with -tags devstack:
// `duban serve`, `api` and `worker` need none of it, and the Temporal
// server is most of its size, so a plain `go build ./cmd/duban` gives the
// production build (production.go).

// devStackLinked says whether this build has the development stack.
const devStackLinked = true

// execDevBuild has nothing to do: this is the development build.
func execDevBuild([]string) error { return nil }

// startDevStack starts the embedded Temporal server and, without
// DATABASE_URL, a private PostgreSQL, both keeping their state in DataDir.
func (m *Main) startDevStack(ctx context.Context) error {
	dir, err := filepath.Abs(m.Config.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	// One duban dev at a time on a data directory: a second would share
	// the first's Temporal store and PostgreSQL.
	lock, err := dirlock.Acquire(dir, "duban.lock")
	var inUse *dirlock.InUseError
	if errors.As(err, &inUse) {
		return fmt.Errorf("%s is in use by process %d, another duban dev: stop that one first, or give this one another --data-dir", m.Config.DataDir, inUse.PID)
	} else if err != nil {
		return err
	}
	m.onClose(lock.Release)
	if m.Config.DatabaseURL == "" {
		pg, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(dir, "postgres"), Durable: true, KeepPort: true})
		if err != nil {
			return fmt.Errorf("start PostgreSQL: %w", err)
		}
		m.onClose(pg.Stop)
		if m.Config.DatabaseURL, err = localpg.CreateDatabase(ctx, pg.URL, "duban"); err != nil {
			return err
		}
		m.privateDatabase = true
	}
	ts, err := devserver.Start(ctx, devserver.Options{
		DatabaseFile: filepath.Join(dir, "temporal.db"),
		Port:         m.Config.TemporalPort,
		Logger:       m.Logger,
	})
	if err != nil {
		return fmt.Errorf("start the Temporal server: %w", err)
	}
	m.onClose(func() error { ts.Stop(); return nil })
	m.Config.TemporalAddr, m.Config.Namespace = ts.HostPort, ts.Namespace
	return nil
}
