package memstore_test

import (
	"testing"

	"github.com/duban/duban/internal/memstore"
	"github.com/duban/duban/internal/storetest"
)

// The in-memory store keeps the contract of duban's event stores, as the
// PostgreSQL store does.
func TestContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) storetest.Store { return memstore.New() })
}
