package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/strata-log/strata/meta"
)

func newDevCmd() *cobra.Command {
	var f serverFlags
	var etcdURL string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run Strata locally in one process: embedded etcd, local object store, one broker",
		Long: `Run a complete Strata in one process for development and trying things out:
an embedded etcd server (DATA-DIR/etcd), the local-directory object store
(DATA-DIR/objects, or a MinIO bucket with --s3-endpoint) and one broker
(write-ahead log in DATA-DIR/wal, sealed into the object store within
--segment-ms).

Starting again with the same --data-dir keeps every acknowledged record,
topic and committed consumer group offset. Ctrl-C or SIGTERM shuts down
cleanly.`,
		Example: `  strata dev
  strata dev --data-dir /tmp/strata --kafka-addr 127.0.0.1:19092 --http-addr 127.0.0.1:18080
  kcat -b 127.0.0.1:9092 -L`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.id = 0
			if err := f.validate(cmd); err != nil {
				return err
			}
			log := f.logger(cmd.ErrOrStderr())
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			etcd, err := meta.StartEmbedded(meta.EmbedConfig{
				Dir:       filepath.Join(f.dataDir, "etcd"),
				ClientURL: etcdURL,
				Logger:    log.With("component", "etcd"),
			})
			if err != nil {
				return fmt.Errorf("embedded etcd: %w", err)
			}
			defer etcd.Close()
			cli, err := etcd.Client()
			if err != nil {
				return fmt.Errorf("embedded etcd: %w", err)
			}
			defer cli.Close()
			return runBroker(ctx, cmd.OutOrStdout(), &f, log, meta.NewStore(cli, ""), "etcd="+etcd.ClientURL())
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&etcdURL, "etcd-listen", "http://127.0.0.1:2379", "client URL of the embedded etcd (port 0 picks a free port)")
	return cmd
}
