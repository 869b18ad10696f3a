package app

import (
	"context"
	"sync"
	"time"

	"github.com/duban/duban"
)

// Dependency is something the service needs to answer: the database, the
// case engine.
type Dependency struct {
	Name  string // as /readyz names it: "database", "temporal"
	Check func(context.Context) error
}

// health is what the last round of checks found: the first dependency
// down, with why, or none.
type health struct {
	mu   sync.Mutex
	down map[string]error
}

// Watch checks every dependency each interval (each check bounded by it)
// until ctx ends. While one fails its check, commands are refused at once,
// 503 to retry, instead of waiting out their timeout on a dependency that
// does not answer. Reads are not held back: they fail or succeed on their
// own, quickly.
func (s *Service) Watch(ctx context.Context, interval time.Duration) {
	logger := s.logger()
	for {
		for _, d := range s.Dependencies {
			checkCtx, cancel := context.WithTimeout(ctx, interval)
			err := d.Check(checkCtx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if was := s.health.set(d.Name, err); was != (err != nil) {
				if err != nil {
					logger.Warn("a dependency does not answer: commands are refused until it does", "dependency", d.Name, "error", err)
				} else {
					logger.Info("a dependency answers again", "dependency", d.Name)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// set records what the check of name found and reports whether it was
// down before.
func (h *health) set(name string, err error) (wasDown bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, wasDown = h.down[name]
	if err == nil {
		delete(h.down, name)
	} else {
		if h.down == nil {
			h.down = map[string]error{}
		}
		h.down[name] = err
	}
	return wasDown
}

// available refuses (EUNAVAILABLE) while a dependency failed its last check.
func (s *Service) available() error {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	for _, d := range s.Dependencies {
		if err, down := s.health.down[d.Name]; down {
			return duban.Unavailable(d.Name+" is unavailable; try again shortly", err)
		}
	}
	return nil
}
