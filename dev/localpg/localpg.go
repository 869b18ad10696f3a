// Package localpg runs a private PostgreSQL cluster from the PostgreSQL
// binaries installed on the machine, for `duban dev` and for tests.
//
// The cluster lives in one directory and listens on 127.0.0.1 only, with a
// generated password; on the same port at every start, when asked, unless
// it is taken.
// PostgreSQL refuses to run as root, so when duban runs as root the cluster
// runs as the postgres user. While a process runs the cluster, it holds the
// directory: another is refused. A cluster left running by a parent that
// died is stopped and started afresh; one whose parent lives is never touched.
package localpg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban/internal/dirlock"
	"github.com/duban/duban/internal/freeport"
)

// Options say where and how to run the cluster.
type Options struct {
	// Dir holds the cluster's data directory (Dir/data), its password and its
	// log (Dir/postgres.log). It is created when missing.
	Dir string
	// Port to listen on, on 127.0.0.1; 0 picks one.
	Port int
	// KeepPort makes the cluster start on the port of its last start (kept
	// in Dir/port) while that is free, so that clients can keep its URL;
	// without it, a free port is picked at each start.
	KeepPort bool
	// Durable keeps fsync on. Tests turn it off for speed; `duban dev` keeps
	// it on so a crash of the machine loses nothing committed.
	Durable bool
	// Settings are further server settings (name → value), e.g.
	// shared_buffers, given on the command line at each start.
	Settings map[string]string
	// StandbyOf, when set, is a superuser's URL of another cluster: a new
	// cluster is made as its streaming-replication standby, a copy of it
	// (pg_basebackup, the same password) that follows it and answers
	// reads only, until Promote.
	StandbyOf string
}

// Cluster is a running private PostgreSQL.
type Cluster struct {
	// URL connects to the postgres database as the superuser.
	URL  string
	Port int

	dataDir string
	lock    *dirlock.Lock
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the postmaster exits
	logPath string
}

// Start initialises the cluster on first use, stops a postmaster a crashed
// parent left behind, and starts PostgreSQL, returning once it accepts
// connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	lock, err := dirlock.Acquire(dir, "cluster.lock")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "postgres.log"), lock: lock}
	started := false
	defer func() {
		if !started {
			lock.Release()
		}
	}()
	if cred != nil {
		if err := checkTraversable(dir, cred.Uid); err != nil {
			return nil, err
		}
	}
	var password string
	if opts.StandbyOf != "" {
		password, err = c.initStandby(bin, cred, opts.StandbyOf, filepath.Join(dir, "password"))
	} else {
		password, err = c.init(ctx, bin, cred, filepath.Join(dir, "password"))
	}
	if err != nil {
		return nil, err
	}
	// No live process holds the directory: a postmaster still running on
	// it was left by one that died.
	if err := stopLeftover(c.dataDir); err != nil {
		return nil, err
	}
	if c.Port, err = port(opts, filepath.Join(dir, "port")); err != nil {
		return nil, err
	}
	c.URL = (&url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("postgres", password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}).String()
	// The backends of a postmaster that was killed outlive it for a moment,
	// holding its shared memory: a start in that moment is refused, and
	// tried again.
	for attempt := 1; ; attempt++ {
		if err := c.start(bin, cred, opts); err != nil {
			return nil, err
		}
		err := c.waitReady(ctx)
		if err == nil {
			break
		}
		c.Stop()
		if attempt == 20 || !strings.Contains(err.Error(), "pre-existing shared memory block") {
			return nil, err
		}
		time.Sleep(250 * time.Millisecond)
	}
	started = true
	return c, nil
}

// port is the port to start on: the one opts give, or a free one, or, to
// keep the port, the one kept in file from the last start while it is
// free, else a free one, kept for the next. A port is first sought in a range the kernel does not hand out to
// outgoing connections, from a place the directory picks, so that it is
// still free at the next start.
func port(opts Options, file string) (int, error) {
	switch {
	case opts.Port != 0:
		return opts.Port, nil
	case !opts.KeepPort:
		return freeport.Get()
	}
	if b, err := os.ReadFile(file); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && freeport.Free(p) {
			return p, nil
		}
	}
	const first, count = 15432, 100
	h := fnv.New32a()
	h.Write([]byte(filepath.Dir(file)))
	p := 0
	for i := range count {
		if candidate := first + (int(h.Sum32())+i)%count; freeport.Free(candidate) {
			p = candidate
			break
		}
	}
	if p == 0 {
		var err error
		if p, err = freeport.Get(); err != nil {
			return 0, err
		}
	}
	return p, os.WriteFile(file, []byte(strconv.Itoa(p)+"\n"), 0o644)
}

// binDir finds the directory holding initdb and postgres: on PATH, where
// pg_config says, or in Debian's per-version directories (newest first).
func binDir() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versions, func(a, b string) int { return pgMajor(b) - pgMajor(a) })
	candidates = append(candidates, versions...)
	for _, d := range candidates {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found on PATH, via pg_config or in /usr/lib/postgresql/*/bin: install them (Debian: apt-get install postgresql) or set DATABASE_URL to an existing database")
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// credential returns the postgres user's credential when running as root
// (PostgreSQL will not run as root), else nil: run as ourselves.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root, PostgreSQL must run as the postgres user, and there is none: install the postgresql package, run duban as another user, or set DATABASE_URL")
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// checkTraversable makes sure the postgres user can reach dir: every ancestor
// must let others (or its owner, when that is the user) search it.
func checkTraversable(dir string, uid uint32) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Perm()&0o001 == 0 && sys.Uid != uid {
			return fmt.Errorf("the postgres user cannot reach %s because %s is not searchable by others (mode %s): choose a data directory outside it (--data-dir) or set DATABASE_URL", dir, d, st.Mode().Perm())
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

// run runs a PostgreSQL program, as the postgres user when cred is set.
func run(cred *syscall.Credential, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(name), err, out.String())
	}
	return nil
}

// init creates the data directory on first use and returns the superuser's
// password, generated then and kept in passwordFile (readable by us only).
func (c *Cluster) init(ctx context.Context, bin string, cred *syscall.Credential, passwordFile string) (string, error) {
	if isFile(filepath.Join(c.dataDir, "PG_VERSION")) {
		pw, err := os.ReadFile(passwordFile)
		if err != nil {
			return "", fmt.Errorf("the cluster in %s has no password file: %w", c.dataDir, err)
		}
		return strings.TrimSpace(string(pw)), nil
	}
	// A half-made directory from an interrupted first start is made again.
	if err := os.RemoveAll(c.dataDir); err != nil {
		return "", err
	}
	if err := os.Mkdir(c.dataDir, 0o700); err != nil {
		return "", err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	password := hex.EncodeToString(raw)
	// initdb reads the password from a file the postgres user can read,
	// removed as soon as initdb is done.
	pwTmp, err := os.CreateTemp("", "duban-pw-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(pwTmp.Name())
	if _, err := pwTmp.WriteString(password + "\n"); err != nil {
		return "", err
	}
	pwTmp.Close()
	if cred != nil {
		for _, p := range []string{c.dataDir, pwTmp.Name()} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return "", err
			}
		}
	}
	if err := run(cred, filepath.Join(bin, "initdb"),
		"-D", c.dataDir, "-U", "postgres", "-E", "UTF8", "--locale=C",
		"--auth-host=scram-sha-256", "--auth-local=reject", "--pwfile="+pwTmp.Name()); err != nil {
		return "", err
	}
	if err := os.WriteFile(passwordFile, []byte(password+"\n"), 0o600); err != nil {
		return "", err
	}
	return password, nil
}

// initStandby copies the cluster at primary into the data directory on
// first use, configured to follow it, and returns its superuser's
// password, the primary's.
func (c *Cluster) initStandby(bin string, cred *syscall.Credential, primary, passwordFile string) (string, error) {
	u, err := url.Parse(primary)
	if err != nil {
		return "", fmt.Errorf("the primary's URL: %w", err)
	}
	password, _ := u.User.Password()
	if isFile(filepath.Join(c.dataDir, "PG_VERSION")) {
		return password, nil
	}
	if err := os.RemoveAll(c.dataDir); err != nil {
		return "", err
	}
	if err := os.Mkdir(c.dataDir, 0o700); err != nil {
		return "", err
	}
	if cred != nil {
		if err := os.Chown(c.dataDir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", err
		}
	}
	// -R writes primary_conninfo (with the password) and standby.signal.
	cmd := exec.Command(filepath.Join(bin, "pg_basebackup"), "-D", c.dataDir, "-R", "-X", "stream", "-c", "fast",
		"-h", u.Hostname(), "-p", u.Port(), "-U", u.User.Username())
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(c.dataDir)
		return "", fmt.Errorf("pg_basebackup from %s: %w\n%s", u.Host, err, out)
	}
	return password, os.WriteFile(passwordFile, []byte(password+"\n"), 0o600)
}

// Promote makes a standby the primary: it stops following and accepts
// writes from then on.
func (c *Cluster) Promote(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_promote(true, 60)`).Scan(&ok); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	if !ok {
		return errors.New("promote: not promoted within 60 s")
	}
	return nil
}

// stopLeftover stops a postmaster still running on dataDir, which a parent
// killed without a chance to stop it leaves behind.
func stopLeftover(dataDir string) error {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return nil // not running
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 || !isPostgres(pid) {
		return nil // stale: PostgreSQL itself removes it on start
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		_ = syscall.Kill(pid, sig)
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if !isPostgres(pid) {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return fmt.Errorf("a PostgreSQL (pid %d) left running on %s does not stop", pid, dataDir)
}

// isPostgres reports whether pid is a live postgres process (not a zombie).
func isPostgres(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...
	s := string(stat)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open || close+2 >= len(s) {
		return false
	}
	return strings.HasPrefix(s[open+1:close], "postgres") && s[close+2] != 'Z'
}

func (c *Cluster) start(bin string, cred *syscall.Credential, opts Options) error {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	args := []string{"-D", c.dataDir, "-p", strconv.Itoa(c.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "max_connections=200"}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, name := range slices.Sorted(maps.Keys(opts.Settings)) {
		args = append(args, "-c", name+"="+opts.Settings[name])
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Its own process group: a Ctrl-C at the terminal reaches duban,
		// which stops PostgreSQL last, after the worker and API are done.
		Setpgid: true,
		// If duban dies without stopping it, PostgreSQL shuts down fast.
		Pdeathsig: syscall.SIGINT,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	c.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(c.exited) }()
	return nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.URL)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited during start-up; see %s:\n%s", c.logPath, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within 60s: %v; see %s", err, c.logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-10):], "\n")
}

// PID is the postmaster's process id; its children are the cluster's
// backends and background workers.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Stop shuts PostgreSQL down (fast shutdown: connections are closed, committed
// work is kept) and waits for it to exit.
func (c *Cluster) Stop() error {
	if c.cmd == nil {
		return nil
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		_ = c.cmd.Process.Signal(sig)
		select {
		case <-c.exited:
			return c.lock.Release()
		case <-time.After(20 * time.Second):
		}
	}
	return errors.New("postgres did not stop")
}

// Kill kills the postmaster with SIGKILL, as a crash would, and waits for it
// to exit. Its backends notice and exit on their own; Start on the same
// directory recovers the cluster from its write-ahead log.
func (c *Cluster) Kill() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
	_ = c.lock.Release()
}

// CreateDatabase creates the database name on the server adminURL (a URL
// of a database there that a superuser connects to) unless it exists, and
// returns its URL: the same server, user and options.
func CreateDatabase(ctx context.Context, adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}

// WritableURL is a URL of the database name on whichever of the clusters
// accepts writes: pgx (and libpq) try the hosts in turn and keep the
// first that does (target_session_attrs=read-write), so that a client
// follows a standby once it is promoted. The clusters share a password:
// a standby and its primary.
func WritableURL(name string, clusters ...*Cluster) string {
	u, _ := url.Parse(clusters[0].URL)
	hosts := make([]string, len(clusters))
	for i, c := range clusters {
		hosts[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))
	}
	u.Host = strings.Join(hosts, ",")
	u.Path = "/" + name
	u.RawQuery = "sslmode=disable&target_session_attrs=read-write"
	return u.String()
}
