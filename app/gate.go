package app

import (
	"sync"

	"github.com/duban/duban"
)

// maxInFlightPerCase bounds the commands one process sends to one case at
// once: a case handles commands one at a time, and a pile of them only
// makes each wait longer (Temporal handles many concurrent Updates on one
// workflow badly).
const maxInFlightPerCase = 4

// gate counts the commands in flight per case.
type gate struct {
	mu sync.Mutex
	n  map[string]int
}

// enter lets a command through to case id, or refuses it (ETOOMANY) when
// too many are waiting there; a command let through must leave.
func (g *gate) enter(id string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == nil {
		g.n = map[string]int{}
	}
	if g.n[id] >= maxInFlightPerCase {
		return duban.Errorf(duban.ETOOMANY, "too many commands are waiting on this case; try again in a moment")
	}
	g.n[id]++
	return nil
}

func (g *gate) leave(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n[id]--; g.n[id] <= 0 {
		delete(g.n, id)
	}
}
