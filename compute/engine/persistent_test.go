package engine

import (
	"fmt"
	"slices"
	"testing"
)

// TestSuccessor checks the choice of the broker that takes over a query:
// every broker computes the same, the queries of a lost broker spread over
// the others, and the queries of the brokers that stay do not move.
func TestSuccessor(t *testing.T) {
	all := []int32{0, 1, 2, 3}
	counts := map[int32]int{}
	for i := range 400 {
		id := fmt.Sprintf("CSAS_Q_%d", i)
		owner := successor(id, all)
		counts[owner]++
		if again := successor(id, slices.Clone(all)); again != owner {
			t.Fatalf("%s: %d then %d", id, owner, again)
		}
		without := slices.DeleteFunc(slices.Clone(all), func(b int32) bool { return b == 2 })
		next := successor(id, without)
		if owner != 2 && next != owner {
			t.Fatalf("%s moved from broker %d to %d when broker 2 left", id, owner, next)
		}
		if next == 2 {
			t.Fatalf("%s went to the broker that left", id)
		}
	}
	for b, n := range counts {
		if n < 60 {
			t.Errorf("broker %d got %d of 400 queries: the hash does not spread them", b, n)
		}
	}
	if successor("X", nil) != -1 {
		t.Error("no live broker must give -1")
	}
}
