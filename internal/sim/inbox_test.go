package sim

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// filed names a message by its receiver and filing number.
type filed struct {
	to  int32
	seq uint64
}

// TestInbox: every message filed comes back exactly in the window of its arrival, also one
// filed beyond the ring; a window's messages come grouped by receiver in increasing id,
// each group in filing order; buckets that grew for a burst shrink afterwards.
func TestInbox(t *testing.T) {
	const width = vtime(10 * time.Millisecond)
	const workers = 2
	b := newInbox(width)
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[int64][]filed{} // window -> messages in filing order
	var seq uint64
	file := func(at vtime, to int32) {
		seq++
		b.add(&event{at: at, to: to, seq: seq})
		k := int64(at / width)
		want[k] = append(want[k], filed{to, seq})
	}
	const windows = 400
	for k := int64(0); k < windows; k++ {
		got := b.take(k, workers, workers*50)
		var names []filed
		lastTo := int32(-1)
		for _, grp := range got {
			if len(grp) == 0 || grp[0].to <= lastTo {
				t.Fatalf("window %d: groups not by increasing receiver", k)
			}
			lastTo = grp[0].to
			for i := range grp {
				if grp[i].to != grp[0].to || int64(grp[i].at/width) != k {
					t.Fatalf("window %d: message for %d at %d in the group of %d", k, grp[i].to, grp[i].at, grp[0].to)
				}
				names = append(names, filed{grp[i].to, grp[i].seq})
			}
		}
		exp := want[k]
		// Expected: stable by receiver.
		slices.SortStableFunc(exp, func(a, b filed) int { return cmp.Compare(a.to, b.to) })
		if !slices.Equal(names, exp) {
			t.Fatalf("window %d: got %v, want %v", k, names, exp)
		}
		delete(want, k)
		// File what this window's nodes send: mostly a few windows ahead, some far beyond
		// the ring, and a burst at window 10.
		n := 5
		if k == 10 {
			n = 50000
		}
		for range n {
			ahead := vtime(1 + rng.IntN(6))
			if rng.IntN(20) == 0 {
				ahead = vtime(inboxRing + rng.IntN(3*inboxRing))
			}
			at := (vtime(k)+ahead)*width + vtime(rng.IntN(int(width)))
			file(at, int32(workers*rng.IntN(50)))
		}
	}
	for k, w := range want {
		if k < windows {
			t.Fatalf("window %d: %d messages never came back", k, len(w))
		}
	}
	for i, bucket := range b.ring {
		if cap(bucket) > 1024 {
			t.Errorf("bucket %d keeps room for %d messages after the burst", i, cap(bucket))
		}
	}
}
