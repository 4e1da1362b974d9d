package bucket

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

// S3Config configures an S3 bucket (AWS S3, MinIO or any S3-compatible
// store).
type S3Config struct {
	// Endpoint is the store's URL: http://127.0.0.1:9000 for a local
	// MinIO, https://s3.amazonaws.com (or a regional endpoint) for AWS.
	// The scheme chooses TLS.
	Endpoint string
	Bucket   string
	Region   string
	// AccessKey and SecretKey, when set, are static credentials. When
	// empty, credentials come from the environment (AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY, or MINIO_ROOT_USER/MINIO_ROOT_PASSWORD), the
	// AWS and MinIO client config files, then the EC2/ECS instance role.
	AccessKey string
	SecretKey string
	// Addressing is "auto" (default), "path" or "virtual-host".
	Addressing string
	// Transport overrides the HTTP transport (tests, custom TLS).
	Transport http.RoundTripper
}

// S3 is a Bucket in S3-compatible object storage, through minio-go.
type S3 struct {
	cli    *minio.Client
	bucket string
}

var _ Bucket = (*S3)(nil)

// NewS3 connects to the store and checks that the bucket exists and the
// credentials work, so that a bad setting stops a start with an error
// that says which.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("s3 endpoint %q: want http://host[:port] or https://host[:port]", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("s3 bucket: must be set")
	}
	lookup := minio.BucketLookupAuto
	switch cfg.Addressing {
	case "", "auto":
	case "path":
		lookup = minio.BucketLookupPath
	case "virtual-host":
		lookup = minio.BucketLookupDNS
	default:
		return nil, fmt.Errorf("s3 addressing %q: want auto, path or virtual-host", cfg.Addressing)
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.EnvMinio{},
			&credentials.FileAWSCredentials{}, &credentials.FileMinioClient{},
			&credentials.IAM{},
		})
	}
	cli, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %w", cfg.Endpoint, err)
	}
	ok, err := cli.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		resp := minio.ToErrorResponse(err)
		switch {
		case resp.Code == "AccessDenied" || resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" || resp.StatusCode == http.StatusForbidden:
			return nil, fmt.Errorf("s3 %s bucket %q: credentials refused (%s): %w", cfg.Endpoint, cfg.Bucket, resp.Code, err)
		}
		return nil, fmt.Errorf("s3 %s bucket %q: %w", cfg.Endpoint, cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3 %s: bucket %q does not exist", cfg.Endpoint, cfg.Bucket)
	}
	return &S3{cli: cli, bucket: cfg.Bucket}, nil
}

// s3Err maps a missing object to ErrNotFound.
func s3Err(op, name string, err error) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	if resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s %s: %w", op, name, ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

// Get implements Bucket.
func (s *S3) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return s.GetRange(ctx, name, 0, -1)
}

// GetRange implements Bucket.
func (s *S3) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := checkRange(name, off, length); err != nil {
		return nil, err
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	if length == 0 {
		// S3 cannot express an empty range; check existence only.
		if _, err := s.cli.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{}); err != nil {
			return nil, s3Err("get", name, err)
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	opts := minio.GetObjectOptions{}
	switch {
	case length > 0:
		if err := opts.SetRange(off, off+length-1); err != nil {
			return nil, fmt.Errorf("get %s: %w", name, err)
		}
	case off > 0:
		if err := opts.SetRange(off, 0); err != nil {
			return nil, fmt.Errorf("get %s: %w", name, err)
		}
	}
	// The core call sends one request and returns its body; the lazy
	// minio.Object would re-request with If-Match on later reads and fail
	// when the object is replaced meanwhile.
	body, _, _, err := minio.Core{Client: s.cli}.GetObject(ctx, s.bucket, name, opts)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "InvalidRange" {
			// The range starts at or past the end of an existing object.
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, s3Err("get", name, err)
	}
	return body, nil
}

// Upload implements Bucket.
func (s *S3) Upload(ctx context.Context, name string, r io.Reader) error {
	if err := validName(name); err != nil {
		return err
	}
	_, err := s.cli.PutObject(ctx, s.bucket, name, r, -1, minio.PutObjectOptions{PartSize: 16 << 20})
	return s3Err("upload", name, err)
}

// Delete implements Bucket. S3 deletes of missing objects succeed, so the
// object is looked up first to report ErrNotFound.
func (s *S3) Delete(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	if _, err := s.cli.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{}); err != nil {
		return s3Err("delete", name, err)
	}
	return s3Err("delete", name, s.cli.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}))
}

// Iter implements Bucket.
func (s *S3) Iter(ctx context.Context, prefix string, fn func(string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine on an early return
	for obj := range s.cli.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("list %q: %w", prefix, obj.Err)
		}
		if err := fn(obj.Key); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Attributes implements Bucket.
func (s *S3) Attributes(ctx context.Context, name string) (Attributes, error) {
	if err := validName(name); err != nil {
		return Attributes{}, err
	}
	info, err := s.cli.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return Attributes{}, s3Err("attributes", name, err)
	}
	return Attributes{Size: info.Size, LastModified: info.LastModified}, nil
}

// Exists implements Bucket.
func (s *S3) Exists(ctx context.Context, name string) (bool, error) {
	return exists(s.Attributes(ctx, name))
}

// Close implements Bucket.
func (s *S3) Close() error { return nil }
