package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect the cluster",
		Example: `  strata cluster status
  strata cluster status --brokers broker-1:9092`,
	}
	cmd.AddCommand(newClusterStatusCmd())
	return cmd
}

// clusterStatus is what "cluster status" prints.
type clusterStatus struct {
	ClusterID  string
	Controller int32
	Brokers    kadm.BrokerDetails
	Topics     int
	// APIErr maps broker IDs whose ApiVersions request failed to the
	// error; brokers that answered are absent. APIKeys counts the APIs each
	// answering broker supports.
	APIErr  map[int32]error
	APIKeys map[int32]int
}

func newClusterStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster id, controller, brokers and whether each answers",
		Long: `Print the cluster id, the controller, the number of topics and every broker
(id, host:port, rack) with whether it answers an ApiVersions request. Exits
non-zero if any broker does not answer.`,
		Example: `  strata cluster status
  strata cluster status --brokers 10.0.0.5:9092 --timeout 3s`,
		Args: cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		adm, err := cf.newAdmin()
		if err != nil {
			return err
		}
		defer adm.Close()
		ctx, cancel := commandContext(cmd)
		defer cancel()
		ctx, cancelT := withTimeout(ctx, cf.timeout)
		defer cancelT()

		md, err := adm.Metadata(ctx)
		if err != nil {
			return cf.wrap("cluster metadata", err)
		}
		st := clusterStatus{
			ClusterID:  md.Cluster,
			Controller: md.Controller,
			Brokers:    md.Brokers,
			APIErr:     map[int32]error{},
			APIKeys:    map[int32]int{},
		}
		for _, t := range md.Topics {
			if !t.IsInternal && t.Err == nil {
				st.Topics++
			}
		}
		versions, err := adm.ApiVersions(ctx)
		if err != nil {
			return cf.wrap("ApiVersions", err)
		}
		for _, b := range md.Brokers {
			v, ok := versions[b.NodeID]
			switch {
			case !ok:
				st.APIErr[b.NodeID] = fmt.Errorf("no answer")
			case v.Err != nil:
				st.APIErr[b.NodeID] = v.Err
			default:
				n := 0
				v.EachKeySorted(func(_, _, _ int16) { n++ })
				st.APIKeys[b.NodeID] = n
			}
		}
		writeClusterStatus(cmd.OutOrStdout(), st)
		if len(st.APIErr) > 0 {
			return fmt.Errorf("%d of %d brokers did not answer ApiVersions", len(st.APIErr), len(st.Brokers))
		}
		return nil
	}
	return cmd
}

func writeClusterStatus(w io.Writer, st clusterStatus) {
	fmt.Fprintf(w, "Cluster ID: %s\n", orDash(st.ClusterID))
	if st.Controller >= 0 {
		fmt.Fprintf(w, "Controller: %d\n", st.Controller)
	} else {
		fmt.Fprintln(w, "Controller: none")
	}
	fmt.Fprintf(w, "Topics: %d\n", st.Topics)
	fmt.Fprintf(w, "Brokers: %d\n\n", len(st.Brokers))
	brokers := append(kadm.BrokerDetails(nil), st.Brokers...)
	sort.Slice(brokers, func(i, j int) bool { return brokers[i].NodeID < brokers[j].NodeID })
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tADDRESS\tRACK\tAPI-VERSIONS")
	for _, b := range brokers {
		rack := "-"
		if b.Rack != nil && *b.Rack != "" {
			rack = *b.Rack
		}
		api := fmt.Sprintf("ok (%d APIs)", st.APIKeys[b.NodeID])
		if err, bad := st.APIErr[b.NodeID]; bad {
			api = "FAILED: " + kafkaErrString(err, "")
		}
		id := fmt.Sprint(b.NodeID)
		if b.NodeID == st.Controller {
			id += "*"
		}
		fmt.Fprintf(tw, "%s\t%s:%d\t%s\t%s\n", id, b.Host, b.Port, rack, api)
	}
	tw.Flush()
	if st.Controller >= 0 {
		fmt.Fprintln(w, "\n* controller")
	}
}
