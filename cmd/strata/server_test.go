package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestReplicationPeerFlag checks --replication-peer from the command line
// and from a config file (a YAML map), and its errors.
func TestReplicationPeerFlag(t *testing.T) {
	clearStrataEnv(t)
	parse := func(args ...string) (*serverFlags, error) {
		var f serverFlags
		cmd := &cobra.Command{Use: "broker", RunE: func(*cobra.Command, []string) error { return nil }}
		f.register(cmd, true)
		cmd.Flags().String("config", "", "")
		if err := cmd.ParseFlags(args); err != nil {
			return nil, err
		}
		if err := applyConfigSources(cmd, nil); err != nil {
			return nil, err
		}
		return &f, f.validate(cmd)
	}
	f, err := parse("--replication-peer", "1=10.0.0.1:9093", "--replication-peer", "2=h2:19093")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int32]string{1: "10.0.0.1:9093", 2: "h2:19093"}; !reflect.DeepEqual(f.replicationDial, want) {
		t.Errorf("command line: %v, want %v", f.replicationDial, want)
	}
	cfg := filepath.Join(t.TempDir(), "broker.yaml")
	if err := os.WriteFile(cfg, []byte("replication-peer: {\"3\": \"h3:9093\", \"4\": \"h4:9093\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err = parse("--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int32]string{3: "h3:9093", 4: "h4:9093"}; !reflect.DeepEqual(f.replicationDial, want) {
		t.Errorf("config file: %v, want %v", f.replicationDial, want)
	}
	for _, bad := range []string{"x=h:1", "-1=h:1", "1=nohostport"} {
		if _, err := parse("--replication-peer", bad); err == nil || !strings.Contains(err.Error(), "--replication-peer") {
			t.Errorf("--replication-peer %s: %v, want an error naming the flag", bad, err)
		}
	}
}
