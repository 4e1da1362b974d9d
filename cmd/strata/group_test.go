package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestLagRow(t *testing.T) {
	member := &kadm.DescribedGroupMember{MemberID: "m-1", ClientID: "app"}
	for _, tc := range []struct {
		name string
		in   kadm.GroupMemberLag
		want string
	}{
		{"committed", kadm.GroupMemberLag{Member: member, Topic: "orders", Partition: 0,
			Commit: kadm.Offset{At: 40}, End: kadm.ListedOffset{Offset: 42}, Lag: 2},
			"orders\t0\t40\t42\t2\tapp"},
		{"never committed", kadm.GroupMemberLag{Topic: "orders", Partition: 1,
			Commit: kadm.Offset{At: -1}, End: kadm.ListedOffset{Offset: 9}, Lag: 9},
			"orders\t1\t-\t9\t9\t-"},
		{"end offset error", kadm.GroupMemberLag{Member: &kadm.DescribedGroupMember{}, Topic: "orders", Partition: 2,
			Commit: kadm.Offset{At: 5}, End: kadm.ListedOffset{Offset: -1, Err: kerr.NotLeaderForPartition}, Lag: -1,
			Err: kerr.NotLeaderForPartition},
			"orders\t2\t5\t-\t-\t-\t(NOT_LEADER_FOR_PARTITION: This server is not the leader for that topic-partition.)"},
	} {
		if got := lagRow(tc.in); got != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestWriteGroupDescription(t *testing.T) {
	members := []kadm.DescribedGroupMember{
		{MemberID: "app-1-abc", ClientID: "app-1", ClientHost: "/10.0.0.1"},
		{MemberID: "app-2-def", ClientID: "app-2", ClientHost: "/10.0.0.2"},
	}
	l := kadm.DescribedGroupLag{
		Group: "audit", State: "Stable", ProtocolType: "consumer", Protocol: "cooperative-sticky",
		Coordinator: kgo.BrokerMetadata{NodeID: 1, Host: "127.0.0.1", Port: 9092},
		Members:     members,
		Lag: kadm.GroupLag{
			"orders": {
				1: {Member: &members[1], Topic: "orders", Partition: 1, Commit: kadm.Offset{At: -1}, End: kadm.ListedOffset{Offset: 7}, Lag: 7},
				0: {Member: &members[0], Topic: "orders", Partition: 0, Commit: kadm.Offset{At: 40}, End: kadm.ListedOffset{Offset: 42}, Lag: 2},
			},
			"billing": {
				0: {Topic: "billing", Partition: 0, Commit: kadm.Offset{At: 100}, End: kadm.ListedOffset{Offset: 100}, Lag: 0},
			},
		},
	}
	var buf bytes.Buffer
	writeGroupDescription(&buf, l)
	want := `Group: audit
State: Stable
Protocol: consumer (cooperative-sticky)
Coordinator: 1 (127.0.0.1:9092)
Members: 2

MEMBER-ID  CLIENT-ID  HOST       ASSIGNMENT
app-1-abc  app-1      /10.0.0.1  -
app-2-def  app-2      /10.0.0.2  -

TOPIC    PARTITION  COMMITTED  LOG-END  LAG  CLIENT-ID
billing  0          100        100      0    -
orders   0          40         42       2    app-1
orders   1          -          7        7    app-2

Total lag: 9
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	writeGroupDescription(&buf, kadm.DescribedGroupLag{Group: "gone", State: "Dead"})
	want = `Group: gone
State: Dead (the group does not exist or has no committed offsets)
Protocol: -
Members: 0

No committed offsets.
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestFormatAssignment(t *testing.T) {
	a := &kmsg.ConsumerMemberAssignment{Topics: []kmsg.ConsumerMemberAssignmentTopic{
		{Topic: "orders", Partitions: []int32{3, 0, 1}},
		{Topic: "billing", Partitions: []int32{2}},
		{Topic: "empty"},
	}}
	if got := formatAssignment(a); got != "billing[2] empty[] orders[0,1,3]" {
		t.Errorf("got %q", got)
	}
	if a.Topics[0].Partitions[0] != 3 || a.Topics[0].Topic != "orders" {
		t.Error("formatAssignment changed its input")
	}
	if formatAssignment(nil) != "-" || formatAssignment(&kmsg.ConsumerMemberAssignment{}) != "-" {
		t.Error("empty assignment should be -")
	}
	if got := memberAssignment(kadm.DescribedGroupMember{}); got != "-" {
		t.Errorf("member without assignment: %q", got)
	}
}

func TestWriteGroupList(t *testing.T) {
	var buf bytes.Buffer
	writeGroupList(&buf, kadm.ListedGroups{
		"zeta":  {Group: "zeta", State: "Empty", ProtocolType: "consumer"},
		"alpha": {Group: "alpha", State: "Stable", ProtocolType: "consumer"},
		"raw":   {Group: "raw"},
	})
	want := `GROUP  STATE   PROTOCOL-TYPE
alpha  Stable  consumer
raw    -       -
zeta   Empty   consumer
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestGroupArgs(t *testing.T) {
	clearStrataEnv(t)
	for _, args := range [][]string{{"group", "describe"}, {"group", "delete"}} {
		if _, _, err := runCLI(t, "", args...); err == nil || !strings.Contains(err.Error(), "requires at least 1 arg") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
