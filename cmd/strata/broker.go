package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-log/strata/meta"
)

func newBrokerCmd() *cobra.Command {
	var f serverFlags
	var endpoints []string
	var prefix string
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a Strata broker against an external etcd cluster",
		Long: `Run one broker of a Strata cluster. Brokers share an etcd cluster (metadata,
partition leadership, consumer group offsets, manifests of tiered data) and
an object store (an S3 or MinIO bucket, or a shared directory), and keep
only a write-ahead log of recent data in --data-dir: acknowledged data is
sealed into the object store within segment.ms (--segment-ms) and the WAL
released. A broker whose data directory is lost serves everything tiered
again from etcd and the bucket.`,
		Example: `  strata broker --id 1 --etcd-endpoints http://10.0.0.5:2379 --data-dir /var/lib/strata \
      --s3-endpoint http://minio:9000 --s3-bucket strata \
      --kafka-addr 0.0.0.0:9092 --advertised-kafka-addr broker1.example.com:9092 --http-addr 0.0.0.0:8080
  STRATA_ID=1 STRATA_ETCD_ENDPOINTS=http://127.0.0.1:2379 strata broker
  strata broker --config /etc/strata/broker.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.id < 0 {
				return errors.New("--id: required (a non-negative broker id, unique in the cluster)")
			}
			if len(endpoints) == 0 {
				return errors.New("--etcd-endpoints: required")
			}
			if err := f.validate(cmd); err != nil {
				return err
			}
			log := f.logger(cmd.ErrOrStderr())
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			cli, err := meta.NewClient(endpoints)
			if err != nil {
				return fmt.Errorf("--etcd-endpoints: %w", err)
			}
			defer cli.Close()
			readyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			// Any read proves etcd answers; without this an unreachable
			// etcd would only show as a hang further in.
			_, err = cli.Get(readyCtx, prefix+"/cluster/id")
			cancel()
			if err != nil {
				return fmt.Errorf("--etcd-endpoints %v: etcd unreachable: %w", endpoints, err)
			}
			return runBroker(ctx, cmd.OutOrStdout(), &f, nil, log, meta.NewStore(cli, prefix), "")
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringSliceVar(&endpoints, "etcd-endpoints", nil, "etcd client URLs, comma separated (required)")
	cmd.Flags().StringVar(&prefix, "etcd-prefix", "/strata", "key prefix of this cluster in etcd")
	return cmd
}
