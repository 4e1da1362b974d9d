package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/strata-log/strata/meta"
)

func newDevCmd() *cobra.Command {
	var f serverFlags
	var etcdURL string
	var brokers int
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
  strata dev --brokers 3          # three brokers (two child processes): topics get 3 replicas;
                                  # kill -9 a child's pid (logged) to watch its partitions fail over
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
			if brokers < 1 || brokers > 9 {
				return fmt.Errorf("--brokers %d: must be between 1 and 9", brokers)
			}
			var more []string
			if brokers > 1 {
				children, err := startDevChildren(ctx, cmd, &f, brokers, etcd.ClientURL(), log)
				if err != nil {
					return fmt.Errorf("--brokers %d: %w", brokers, err)
				}
				defer children.stop()
				more = children.kafkaAddrs()
			}
			return runBroker(ctx, cmd.OutOrStdout(), &f, more, log, meta.NewStore(cli, ""), "etcd="+etcd.ClientURL())
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&etcdURL, "etcd-listen", "http://127.0.0.1:2379", "client URL of the embedded etcd (port 0 picks a free port)")
	cmd.Flags().IntVar(&brokers, "brokers", 1, "brokers to run, to try replication and failover: broker 0 in this process, brokers 1..N-1 as child processes (\"strata broker\") that listen on the --kafka-addr port + i, keep their WAL in DATA-DIR/broker-i, and are started again 5s after they exit")
	return cmd
}

// shiftPort adds i to addr's port (a port of 0 stays 0).
func shiftPort(addr string, i int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", err
	}
	if p != 0 {
		p += i
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}
