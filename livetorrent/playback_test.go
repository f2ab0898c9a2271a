package livetorrent

import (
	"bytes"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// TestTuneInBehindLiveEdge: with ten segments in the window, a 6 s target latency starts
// three 2 s segments behind the newest; older ones are not downloaded.
func TestTuneInBehindLiveEdge(t *testing.T) {
	h, _ := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second}, 1, 10, 20_000)
	if st := h.sw.Stats(); st.StartSeq != 107 {
		t.Fatalf("start %d, want 107 (107, 108, 109 make 6 s)", st.StartSeq)
	}
	for _, g := range h.sw.st.segs {
		if want := g.rec.MediaSeq >= 107; g.wanted != want {
			t.Errorf("segment %d wanted=%v", g.rec.MediaSeq, g.wanted)
		}
	}
	// The default target latency is three target durations but at least 8 s: with 2 s
	// segments, four behind.
	h2, _ := viewerWithSegments(t, Config{}, 1, 10, 20_000)
	if st := h2.sw.Stats(); st.StartSeq != 106 {
		t.Fatalf("default latency: start %d, want 106 (106..109 make 8 s)", st.StartSeq)
	}
	// A latency beyond the 30 s window is held to the window less a target duration,
	// 28 s: with 20 s of media it starts at the oldest segment instead of waiting for
	// media that would be evicted before its deadline.
	h3, _ := viewerWithSegments(t, Config{TargetLatency: time.Hour}, 1, 10, 20_000)
	if h3.sw.times.latency != 28*time.Second {
		t.Fatalf("latency %v, want 28s", h3.sw.times.latency)
	}
	if st := h3.sw.Stats(); st.StartSeq != 100 {
		t.Fatalf("long latency: start %d, want 100", st.StartSeq)
	}
	if hold := h3.sw.play.holdUntil.Sub(h3.now); hold > 8*time.Second {
		t.Fatalf("first segment held %v, want at most 8s (28s less the 20s held)", hold)
	}
}

// TestDeliverWithInitSegment: an fMP4 stream's first delivery carries the init segment;
// later ones that use the same init do not.
func TestDeliverWithInitSegment(t *testing.T) {
	h := newHarness(t, Config{TargetLatency: 4 * time.Second, DisableOrigin: true})
	h.up(1)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	init := h.makeSeg(100, 990, 3000, protocol.FlagInit, protocol.NoPiece)
	s100 := h.makeSeg(100, 1000, 40_000, 0, 990)
	s101 := h.makeSeg(101, 1010, 40_000, 0, 990)
	for _, seg := range []testSeg{init, s100, s101} {
		h.recv(1, protocol.RecordMsg{Raw: seg.raw})
	}
	h.recv(1, protocol.Window{First: 990, End: 1012})
	h.recv(1, protocol.Have{First: 990, Count: 30})
	h.ctl(1, Unchoke)
	delivered := kinds(h.serve(1, init, s100, s101), ActDeliver)
	if len(delivered) != 2 {
		t.Fatalf("%d deliveries, want 2", len(delivered))
	}
	d0, d1 := delivered[0].Delivery, delivered[1].Delivery
	if d0.MediaSeq != 100 || d0.Init == nil || !bytes.Equal(d0.InitData, init.data) || !bytes.Equal(d0.Data, s100.data) {
		t.Fatalf("first delivery %+v", d0)
	}
	if d1.MediaSeq != 101 || d1.Init != nil || !bytes.Equal(d1.Data, s101.data) {
		t.Fatalf("second delivery %+v", d1)
	}
}

// TestSkipMissingRecordAndStall: a record that never arrives is skipped once a later one
// has waited a target duration; a segment delivered after its deadline counts as a stall
// and moves the playback clock.
func TestSkipMissingRecordAndStall(t *testing.T) {
	h, s100, s101 := tunedToTwo(t, 20_000)
	if got := kinds(h.serve(1, s100, s101), ActDeliver); len(got) != 2 || got[1].Delivery.Late != 0 {
		t.Fatalf("deliveries %v", got)
	}
	// Record 102 is lost; 103 arrives and completes 6 s later: 102 is skipped, 103 late.
	h.advance(2 * time.Second)
	s103 := h.segment(103, 1030, 20_000)
	h.recv(1, protocol.RecordMsg{Raw: s103.raw})
	h.advance(2100 * time.Millisecond)
	if skips := kinds(h.last, ActSkip); len(skips) != 1 || skips[0].Delivery.MediaSeq != 102 || skips[0].Delivery.Record != nil {
		t.Fatalf("want skip of 102 without record, got %v", h.sent())
	}
	h.advance(2 * time.Second)
	h.recv(1, protocol.Have{First: 1030, Count: 1})
	got := kinds(h.serve(1, s103), ActDeliver)
	if len(got) != 1 || got[0].Delivery.MediaSeq != 103 || got[0].Delivery.Late <= 0 {
		t.Fatalf("want late delivery of 103, got %v", got)
	}
	if st := h.sw.Stats(); st.Stalls != 1 || st.SegmentsSkipped != 1 || st.StallTime != got[0].Delivery.Late {
		t.Fatalf("stats %+v", st)
	}
}

// TestMediaSequenceJumpSkippedInOneStep: a publisher whose numbering jumps by 2^40 makes
// the viewer skip the gap in one action (it once skipped number by number: work and output
// in proportion to the jump), and the segment after the jump plays.
func TestMediaSequenceJumpSkippedInOneStep(t *testing.T) {
	h, s100, s101 := tunedToTwo(t, 20_000)
	h.serve(1, s100, s101)
	const jump = 1 << 40
	h.advance(2 * time.Second)
	far := h.segment(102+jump, 1030, 20_000)
	h.recv(1, protocol.RecordMsg{Raw: far.raw})
	h.advance(2100 * time.Millisecond)
	skips := kinds(h.last, ActSkip)
	if len(skips) != 1 || skips[0].Delivery.MediaSeq != 102 || skips[0].Delivery.Count != jump {
		t.Fatalf("want one skip of %d segments from 102, got %v", uint64(jump), h.sent())
	}
	h.recv(1, protocol.Have{First: 1030, Count: 1})
	if got := kinds(h.serve(1, far), ActDeliver); len(got) != 1 || got[0].Delivery.MediaSeq != 102+jump {
		t.Fatalf("want delivery of the segment after the jump, got %v", got)
	}
	if st := h.sw.Stats(); st.SegmentsSkipped != jump {
		t.Fatalf("skipped %d, want %d", st.SegmentsSkipped, uint64(jump))
	}
}

// TestStartWaitsForPace: the first segment plays at once when the viewer receives fast
// enough for the next one to arrive within a third of a segment duration; otherwise it
// waits until the next one is complete, or for at most a segment duration.
func TestStartWaitsForPace(t *testing.T) {
	tuned := func() (*harness, testSeg, testSeg, []protocol.BlockRef) {
		h, s100, s101 := tunedToTwo(t, 40_000)
		return h, s100, s101, h.requests()[1]
	}

	// 40 kB in 100 ms: 400 kB/s brings the 40 kB of 101 within 0.1 s.
	h, s100, _, reqs := tuned()
	h.advance(100 * time.Millisecond)
	acts, _ := h.serveFrom(1, reqs, s100)
	if got := kinds(acts, ActDeliver); len(got) != 1 || got[0].Delivery.MediaSeq != 100 {
		t.Fatalf("fast viewer: deliveries %v, want 100 at once", got)
	}

	// 40 kB in 1 s: 101 would take 1 s, more than a third of 2 s. 100 waits for 101.
	h, s100, s101, reqs := tuned()
	h.advance(time.Second)
	acts, reqs = h.serveFrom(1, reqs, s100)
	if got := kinds(acts, ActDeliver); len(got) != 0 {
		t.Fatalf("slow viewer: deliveries %v, want none yet", got)
	}
	acts, _ = h.serveFrom(1, reqs, s101)
	got := kinds(acts, ActDeliver)
	if len(got) != 2 || got[0].Delivery.MediaSeq != 100 || got[1].Delivery.Late != 0 {
		t.Fatalf("slow viewer: deliveries %v, want 100 and 101 on time", got)
	}
	if st := h.sw.Stats(); st.StartupDelay != time.Second || st.Stalls != 0 {
		t.Fatalf("startup %v, stalls %d; want 1 s, 0", st.StartupDelay, st.Stalls)
	}

	// Nothing more arrives: 100 plays a segment duration after it was ready.
	h, s100, _, reqs = tuned()
	h.advance(time.Second)
	h.serveFrom(1, reqs, s100)
	h.advance(1900 * time.Millisecond)
	if got := kinds(h.last, ActDeliver); len(got) != 0 {
		t.Fatalf("stalled swarm after 1.9 s: deliveries %v, want none yet", got)
	}
	h.advance(100 * time.Millisecond)
	if got := kinds(h.last, ActDeliver); len(got) != 1 || got[0].Delivery.MediaSeq != 100 {
		t.Fatalf("stalled swarm after 2 s: deliveries %v, want 100", got)
	}
}

// TestRetuneOnStaleEdge: a viewer that tuned in from a peer whose newest record was old
// moves its start when records published much later arrive, before anything played; records
// that arrive as they are published do not move it.
func TestRetuneOnStaleEdge(t *testing.T) {
	h := newHarness(t, Config{TargetLatency: 4 * time.Second, DisableOrigin: true})
	var segs []testSeg
	for k := range 6 { // 100..105, published 2 s apart; the viewer sees none yet
		segs = append(segs, h.segment(100+uint64(k), 1000+10*uint64(k), 20_000))
		h.advance(2 * time.Second)
	}
	h.up(1)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	h.recv(1, protocol.RecordMsg{Raw: segs[0].raw})
	h.recv(1, protocol.RecordMsg{Raw: segs[1].raw})
	h.recv(1, protocol.Window{First: 1000, End: 1020})
	if st := h.sw.Stats(); !st.TunedIn || st.StartSeq != 100 {
		t.Fatalf("tuned %v at %d, want 100 (its newest is 101)", st.TunedIn, st.StartSeq)
	}
	h.advance(50 * time.Millisecond)
	h.up(2)
	for _, g := range segs[2:] {
		h.recv(2, protocol.RecordMsg{Raw: g.raw})
	}
	st := h.sw.Stats()
	if st.StartSeq != 104 || st.NextSeq != 104 || st.Retunes == 0 {
		t.Fatalf("start %d next %d retunes %d, want 104, 104 and some", st.StartSeq, st.NextSeq, st.Retunes)
	}
	for _, g := range h.sw.st.segs {
		if want := g.rec.MediaSeq >= 104; g.wanted != want {
			t.Errorf("segment %d wanted=%v, want %v", g.rec.MediaSeq, g.wanted, want)
		}
	}
	h.recv(2, protocol.Have{First: 1000, Count: 60})
	h.ctl(2, Unchoke)
	for _, r := range h.requests()[2] {
		if r.Piece < 1040 {
			t.Fatalf("request for piece %d, before the new start's 1040", r.Piece)
		}
	}

	// A live stream whose start waits for data: each record arrives as it is published.
	h2, _, _ := tunedToTwo(t, 20_000)
	for k := uint64(2); k < 6; k++ {
		h2.advance(2 * time.Second)
		g := h2.segment(100+k, 1000+10*k, 20_000)
		h2.recv(1, protocol.RecordMsg{Raw: g.raw})
	}
	if st := h2.sw.Stats(); st.StartSeq != 100 || st.Retunes != 0 {
		t.Fatalf("records on time: start %d retunes %d, want 100, 0", st.StartSeq, st.Retunes)
	}
}

// tunedToTwo returns a viewer (target latency 4 s, no origin) tuned in to segments 100 and
// 101 of size bytes each (pieces from 1000 and 1010), which peer 1 holds and has unchoked it
// for: the last actions are its first requests to peer 1.
func tunedToTwo(t *testing.T, size int) (*harness, testSeg, testSeg) {
	t.Helper()
	h := newHarness(t, Config{TargetLatency: 4 * time.Second, DisableOrigin: true})
	h.up(1)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	s100 := h.segment(100, 1000, size)
	s101 := h.segment(101, 1010, size)
	h.recv(1, protocol.RecordMsg{Raw: s100.raw})
	h.recv(1, protocol.RecordMsg{Raw: s101.raw})
	end := s101.rec.EndPiece()
	h.recv(1, protocol.Window{First: 1000, End: end})
	h.recv(1, protocol.Have{First: 1000, Count: uint32(end - 1000)})
	h.ctl(1, Unchoke)
	if !h.sw.Stats().TunedIn {
		t.Fatal("not tuned in")
	}
	return h, s100, s101
}
