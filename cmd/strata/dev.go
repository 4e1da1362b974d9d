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
  strata dev --brokers 3          # three brokers in this process: topics get 3 replicas
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
			flags, err := f.cluster(brokers)
			if err != nil {
				return err
			}
			return runBroker(ctx, cmd.OutOrStdout(), flags, log, meta.NewStore(cli, ""), "etcd="+etcd.ClientURL())
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&etcdURL, "etcd-listen", "http://127.0.0.1:2379", "client URL of the embedded etcd (port 0 picks a free port)")
	cmd.Flags().IntVar(&brokers, "brokers", 1, "brokers to run in this process (ids 0..N-1; broker i listens on the --kafka-addr port + i and keeps its WAL in DATA-DIR/broker-i), to try replication and failover")
	return cmd
}

// cluster returns the flags of n brokers in one process: broker 0 is f;
// broker i uses the ports of f plus i (0 stays 0: a free port), its own
// data directory DATA-DIR/broker-i, and the same object store.
func (f *serverFlags) cluster(n int) ([]*serverFlags, error) {
	if n < 1 || n > 9 {
		return nil, fmt.Errorf("--brokers %d: must be between 1 and 9", n)
	}
	flags := []*serverFlags{f}
	for i := 1; i < n; i++ {
		g := *f
		g.id = int32(i)
		g.dataDir = filepath.Join(f.dataDir, fmt.Sprintf("broker-%d", i))
		g.httpAddr = ""
		var err error
		if g.kafkaAddr, err = shiftPort(f.kafkaAddr, i); err != nil {
			return nil, fmt.Errorf("--kafka-addr %q: %w", f.kafkaAddr, err)
		}
		if g.objects.endpoint == "" && g.objects.dir == "" {
			g.objects.dir = filepath.Join(f.dataDir, "objects")
		}
		flags = append(flags, &g)
	}
	return flags, nil
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
