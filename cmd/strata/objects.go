package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/strata-log/strata/tiering/bucket"
)

// objectFlags choose the object store: a local directory, or S3 (MinIO,
// AWS S3 or another S3-compatible store).
type objectFlags struct {
	dir        string
	endpoint   string
	bucket     string
	region     string
	prefix     string
	accessKey  string
	secretKey  string
	addressing string
}

func (o *objectFlags) register(cmd *cobra.Command, dev bool) {
	fs := cmd.Flags()
	dirHelp := "local directory used as the object store (instead of S3)"
	if dev {
		dirHelp = "local directory used as the object store (default DATA-DIR/objects; ignored with --s3-endpoint)"
	}
	fs.StringVar(&o.dir, "object-store-dir", "", dirHelp)
	fs.StringVar(&o.endpoint, "s3-endpoint", "", "S3 endpoint URL, http:// or https:// (MinIO: http://127.0.0.1:9000; AWS: https://s3.REGION.amazonaws.com)")
	fs.StringVar(&o.bucket, "s3-bucket", "", "S3 bucket (must exist)")
	fs.StringVar(&o.region, "s3-region", "", "S3 region (AWS: required; MinIO: optional)")
	fs.StringVar(&o.prefix, "s3-prefix", "", "key prefix for this cluster's objects in the bucket (also applies to --object-store-dir)")
	fs.StringVar(&o.accessKey, "s3-access-key", "", "S3 access key (default: AWS_ACCESS_KEY_ID / MINIO_ROOT_USER, AWS and MinIO config files, then the instance role)")
	fs.StringVar(&o.secretKey, "s3-secret-key", "", "S3 secret key (default: from the same chain as --s3-access-key)")
	fs.StringVar(&o.addressing, "s3-addressing", "auto", "S3 bucket addressing: auto, path or virtual-host")
}

func (o *objectFlags) validate(cmd *cobra.Command) error {
	switch {
	case o.endpoint != "" && o.dir != "":
		return fmt.Errorf("%s and %s: choose one object store", flagRef(cmd, "s3-endpoint"), flagRef(cmd, "object-store-dir"))
	case o.endpoint != "" && o.bucket == "":
		return fmt.Errorf("%s: required with %s", flagRef(cmd, "s3-bucket"), flagRef(cmd, "s3-endpoint"))
	case (o.accessKey == "") != (o.secretKey == ""):
		return fmt.Errorf("%s and %s: give both or neither", flagRef(cmd, "s3-access-key"), flagRef(cmd, "s3-secret-key"))
	}
	switch o.addressing {
	case "auto", "path", "virtual-host":
	default:
		return fmt.Errorf("%s %q: want auto, path or virtual-host", flagRef(cmd, "s3-addressing"), o.addressing)
	}
	return nil
}

// open connects to the object store, failing when it cannot be used (a
// missing bucket, refused credentials), and returns it with its metrics
// and prefix, and a description for the ready line. dataDir is where
// "strata dev" keeps its default store; "strata broker" must be given one.
func (o *objectFlags) open(ctx context.Context, dataDir string, reg prometheus.Registerer) (bucket.Bucket, string, error) {
	var b bucket.Bucket
	var desc string
	switch {
	case o.endpoint == "" && o.dir == "" && dataDir == "":
		return nil, "", errors.New("an object store is required: set --s3-endpoint and --s3-bucket (MinIO, S3), or --object-store-dir for a shared directory")
	case o.endpoint != "":
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s3, err := bucket.NewS3(ctx, bucket.S3Config{
			Endpoint: o.endpoint, Bucket: o.bucket, Region: o.region,
			AccessKey: o.accessKey, SecretKey: o.secretKey, Addressing: o.addressing,
		})
		if err != nil {
			return nil, "", fmt.Errorf("object store: %w", err)
		}
		b, desc = s3, fmt.Sprintf("%s/%s", o.endpoint, o.bucket)
	default:
		dir := o.dir
		if dir == "" {
			dir = filepath.Join(dataDir, "objects")
		}
		fsb, err := bucket.NewFilesystem(dir)
		if err != nil {
			return nil, "", fmt.Errorf("object store: %w", err)
		}
		b, desc = fsb, dir
	}
	b = bucket.WithPrefix(b, o.prefix)
	ib, err := bucket.WithMetrics(b, reg, "objects")
	if err != nil {
		b.Close()
		return nil, "", err
	}
	return ib, desc, nil
}
