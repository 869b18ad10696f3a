//go:build !devstack

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
)

// This is the production build, what `go build ./cmd/duban` gives and the
// image runs: without the development stack (devstack.go, -tags
// devstack), the embedded Temporal server most of all.

// devStackLinked says whether this build has the development stack.
const devStackLinked = false

// devBuildEnv marks the development build execDevBuild started, so that
// one that still lacks the stack says so rather than starting another.
const devBuildEnv = "DUBAN_DEV_BUILD"

var errNoDevStack = errors.New("this duban is the production build, without the development stack: " +
	"run `go run ./cmd/duban dev` in duban's source tree, build with -tags devstack (make build-dev), " +
	"or use duban serve against a Temporal server and DATABASE_URL")

// startDevStack refuses: the stack is not in this build.
func (m *Main) startDevStack(context.Context) error { return errNoDevStack }

// execDevBuild runs `duban dev` as the development build. In duban's
// source tree with the go command at hand, as `go run ./cmd/duban dev`
// is run, it replaces this process with `go run -tags devstack` of the
// same package and arguments; it returns only when it cannot.
func execDevBuild(args []string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil || os.Getenv(devBuildEnv) != "" || !inSourceTree() {
		return errNoDevStack
	}
	pkg := modulePath + "/cmd/duban"
	fmt.Fprintf(os.Stderr, "duban: the development stack is not in the production build: running go run -tags devstack %s (a first build takes minutes)\n", pkg)
	argv := append([]string{"go", "run", "-tags", "devstack", pkg}, args...)
	return syscall.Exec(goCmd, argv, append(os.Environ(), devBuildEnv+"=1"))
}

const modulePath = "github.com/duban/duban"

// inSourceTree reports whether this binary was built from duban's module
// and the working directory lies in its source tree.
func inSourceTree() bool {
	if bi, ok := debug.ReadBuildInfo(); !ok || bi.Main.Path != modulePath {
		return false
	}
	dir, err := os.Getwd()
	if err != nil {
		return false
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			defer f.Close()
			lines := bufio.NewScanner(f)
			for lines.Scan() {
				if name, ok := strings.CutPrefix(strings.TrimSpace(lines.Text()), "module "); ok {
					return strings.Trim(strings.TrimSpace(name), `"`) == modulePath
				}
			}
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}
