// Package harness holds what the benchmark (bench/) and the fault harness
// (chaos/) share: building duban, starting its processes and stopping or
// killing them, and waiting for an HTTP endpoint.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BuildDuban builds the production duban (cmd/duban without the
// development stack, as the Dockerfile does) into dir and returns the
// binary's path.
func BuildDuban(dir string) (string, error) {
	binary := dir + "/duban"
	if out, err := exec.Command("go", "build", "-o", binary, "./cmd/duban").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build duban: %v\n%s", err, out)
	}
	return binary, nil
}

// Process is a child process the harness started, its output appended to
// Log.
type Process struct {
	Log    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// Spawn starts binary with args, env added to the harness's environment,
// its output appended to logPath.
func Spawn(binary string, args, env []string, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the harness dies, its children go too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &Process{Log: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.exited) }()
	return p, nil
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// PID is the process's id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop interrupts the process and waits for it to exit, killing it after
// 30 seconds.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.Kill()
	}
}

// Kill kills the process with SIGKILL, giving it no chance to clean up, and
// waits for it to exit.
func (p *Process) Kill() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// RSS returns the process's resident memory in bytes (0 once it exited).
func (p *Process) RSS() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// WaitOK polls url until it answers 200, for at most timeout, and gives up
// early if p (when not nil) exits.
func WaitOK(ctx context.Context, url string, timeout time.Duration, p *Process) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		var exited <-chan struct{}
		if p != nil {
			exited = p.exited
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s", url, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return fmt.Errorf("the process exited before %s answered; see %s", url, p.Log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Send sends a request to duban's API as token, with payload as its JSON
// body and key as its Idempotency-Key when not empty, and returns the
// answer's status and body.
func Send(ctx context.Context, hc *http.Client, method, url, token, key string, payload []byte) (int, []byte, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}
