package dirlock_test

import (
	"errors"
	"os"
	"testing"

	"github.com/duban/duban/internal/dirlock"
)

// A directory is held by one holder at a time, which the next is told of,
// and is free again once released.
func TestAcquire(t *testing.T) {
	dir := t.TempDir()
	first, err := dirlock.Acquire(dir, "test.lock")
	if err != nil {
		t.Fatal(err)
	}
	_, err = dirlock.Acquire(dir, "test.lock")
	var inUse *dirlock.InUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || inUse.Dir != dir {
		t.Fatalf("a second holder: %v", err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := dirlock.Acquire(dir, "test.lock")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Release()
}
