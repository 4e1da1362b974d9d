package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newGroupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List, describe and delete consumer groups",
		Long: `Inspect consumer groups: their state, members and assignments, and per
partition the committed offset, log end offset and lag.`,
		Example: `  strata group list
  strata group describe audit
  strata group delete audit`,
	}
	cmd.AddCommand(newGroupListCmd(), newGroupDescribeCmd(), newGroupDeleteCmd())
	return cmd
}

func newGroupListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List consumer groups with their state and protocol type",
		Example: `  strata group list`,
		Args:    cobra.NoArgs,
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
		groups, err := adm.ListGroups(ctx)
		if err != nil && len(groups) == 0 {
			return cf.wrap("list groups", err)
		}
		writeGroupList(cmd.OutOrStdout(), groups)
		if err != nil {
			// Some coordinators answered, some did not.
			return cf.wrap("list groups (partial answer above)", err)
		}
		return nil
	}
	return cmd
}

// writeGroupList prints GROUP / STATE / PROTOCOL-TYPE sorted by group.
func writeGroupList(w io.Writer, groups kadm.ListedGroups) {
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE")
	for _, g := range groups.Sorted() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Group, orDash(g.State), orDash(g.ProtocolType))
	}
	tw.Flush()
}

func newGroupDescribeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe GROUP...",
		Short: "Show a group's state, members, committed offsets and lag",
		Long: `For each group print its state, protocol and coordinator, its members (client
id, host and assigned partitions) and, per partition, the committed offset, the
log end offset and the lag (log end minus committed; "-" where unknown).`,
		Example: `  strata group describe audit
  strata group describe audit billing`,
		Args: cobra.MinimumNArgs(1),
	}
	cf := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		adm, err := cf.newAdmin()
		if err != nil {
			return err
		}
		defer adm.Close()
		ctx, cancel := commandContext(cmd)
		defer cancel()
		ctx, cancelT := withTimeout(ctx, cf.timeout)
		defer cancelT()
		lags, err := adm.Lag(ctx, args...)
		if err != nil && len(lags) == 0 {
			return cf.wrap("describe group "+quoteList(args), err)
		}
		out := cmd.OutOrStdout()
		var failed []string
		first := true
		for _, name := range args {
			l, ok := lags[name]
			if !ok {
				failed = append(failed, fmt.Sprintf("group %q: no answer from its coordinator", name))
				continue
			}
			if l.DescribeErr != nil {
				failed = append(failed, fmt.Sprintf("group %q: %s", name, kafkaErrString(l.DescribeErr, "")))
				continue
			}
			if !first {
				fmt.Fprintln(out)
			}
			first = false
			writeGroupDescription(out, l)
			if l.FetchErr != nil {
				failed = append(failed, fmt.Sprintf("group %q: committed offsets: %s", name, kafkaErrString(l.FetchErr, "")))
			}
		}
		return joinFailures("describe", failed)
	}
	return cmd
}

// writeGroupDescription prints one group's state, members and lag.
func writeGroupDescription(w io.Writer, l kadm.DescribedGroupLag) {
	fmt.Fprintf(w, "Group: %s\n", l.Group)
	state := orDash(l.State)
	if l.State == "Dead" && len(l.Members) == 0 && len(l.Lag) == 0 {
		state += " (the group does not exist or has no committed offsets)"
	}
	fmt.Fprintf(w, "State: %s\n", state)
	proto := orDash(l.ProtocolType)
	if l.Protocol != "" {
		proto += " (" + l.Protocol + ")"
	}
	fmt.Fprintf(w, "Protocol: %s\n", proto)
	if l.Coordinator.Host != "" {
		fmt.Fprintf(w, "Coordinator: %d (%s:%d)\n", l.Coordinator.NodeID, l.Coordinator.Host, l.Coordinator.Port)
	}
	fmt.Fprintf(w, "Members: %d\n", len(l.Members))
	if len(l.Members) > 0 {
		fmt.Fprintln(w)
		tw := newTable(w)
		fmt.Fprintln(tw, "MEMBER-ID\tCLIENT-ID\tHOST\tASSIGNMENT")
		for _, m := range l.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.MemberID, orDash(m.ClientID), orDash(m.ClientHost), memberAssignment(m))
		}
		tw.Flush()
	}

	rows := l.Lag.Sorted()
	if len(rows) == 0 {
		fmt.Fprintln(w, "\nNo committed offsets.")
		return
	}
	fmt.Fprintln(w)
	tw := newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tLOG-END\tLAG\tCLIENT-ID")
	for _, r := range rows {
		fmt.Fprintln(tw, lagRow(r))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nTotal lag: %d\n", l.Lag.Total())
}

// lagRow renders one partition's lag as tab-separated cells.
func lagRow(r kadm.GroupMemberLag) string {
	committed := "-"
	if r.Commit.At >= 0 {
		committed = fmt.Sprint(r.Commit.At)
	}
	end := "-"
	if r.End.Err == nil && r.End.Offset >= 0 {
		end = fmt.Sprint(r.End.Offset)
	}
	lag := "-"
	if r.Lag >= 0 {
		lag = fmt.Sprint(r.Lag)
	}
	client := "-"
	if r.Member != nil {
		client = orDash(r.Member.ClientID)
	}
	row := fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%s", r.Topic, r.Partition, committed, end, lag, client)
	if r.Err != nil {
		row += "\t(" + kafkaErrString(r.Err, "") + ")"
	}
	return row
}

// memberAssignment renders a member's assigned partitions: "orders[0,1] pay[3]".
func memberAssignment(m kadm.DescribedGroupMember) string {
	a, ok := m.Assigned.AsConsumer()
	if !ok {
		return "-"
	}
	return formatAssignment(a)
}

func formatAssignment(a *kmsg.ConsumerMemberAssignment) string {
	if a == nil || len(a.Topics) == 0 {
		return "-"
	}
	topics := append(a.Topics[:0:0], a.Topics...)
	sort.Slice(topics, func(i, j int) bool { return topics[i].Topic < topics[j].Topic })
	var parts []string
	for _, t := range topics {
		ps := append([]int32(nil), t.Partitions...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		parts = append(parts, fmt.Sprintf("%s[%s]", t.Topic, strings.Trim(joinInt32s(ps), "-")))
	}
	return strings.Join(parts, " ")
}

func newGroupDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete GROUP...",
		Aliases: []string{"rm"},
		Short:   "Delete consumer groups and their committed offsets",
		Long:    `Delete groups that have no active members, with their committed offsets.`,
		Example: `  strata group delete audit`,
		Args:    cobra.MinimumNArgs(1),
	}
	cf := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		adm, err := cf.newAdmin()
		if err != nil {
			return err
		}
		defer adm.Close()
		ctx, cancel := commandContext(cmd)
		defer cancel()
		ctx, cancelT := withTimeout(ctx, cf.timeout)
		defer cancelT()
		resps, err := adm.DeleteGroups(ctx, args...)
		if err != nil && len(resps) == 0 {
			return cf.wrap("delete group "+quoteList(args), err)
		}
		out := cmd.OutOrStdout()
		var failed []string
		for _, name := range args {
			r, ok := resps[name]
			switch {
			case !ok:
				failed = append(failed, fmt.Sprintf("group %q: no answer from its coordinator", name))
			case r.Err != nil:
				failed = append(failed, fmt.Sprintf("group %q: %s", name, kafkaErrString(r.Err, r.ErrMessage)))
			default:
				fmt.Fprintf(out, "deleted group %q\n", name)
			}
		}
		return joinFailures("delete", failed)
	}
	return cmd
}
