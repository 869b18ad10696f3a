// Package freeport finds a TCP port free on 127.0.0.1, for the servers duban
// starts on its own (the embedded Temporal server, a private PostgreSQL, the
// benchmark's processes).
package freeport

import (
	"net"
	"strconv"
)

// Get returns a port nothing listens on at 127.0.0.1 right now.
func Get() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Free reports whether nothing listens on port at 127.0.0.1 right now.
func Free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
