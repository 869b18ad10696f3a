//go:build nodev

package main

import (
	"context"
	"errors"
)

// startDevStack refuses: this duban was built for production, without the
// development stack.
func (m *Main) startDevStack(context.Context) error {
	return errors.New("this duban was built without the development stack (-tags nodev, the production build): " +
		"run `go run ./cmd/duban dev` from a checkout, or use duban serve against a Temporal server and DATABASE_URL")
}
