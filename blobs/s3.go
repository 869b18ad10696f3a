package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 keeps blobs as objects of a bucket in S3-compatible storage (MinIO,
// the clouds' object stores). A PUT of an object is atomic in S3: nobody
// reads it before it is whole.
type S3 struct {
	client           *minio.Client
	bucket, prefix   string
	endpoint, region string
}

func openS3(ctx context.Context, u *url.URL, getenv func(string) string) (*S3, error) {
	q := u.Query()
	s := &S3{bucket: u.Host, prefix: strings.Trim(q.Get("prefix"), "/"), endpoint: q.Get("endpoint"), region: q.Get("region")}
	if s.bucket == "" {
		return nil, errors.New("blob store s3://BUCKET?endpoint=...: no bucket")
	}
	if s.prefix != "" {
		s.prefix += "/"
	}
	if s.endpoint == "" {
		s.endpoint = "s3.amazonaws.com"
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, errors.New("blob store s3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	var err error
	s.client, err = minio.New(s.endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(id, secret, ""),
		Secure: q.Get("tls") != "false",
		Region: s.region,
	})
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", s, err)
	}
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", s, err)
	}
	if !ok {
		return nil, fmt.Errorf("blob store %s: the bucket does not exist", s)
	}
	return s, nil
}

func (s *S3) String() string { return "s3://" + s.bucket + "/" + s.prefix + " at " + s.endpoint }

// Put uploads the object; S3 makes it visible only once whole.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{ContentType: contentType})
	return err
}

// Get opens the object.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	size, err := s.Size(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, s.err(err)
	}
	return obj, size, nil
}

// Size returns the object's size.
func (s *S3) Size(ctx context.Context, key string) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return 0, s.err(err)
	}
	return info.Size, nil
}

func (s *S3) err(err error) error {
	if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusNotFound || r.Code == "NoSuchKey" {
		return ErrNotFound
	}
	return err
}
