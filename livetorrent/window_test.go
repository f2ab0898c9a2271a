package livetorrent

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// TestEvictionBoundsMemory: a publisher running for 200 s keeps only the segments of the
// last window duration (30 s), announces its advancing window at most once a second, and
// rejects requests for evicted pieces.
func TestEvictionBoundsMemory(t *testing.T) {
	const size = 100_000
	h := newHarness(t, Config{Role: RolePublisher})
	h.up(1)
	var windows []protocol.Window
	var lastWindow time.Time
	first := uint64(1000)
	for k := range uint64(100) {
		seg := h.segment(100+k, first, size)
		first = seg.rec.EndPiece()
		h.publish(seg, k == 0)
		for range 20 {
			for _, a := range h.advance(100 * time.Millisecond) {
				if w, ok := a.Msg.(protocol.Window); ok {
					if !lastWindow.IsZero() && h.now.Sub(lastWindow) < time.Second {
						t.Fatalf("WINDOW sent twice within a second")
					}
					lastWindow = h.now
					windows = append(windows, w)
				}
			}
		}
		st := h.sw.Stats()
		if n := len(h.sw.st.segs); n > 16 {
			t.Fatalf("after %d segments %d are kept, want at most 30 s / 2 s + 1", k+1, n)
		}
		if st.StoreBytes > 16*size {
			t.Fatalf("store holds %d bytes", st.StoreBytes)
		}
	}
	for k := 1; k < len(windows); k++ {
		if windows[k].First <= windows[k-1].First {
			t.Fatalf("window first did not advance: %v then %v", windows[k-1], windows[k])
		}
	}
	if len(windows) < 80 {
		t.Fatalf("only %d WINDOW announcements for 100 evictions", len(windows))
	}
	h.ctl(1, Interested)
	h.recv(1, protocol.Request{BlockRef: protocol.BlockRef{Piece: 1000, Offset: 0, Length: protocol.BlockSize}})
	h.expectReject(1, protocol.RejectOutOfWindow)
}

// TestEvictedUnfinishedSegmentIsSkipped: a viewer whose peer never delivers gives up each
// segment when it leaves the window: the requests are cancelled and the gap reported.
func TestEvictedUnfinishedSegmentIsSkipped(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, RequestTimeout: time.Hour}, 1, 3, 20_000)
	h.recv(1, protocol.Have{First: 1000, Count: 30})
	h.ctl(1, Unchoke)
	if len(h.requests()[1]) == 0 {
		t.Fatal("nothing requested")
	}
	first := segs[2].rec.EndPiece()
	var skips, cancels []Action
	for k := uint64(0); k < 20; k++ {
		acts := append([]Action(nil), h.advance(2*time.Second)...)
		seg := h.segment(103+k, first, 20_000)
		first = seg.rec.EndPiece()
		acts = append(acts, h.recv(1, protocol.RecordMsg{Raw: seg.raw})...)
		skips = append(skips, kinds(acts, ActSkip)...)
		for _, a := range acts {
			if a.Kind == ActSend && a.Msg.Type() == protocol.TypeCancel {
				cancels = append(cancels, a)
			}
		}
	}
	if len(skips) < 3 || skips[0].Delivery.MediaSeq != 100 || skips[1].Delivery.MediaSeq != 101 {
		t.Fatalf("skips %v", skips)
	}
	if skips[0].Delivery.Reason != "evicted before complete" || skips[0].Delivery.Record == nil {
		t.Fatalf("skip %+v", skips[0].Delivery)
	}
	if len(cancels) == 0 {
		t.Fatal("requests for evicted pieces not cancelled")
	}
	if n := len(h.sw.st.segs); n > 16 {
		t.Fatalf("%d segments kept", n)
	}
}

// TestDescriptorPointer: once the DHT item names descriptor seq N, a peer offering an older
// descriptor (a replay) is ignored, one with seq N but other bytes is refused, and the named
// descriptor is taken.
func TestDescriptorPointer(t *testing.T) {
	h := newHarness(t, Config{Role: RoleViewer})
	old := h.desc // seq 1
	cur := prototest.Descriptor()
	cur.Seq = 5
	if err := cur.Sign(prototest.PublisherKey()); err != nil {
		t.Fatal(err)
	}
	curRaw := cur.Append(nil)
	forged := cur
	forged.Name = "same seq, other bytes"
	if err := forged.Sign(prototest.PublisherKey()); err != nil {
		t.Fatal(err)
	}
	h.do(DescriptorPointer{Seq: 5, Hash: sha256.Sum256(curRaw)})
	h.up(1)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	h.recv(1, protocol.DescriptorMsg{Raw: forged.Append(nil)})
	if d := h.sw.Descriptor(); d != nil {
		t.Fatalf("took descriptor seq %d (%q) against the pointer", d.Seq, d.Name)
	}
	st := h.sw.Stats()
	if st.StaleDescriptors != 1 || st.ConflictingDescriptors != 1 {
		t.Fatalf("stale %d conflicting %d, want 1 and 1", st.StaleDescriptors, st.ConflictingDescriptors)
	}
	if _, closed := h.closed(1); closed {
		t.Fatal("a peer relaying a genuinely signed older descriptor was closed")
	}
	h.recv(1, protocol.DescriptorMsg{Raw: curRaw})
	if d := h.sw.Descriptor(); d == nil || d.Seq != 5 || d.Name != cur.Name {
		t.Fatalf("named descriptor not taken: %+v", d)
	}
	// A lower pointer arriving later changes nothing.
	h.do(DescriptorPointer{Seq: 1, Hash: sha256.Sum256(h.descRaw)})
	h.recv(1, protocol.DescriptorMsg{Raw: old.Append(nil)})
	if d := h.sw.Descriptor(); d.Seq != 5 {
		t.Fatalf("descriptor went back to seq %d", d.Seq)
	}
}
