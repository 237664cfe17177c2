package testkit

import (
	"fmt"
	"math"
	"net/http/httptest"
	"testing"
)

// TestDecideShares: the share of faulty requests is Rate, and the kinds
// are about as likely, whether requests repeat (retries) or not.
func TestDecideShares(t *testing.T) {
	p := &Proxy{seen: map[string]int{}, stats: ProxyStats{Faults: map[Fault]int{}}}
	const n = 5000
	for _, seed := range []uint64{0, 1} {
		p.SetFaults(Faults{Seed: seed, Rate: 0.2})
		counts := map[Fault]int{}
		for i := range n {
			// Few distinct keys, each seen many times, as retries are.
			r := httptest.NewRequest("GET", fmt.Sprintf("/v2/r/blobs/sha256:%d", i%7), nil)
			f, at := p.decide(i, r, BlobGet)
			if at < 0 || at >= 1 {
				t.Fatalf("fault at %v", at)
			}
			counts[f]++
		}
		if share := 1 - float64(counts[FaultNone])/n; math.Abs(share-0.2) > 0.03 {
			t.Errorf("seed %d: %.3f of requests faulted, want 0.2", seed, share)
		}
		for _, f := range AllFaults {
			if share := float64(counts[f]) / n; math.Abs(share-0.04) > 0.014 {
				t.Errorf("seed %d: %.3f of requests met %v, want 0.04", seed, share, f)
			}
		}
	}
}
