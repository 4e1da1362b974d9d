package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

func TestWriteClusterStatus(t *testing.T) {
	rack := "us-east-1a"
	st := clusterStatus{
		ClusterID:  "strata-dev",
		Controller: 2,
		Topics:     4,
		Brokers: kadm.BrokerDetails{
			{NodeID: 2, Host: "10.0.0.2", Port: 9092, Rack: &rack},
			{NodeID: 1, Host: "10.0.0.1", Port: 9092},
			{NodeID: 3, Host: "10.0.0.3", Port: 9093},
		},
		APIKeys: map[int32]int{1: 52, 2: 52},
		APIErr:  map[int32]error{3: errors.New("connection refused")},
	}
	var buf bytes.Buffer
	writeClusterStatus(&buf, st)
	want := `Cluster ID: strata-dev
Controller: 2
Topics: 4
Brokers: 3

ID  ADDRESS        RACK        API-VERSIONS
1   10.0.0.1:9092  -           ok (52 APIs)
2*  10.0.0.2:9092  us-east-1a  ok (52 APIs)
3   10.0.0.3:9093  -           FAILED: connection refused

* controller
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	writeClusterStatus(&buf, clusterStatus{Controller: -1})
	want = `Cluster ID: -
Controller: none
Topics: 0
Brokers: 0

ID  ADDRESS  RACK  API-VERSIONS
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}
