// Command strata runs Strata brokers and talks to them.
//
// Server commands: "strata dev" (one process with embedded etcd and a local
// object store) and "strata broker" (a broker against an external etcd).
// Client commands (topic, produce, consume, group, cluster, bench) speak the
// Kafka protocol to any broker through franz-go.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "strata:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Strata: a Kafka-compatible streaming platform whose log lives in object storage",
		Long: `Strata speaks the Kafka wire protocol. Brokers keep only a write-ahead log of
recent data; etcd holds metadata and offsets; sealed data lives in object storage.

Every flag can also be set with an environment variable STRATA_<FLAG> (upper
case, dashes as underscores, e.g. STRATA_DATA_DIR) or in a YAML file named by
--config whose keys are the flag names. Command-line flags win over the
environment, which wins over the file.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: applyConfigSources,
	}
	root.PersistentFlags().String("config", "", "YAML file of flag values (keys are flag names)")
	root.AddCommand(
		newDevCmd(),
		newBrokerCmd(),
		newTopicCmd(),
		newProduceCmd(),
		newConsumeCmd(),
		newGroupCmd(),
		newClusterCmd(),
		newBenchCmd(),
		newSQLCmd(),
	)
	return root
}
