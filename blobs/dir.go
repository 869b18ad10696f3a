package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir keeps blobs as files under a directory. A blob is written to a
// temporary file beside the others, synced, then renamed into place (and
// the directory synced): a crash leaves either the whole blob or none,
// and at most a temporary file, removed by the next NewDir.
type Dir struct{ root string }

// NewDir returns the store in root, creating it if needed.
func NewDir(root string) (*Dir, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(root, ".tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	// What a crash left half written.
	if names, err := os.ReadDir(tmp); err == nil {
		for _, n := range names {
			_ = os.Remove(filepath.Join(tmp, n.Name()))
		}
	}
	return &Dir{root: root}, nil
}

func (d *Dir) String() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes the blob atomically.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64, _ string) error {
	if _, err := d.path(key); err != nil {
		return err
	}
	s, err := d.Spool(ctx)
	if err != nil {
		return err
	}
	n, err := io.Copy(s, contextReader{ctx, r})
	if err == nil && n != size {
		err = fmt.Errorf("blob %s: %d bytes read, %d expected", key, n, size)
	}
	if err != nil {
		s.Discard()
		return err
	}
	return s.Keep(key)
}

// Spool is a blob being written before its key is known: an upload
// written as it arrives while its hash, its name, is computed.
type Spool interface {
	io.Writer
	// Keep makes what was written the blob under key, durably; after it
	// fails nothing is kept. Discard forgets what was written.
	Keep(key string) error
	Discard()
}

// Spool starts a blob in a temporary file, renamed into place by Keep.
func (d *Dir) Spool(context.Context) (Spool, error) {
	f, err := os.CreateTemp(filepath.Join(d.root, ".tmp"), "put-*")
	if err != nil {
		return nil, err
	}
	return &dirSpool{d: d, f: f}, nil
}

type dirSpool struct {
	d *Dir
	f *os.File
}

func (s *dirSpool) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *dirSpool) Discard() {
	s.f.Close()
	os.Remove(s.f.Name())
}

func (s *dirSpool) Keep(key string) (err error) {
	defer func() {
		if err != nil {
			s.Discard()
		}
	}()
	path, err := s.d.path(key)
	if err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	if err := s.f.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	if err := os.Rename(s.f.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// Get opens the blob's file.
func (d *Dir) Get(_ context.Context, key string) (io.ReadCloser, int64, error) {
	path, err := d.path(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, ErrNotFound
	} else if err != nil {
		return nil, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, info.Size(), nil
}

// Size returns the blob file's size.
func (d *Dir) Size(_ context.Context, key string) (int64, error) {
	path, err := d.path(key)
	if err != nil {
		return 0, err
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// contextReader stops a copy when ctx ends.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
