package blobs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/duban/duban/blobs"
)

// Both stores keep the same contract: the S3 one against gofakes3, an S3
// server speaking the protocol over HTTP on loopback (MinIO's server is not
// served by the module proxy here; compose runs MinIO itself).
func TestStores(t *testing.T) {
	dir, err := blobs.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("dir", func(t *testing.T) { contract(t, dir) })
	t.Run("s3", func(t *testing.T) { contract(t, newS3(t)) })
}

// newS3 starts an S3 server with a bucket and opens the store on it.
func newS3(t *testing.T) blobs.Store {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("evidence"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	env := map[string]string{"AWS_ACCESS_KEY_ID": "duban", "AWS_SECRET_ACCESS_KEY": "duban-secret"}
	host := strings.TrimPrefix(srv.URL, "http://")
	if _, err := blobs.Open(context.Background(), "s3://missing?endpoint="+host+"&tls=false", "", func(k string) string { return env[k] }); err == nil {
		t.Fatal("a bucket that does not exist was taken")
	}
	s, err := blobs.Open(context.Background(), "s3://evidence?endpoint="+host+"&tls=false&prefix=duban&region=us-east-1", "", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func contract(t *testing.T, s blobs.Store) {
	ctx := context.Background()
	if _, _, err := s.Get(ctx, "sha256/none"); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("get of nothing: %v", err)
	}
	if _, err := s.Size(ctx, "sha256/none"); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("size of nothing: %v", err)
	}
	body := bytes.Repeat([]byte("photo "), 100_000)
	if err := s.Put(ctx, "sha256/abc", bytes.NewReader(body), int64(len(body)), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	r, size, err := s.Get(ctx, "sha256/abc")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || size != int64(len(body)) || !bytes.Equal(got, body) {
		t.Fatalf("read back %d bytes (size %d), %v", len(got), size, err)
	}
	// A write that fails half way leaves nothing, and what was there
	// before stays whole.
	for _, key := range []string{"sha256/half", "sha256/abc"} {
		failing := io.MultiReader(bytes.NewReader(body[:1000]), errReader{})
		if err := s.Put(ctx, key, failing, int64(len(body)), "image/jpeg"); err == nil {
			t.Fatalf("put of %s with a failing reader succeeded", key)
		}
	}
	if _, err := s.Size(ctx, "sha256/half"); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("a half write is visible: %v", err)
	}
	if n, err := s.Size(ctx, "sha256/abc"); err != nil || n != int64(len(body)) {
		t.Fatalf("the blob under a failed overwrite: %d, %v", n, err)
	}
	for _, key := range []string{"../etc/passwd", "sha256/../../x", "/abs", "Sha256/x", "a//b", ""} {
		if err := s.Put(ctx, key, strings.NewReader("x"), 1, ""); err == nil {
			t.Errorf("key %q was taken", key)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("the connection dropped") }

// A directory store left with a temporary file by a crash removes it when
// opened again, and never shows it as a blob.
func TestDirCleansUpAfterACrash(t *testing.T) {
	root := t.TempDir()
	if _, err := blobs.NewDir(root); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(root, ".tmp", "put-123")
	if err := os.WriteFile(left, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := blobs.NewDir(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the crash's temporary file is still there: %v", err)
	}
}

// An upload is spooled before its name is known: kept, it is a blob like
// any other; discarded, or kept under a bad key, nothing of it remains.
func TestDirSpool(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := blobs.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	spool := func(data string) blobs.Spool {
		s, err := d.Spool(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(s, data); err != nil {
			t.Fatal(err)
		}
		return s
	}
	left := func() []string {
		names, _ := filepath.Glob(filepath.Join(root, ".tmp", "*"))
		return names
	}
	if err := spool("kept").Keep("sha256/k"); err != nil {
		t.Fatal(err)
	}
	if r, size, err := d.Get(ctx, "sha256/k"); err != nil || size != 4 {
		t.Fatalf("kept: %d bytes, %v", size, err)
	} else {
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != "kept" {
			t.Fatalf("kept %q", b)
		}
	}
	spool("dropped").Discard()
	if err := spool("bad").Keep("../escape"); err == nil {
		t.Fatal("a key outside the store was taken")
	}
	if l := left(); len(l) != 0 {
		t.Fatalf("temporary files left: %v", l)
	}
}
