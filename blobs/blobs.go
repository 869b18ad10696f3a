// Package blobs keeps the bytes of attachments (photos, documents) by key,
// in a directory (development) or in S3-compatible object storage
// (production). A blob is written whole or not at all: a reader never sees
// part of one, whatever dies when.
package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// Store keeps blobs by key: lower-case letters, digits, '.', '-', '_' and
// '/' between non-empty parts.
type Store interface {
	// Put stores size bytes read from r under key, replacing what was
	// there; contentType is kept where the store keeps one.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens the blob under key, with its size; ErrNotFound when there
	// is none.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Size returns the blob's size; ErrNotFound when there is none.
	Size(ctx context.Context, key string) (int64, error)
	// String says where the store is, for logs (no secrets).
	String() string
}

// ErrNotFound is what Get and Size answer for a key with no blob.
var ErrNotFound = errors.New("no such blob")

// checkKey refuses a key that could leave the store's space.
func checkKey(key string) error {
	if key == "" || len(key) > 200 {
		return fmt.Errorf("blob key %q: empty or too long", key)
	}
	for part := range strings.SplitSeq(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("blob key %q: an empty, . or .. part", key)
		}
		for _, c := range part {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '-' && c != '_' {
				return fmt.Errorf("blob key %q: only a-z, 0-9, '.', '-', '_' and '/'", key)
			}
		}
	}
	return nil
}

// Open returns the store spec names: a directory (a path, or file:///path)
// or S3-compatible storage,
//
//	s3://BUCKET?endpoint=HOST:PORT&region=R&tls=false&prefix=P
//
// whose credentials come from getenv: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY. An empty spec is the directory dataDir/blobs.
func Open(ctx context.Context, spec, dataDir string, getenv func(string) string) (Store, error) {
	if spec == "" {
		if dataDir == "" {
			return nil, errors.New("no blob store: give --blob-store (a directory, or s3://bucket?endpoint=...)")
		}
		return NewDir(filepath.Join(dataDir, "blobs"))
	}
	u, err := url.Parse(spec)
	if err != nil || u.Scheme == "" {
		return NewDir(spec)
	}
	switch u.Scheme {
	case "file":
		return NewDir(u.Path)
	case "s3":
		return openS3(ctx, u, getenv)
	}
	return nil, fmt.Errorf("blob store %q: a directory, file:///path or s3://bucket?endpoint=...", spec)
}
