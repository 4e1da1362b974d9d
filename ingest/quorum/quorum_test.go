package quorum

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		replicas []int32
		q        int
	}{
		{nil, 1}, {[]int32{1}, 0}, {[]int32{1}, 2}, {[]int32{1, 1}, 1},
	} {
		if _, err := New(tc.replicas, tc.q, 0); err == nil {
			t.Errorf("New(%v, %d) accepted", tc.replicas, tc.q)
		}
	}
}

func TestSingleReplica(t *testing.T) {
	tr, err := New([]int32{7}, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if hw := tr.HighWatermark(); hw != 10 {
		t.Fatalf("initial hw %d", hw)
	}
	if hw := tr.Durable(7, 15); hw != 15 {
		t.Fatalf("hw %d, want 15", hw)
	}
	if hw := tr.Durable(7, 12); hw != 15 {
		t.Fatalf("hw went back to %d", hw)
	}
	if hw := tr.Durable(8, 100); hw != 15 {
		t.Fatalf("unknown replica moved hw to %d", hw)
	}
}

// TestMajorityExhaustive checks, for every replica count up to 5, every ack
// quorum and many random report sequences, that the high watermark equals
// the largest offset that at least ackQuorum replicas have reached, never
// decreases, and is never above what a quorum reported.
func TestMajorityExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 5; n++ {
		replicas := make([]int32, n)
		for i := range replicas {
			replicas[i] = int32(i + 1)
		}
		for q := 1; q <= n; q++ {
			for run := 0; run < 200; run++ {
				tr, err := New(replicas, q, 0)
				if err != nil {
					t.Fatal(err)
				}
				best := make([]int64, n)
				prev := int64(0)
				for step := 0; step < 50; step++ {
					r := rng.IntN(n)
					end := rng.Int64N(100)
					hw := tr.Durable(replicas[r], end)
					best[r] = max(best[r], end)
					sorted := slices.Clone(best)
					slices.Sort(sorted)
					want := max(prev, sorted[n-q])
					if hw != want {
						t.Fatalf("n=%d q=%d: hw %d, want %d (durable %v)", n, q, hw, want, best)
					}
					prev = hw
				}
			}
		}
	}
}

func TestMajority(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3} {
		if got := Majority(n); got != want {
			t.Errorf("Majority(%d) = %d, want %d", n, got, want)
		}
	}
}
