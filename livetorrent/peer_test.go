package livetorrent

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// TestMixedSendersStrikeOnlyCulprit: a piece assembled from two peers fails its hash; once
// a third peer's copy verifies, only the peer whose block differed is struck.
func TestMixedSendersStrikeOnlyCulprit(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, MaxStrikes: 1}, 3, 3, 70_000)
	seg := segs[0]
	p0 := seg.rec.FirstPiece
	h.recv(1, protocol.Have{First: p0, Count: 1})
	h.recv(2, protocol.Have{First: p0, Count: 1})
	h.ctl(1, Unchoke)
	h.ctl(2, Unchoke)
	// Both blocks went to peer 1; release one to peer 2 by having peer 1 reject it.
	h.recv(1, protocol.Reject{BlockRef: protocol.BlockRef{Piece: p0, Offset: protocol.BlockSize, Length: protocol.BlockSize}, Reason: protocol.RejectQueueFull})
	if reqs := h.requests()[2]; len(reqs) != 1 || reqs[0].Offset != protocol.BlockSize {
		t.Fatalf("block not moved to peer 2: %v", h.sent())
	}
	h.recv(1, seg.block(p0, 0)) // good
	bad := seg.block(p0, protocol.BlockSize)
	bad.Block = append([]byte(nil), bad.Block...)
	bad.Block[9] ^= 1
	h.recv(2, bad)
	if _, ok := h.closed(1); ok {
		t.Fatal("peer 1 closed before the culprit was known")
	}
	if _, ok := h.closed(2); ok {
		t.Fatal("peer 2 closed before the culprit was known")
	}
	if st := h.sw.Stats(); st.PiecesFailed != 1 {
		t.Fatalf("failed %d", st.PiecesFailed)
	}
	// Peers 1 and 2 are avoided for this piece: peer 3 is asked for it.
	h.recv(3, protocol.Have{First: p0, Count: 1})
	h.ctl(3, Unchoke)
	if n := len(h.requests()[3]); n != 2 {
		t.Fatalf("piece not re-requested from peer 3: %v", h.sent())
	}
	h.recv(3, seg.block(p0, 0))
	acts := h.recv(3, seg.block(p0, protocol.BlockSize))
	if a, ok := h.closed(2); !ok || !a.Ban || !errors.Is(a.Err, ErrBadData) {
		t.Fatalf("peer 2 (the culprit) not banned: %v", acts)
	}
	if _, ok := h.closed(1); ok {
		t.Fatal("peer 1 (innocent) closed")
	}
}

// TestSecondMixedFailureStrikesNobody: a piece that fails again with blocks from several
// peers, while the first failed copy is already kept as evidence, strikes none of them. It
// once struck every sender: an attacker corrupting its share twice got an honest co-sender
// (often the seeder) struck, and two such pieces banned it.
func TestSecondMixedFailureStrikesNobody(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, MaxStrikes: 1}, 5, 3, 70_000)
	seg := segs[0]
	p0 := seg.rec.FirstPiece
	second := protocol.BlockRef{Piece: p0, Offset: protocol.BlockSize, Length: protocol.BlockSize}
	bad := seg.block(p0, protocol.BlockSize)
	bad.Block = append([]byte(nil), bad.Block...)
	bad.Block[9] ^= 1
	// A copy of the piece from honest and bad: honest is asked for both blocks, refuses
	// the second, which goes to bad, which corrupts it.
	mixedCopy := func(honest, bad PeerHandle, corrupt protocol.Data) {
		t.Helper()
		h.recv(honest, protocol.Have{First: p0, Count: 1})
		h.recv(bad, protocol.Have{First: p0, Count: 1})
		h.ctl(honest, Unchoke)
		h.recv(honest, protocol.Reject{BlockRef: second, Reason: protocol.RejectQueueFull})
		h.ctl(bad, Unchoke)
		if reqs := h.requests()[bad]; len(reqs) != 1 || reqs[0] != second {
			t.Fatalf("second block not asked of peer %d: %v", bad, h.sent())
		}
		h.recv(honest, seg.block(p0, 0))
		h.recv(bad, corrupt)
	}
	mixedCopy(1, 2, bad) // kept as evidence
	mixedCopy(3, 4, bad) // nothing to compare with: nobody struck
	for p := PeerHandle(1); p <= 4; p++ {
		if a, ok := h.closed(p); ok {
			t.Fatalf("peer %d closed by the second mixed failure: %v", p, a)
		}
	}
	if st := h.sw.Stats(); st.PiecesFailed != 2 {
		t.Fatalf("failed %d, want 2", st.PiecesFailed)
	}
}

// TestBadRecordBans: a record that fails verification closes and bans its sender.
func TestBadRecordBans(t *testing.T) {
	h := newHarness(t, Config{})
	h.up(1)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	seg := h.segment(100, 1000, 70_000)
	raw := append([]byte(nil), seg.raw...)
	raw[len(raw)-1] ^= 1 // break the signature
	h.recv(1, protocol.RecordMsg{Raw: raw})
	if a, ok := h.closed(1); !ok || !a.Ban || !errors.Is(a.Err, ErrBadSignature) {
		t.Fatalf("want close+ban, got %v", h.sent())
	}
	// A record that does not decode closes without a ban (spec 7.10 step 3); one that
	// decodes but fails its field checks is as bad as a forged one (step 8): close and ban.
	h.up(2)
	h.recv(2, protocol.RecordMsg{Raw: []byte("LTR1 but nothing else")})
	if a, ok := h.closed(2); !ok || a.Ban || !errors.Is(a.Err, ErrProtocol) {
		t.Fatalf("undecodable record: want close without ban, got %v", h.sent())
	}
	h.up(4)
	bad := seg.rec
	bad.Duration = 0 // a media record without a duration
	h.recv(4, protocol.RecordMsg{Raw: bad.Append(nil)})
	if a, ok := h.closed(4); !ok || !a.Ban || !errors.Is(a.Err, ErrProtocol) {
		t.Fatalf("record breaking a field rule: want close+ban, got %v", h.sent())
	}
	h.up(5)
	h.recv(5, protocol.DescriptorMsg{Raw: []byte("LTD1")})
	if a, ok := h.closed(5); !ok || a.Ban {
		t.Fatalf("undecodable descriptor: want close without ban, got %v", h.sent())
	}
	// A descriptor signed by another key: close and ban.
	h.up(3)
	d := prototest.Descriptor()
	d.Seq = 2
	if err := d.Sign(prototest.Key("someone else")); err != nil {
		t.Fatal(err)
	}
	h.recv(3, protocol.DescriptorMsg{Raw: d.Append(nil)})
	if a, ok := h.closed(3); !ok || !a.Ban {
		t.Fatalf("want close+ban for a foreign descriptor, got %v", h.sent())
	}
}

// TestRecordFreshness: replayed, future and far-ahead records are ignored without penalty;
// a duplicate is recognised without being stored twice.
func TestRecordFreshness(t *testing.T) {
	h := newHarness(t, Config{})
	h.up(1)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	now := h.now
	h.now = now.Add(-2 * time.Minute) // published 2 min ago: window 30 s + 60 s skew passed
	old := h.segment(100, 1000, 1000)
	h.now = now.Add(2 * time.Minute) // published in 2 min: beyond the 60 s skew
	future := h.segment(101, 1010, 1000)
	h.now = now
	ok := h.segment(102, 1020, 1000)
	far := h.segment(103, 1020+protocol.MaxWindowPieces+100, 1000)
	for _, seg := range []testSeg{old, future, ok, ok, far} {
		h.recv(1, protocol.RecordMsg{Raw: seg.raw})
		if _, closed := h.closed(1); closed {
			t.Fatalf("closed for record %d", seg.rec.MediaSeq)
		}
	}
	st := h.sw.Stats()
	if st.RecordsAccepted != 1 || st.IgnoredRecords != 3 {
		t.Fatalf("accepted %d ignored %d, want 1 and 3", st.RecordsAccepted, st.IgnoredRecords)
	}
	// A different record for the same pieces is a publisher fault: the first is kept.
	conflict := h.segment(104, 1020, 2000)
	h.recv(1, protocol.RecordMsg{Raw: conflict.raw})
	if st := h.sw.Stats(); st.ConflictingRecords != 1 || st.RecordsAccepted != 1 {
		t.Fatalf("conflict not detected: %+v", st)
	}
	// The stream pauses; its publisher restarts with numbering far ahead. While the old
	// records are kept the jump is ignored; once they have aged out (window + skew
	// allowance after their arrival) the new numbering is accepted (spec 7.10).
	h.advance(time.Minute)
	resumed := h.segment(105, 1020+protocol.MaxWindowPieces+200, 1000)
	h.recv(1, protocol.RecordMsg{Raw: resumed.raw})
	if st := h.sw.Stats(); st.RecordsAccepted != 1 {
		t.Fatalf("a jump of more than 2^20 pieces accepted while the old records are kept: %+v", st)
	}
	h.advance(31 * time.Second)
	if w := h.sw.Stats(); w.WindowEnd != w.WindowFirst {
		t.Fatalf("records older than window + 60 s kept: window [%d, %d)", w.WindowFirst, w.WindowEnd)
	}
	resumed = h.segment(105, 1020+protocol.MaxWindowPieces+200, 1000)
	h.recv(1, protocol.RecordMsg{Raw: resumed.raw})
	if st := h.sw.Stats(); st.RecordsAccepted != 2 {
		t.Fatalf("the resumed stream's record ignored after the old ones aged out: %+v", st)
	}
}

// TestUnrequestedDataCloses: DATA nobody asked for is counted; beyond 1 MiB the peer is
// closed. DATA of the wrong length for a request is a protocol error.
func TestUnrequestedDataCloses(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second}, 2, 3, 70_000)
	blk := segs[0].block(segs[0].rec.FirstPiece, 0)
	for k := 0; k < 64; k++ {
		h.recv(1, blk)
		if _, ok := h.closed(1); ok {
			t.Fatalf("closed after %d unrequested blocks", k+1)
		}
	}
	h.recv(1, blk)
	if a, ok := h.closed(1); !ok || a.Ban {
		t.Fatalf("not closed after 65 x 16 KiB unrequested: %v", h.sent())
	}
	h.recv(2, protocol.Have{First: 1000, Count: 3})
	h.ctl(2, Unchoke)
	short := blk
	short.Block = short.Block[:100]
	h.recv(2, short)
	if a, ok := h.closed(2); !ok || !errors.Is(a.Err, ErrProtocol) {
		t.Fatalf("wrong-length DATA not a protocol error: %v", h.sent())
	}
}

// TestPeerWindowForgetsPieces: a WINDOW moves the peer's first piece; its pieces below are
// no longer available, and first never moves back.
func TestPeerWindowForgetsPieces(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second}, 1, 3, 70_000)
	h.recv(1, protocol.Have{First: 1000, Count: 23})
	g := h.sw.st.find(segs[0].rec.FirstPiece)
	if g.avail(0, h.sw.holdWords) != 1 {
		t.Fatalf("availability %d, want 1", g.avail(0, h.sw.holdWords))
	}
	h.recv(1, protocol.Window{First: 1010, End: 1023})
	if g.avail(0, h.sw.holdWords) != 0 || h.sw.byHandle[1].have.contains(1000) {
		t.Fatal("pieces below the peer's window still counted")
	}
	h.recv(1, protocol.Window{First: 1005, End: 1023})
	if w := h.sw.byHandle[1].window; w.First != 1010 {
		t.Fatalf("window first moved back to %d", w.First)
	}
}

// TestPeerLimits: the peer count is bounded; fragmented HAVE sets are a flood.
func TestPeerLimits(t *testing.T) {
	h := newHarness(t, Config{MaxPeers: 2, MaxHaveSpans: 8, HaveRate: 1e6})
	h.up(1)
	h.up(2)
	h.up(3)
	if a, ok := h.closed(3); !ok || !errors.Is(a.Err, ErrTooManyPeers) {
		t.Fatalf("third peer accepted: %v", h.sent())
	}
	for k := range uint64(9) {
		h.recv(1, protocol.Have{First: 100 + 2*k, Count: 1})
	}
	if a, ok := h.closed(1); !ok || !errors.Is(a.Err, ErrFlood) {
		t.Fatalf("fragmented HAVE not closed: %v", h.sent())
	}
	// A record flood: more than the burst of 256 records at once.
	h.recv(2, protocol.DescriptorMsg{Raw: h.descRaw})
	seg := h.segment(100, 1000, 1000)
	for k := 0; k < 300; k++ {
		h.recv(2, protocol.RecordMsg{Raw: seg.raw})
		if _, ok := h.closed(2); ok {
			if k < 255 {
				t.Fatalf("closed after %d records", k+1)
			}
			return
		}
	}
	t.Fatal("record flood not closed")
}

// TestRangeSet exercises the HAVE range set.
func TestRangeSet(t *testing.T) {
	var r rangeSet
	var added []span
	add := func(a, b uint64) {
		added = added[:0]
		r.add(a, b, func(x, y uint64) { added = append(added, span{x, y}) })
	}
	add(10, 20)
	add(20, 25) // adjacent: merged
	add(30, 40)
	add(5, 35)
	if len(r.spans) != 1 || r.spans[0] != (span{5, 40}) {
		t.Fatalf("spans %v", r.spans)
	}
	if want := []span{{5, 10}, {25, 30}}; len(added) != 2 || added[0] != want[0] || added[1] != want[1] {
		t.Fatalf("added %v, want %v", added, want)
	}
	var removed []span
	r.remove(12, 15, func(a, b uint64) { removed = append(removed, span{a, b}) })
	if len(r.spans) != 2 || r.spans[0] != (span{5, 12}) || r.spans[1] != (span{15, 40}) {
		t.Fatalf("after remove: %v", r.spans)
	}
	r.removeBelow(20, func(a, b uint64) { removed = append(removed, span{a, b}) })
	if len(r.spans) != 1 || r.spans[0] != (span{20, 40}) || !r.contains(20) || r.contains(40) || r.contains(19) {
		t.Fatalf("after removeBelow: %v", r.spans)
	}
	if want := []span{{12, 15}, {5, 12}, {15, 20}}; len(removed) != 3 || removed[0] != want[0] || removed[1] != want[1] || removed[2] != want[2] {
		t.Fatalf("removed %v, want %v", removed, want)
	}
}

// TestPruneIdlePeers: above the target peer count a viewer closes peers that exchanged no
// piece data for IdlePeerTimeout, one per second, down to the target; a peer that delivers
// is kept, and nothing is closed before the timeout.
func TestPruneIdlePeers(t *testing.T) {
	h := newHarness(t, Config{Role: RoleViewer, TargetPeers: 2, IdlePeerTimeout: time.Minute})
	for p := PeerHandle(1); p <= 4; p++ {
		h.up(p)
	}
	var closed []PeerHandle
	for step := range 120 {
		h.sw.byHandle[1].bytesDown += 1000 // peer 1 keeps delivering
		for _, a := range h.advance(time.Second) {
			if a.Kind == ActClose {
				if !errors.Is(a.Err, ErrIdle) {
					t.Fatalf("closed for %v", a.Err)
				}
				if step < 59 {
					t.Fatalf("peer %d closed after %d s, before the idle timeout", a.Peer, step+1)
				}
				closed = append(closed, a.Peer)
				h.do(PeerDown{Peer: a.Peer})
			}
		}
	}
	if len(closed) != 2 || slices.Contains(closed, 1) || len(h.sw.peers) != 2 {
		t.Fatalf("closed %v, %d peers left; want two idle peers closed and peer 1 kept", closed, len(h.sw.peers))
	}
	if n := h.sw.Stats().IdleCloses; n != 2 {
		t.Fatalf("IdleCloses %d", n)
	}

	// A publisher keeps every viewer: they need it for what peers lack.
	pub := newHarness(t, Config{Role: RolePublisher, TargetPeers: 1, IdlePeerTimeout: time.Second})
	pub.up(1)
	pub.up(2)
	for range 10 {
		if acts := kinds(pub.advance(time.Second), ActClose); len(acts) > 0 {
			t.Fatalf("publisher pruned: %v", acts)
		}
	}
}

// TestAnswerEndsOutstandingBeforeVoided: a request in flight when the peer choked us can
// reach it after it unchoked us again; it then ignores our identical re-request (spec 8.6)
// and answers once. That answer must end the outstanding request, not the voided one, or
// the outstanding one would hold a pipeline slot until its timeout.
func TestAnswerEndsOutstandingBeforeVoided(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, MaxPipeline: 4}, 1, 1, 70_000)
	seg := segs[0]
	h.recv(1, protocol.Have{First: seg.rec.FirstPiece, Count: uint32(len(seg.rec.Hashes))})
	h.ctl(1, Unchoke)
	first := h.requests()[1]
	if len(first) == 0 {
		t.Fatalf("no requests after unchoke: %v", h.sent())
	}
	h.ctl(1, Choke) // voids them; no CANCEL goes out
	if got := h.requests(); len(got) != 0 {
		t.Fatalf("requests while choked: %v", got)
	}
	h.ctl(1, Unchoke)
	again := h.requests()[1]
	if len(again) == 0 || again[0] != first[0] {
		t.Fatalf("re-requests %v, want the voided %v again first", again, first)
	}
	ref := again[0]
	h.recv(1, seg.block(ref.Piece, ref.Offset))
	if _, ok := h.closed(1); ok {
		t.Fatalf("closed: %v", h.sent())
	}
	p := h.sw.peerFor(1)
	if k := p.findSent(ref.Piece, ref.Offset); k >= 0 && !p.sent[k].cancelled {
		t.Fatalf("the answer left the re-request %v outstanding", ref)
	}
	// The same DATA again (a server that served both) matches the voided request: not
	// unrequested.
	h.recv(1, seg.block(ref.Piece, ref.Offset))
	if n := p.unrequested; n != 0 {
		t.Fatalf("second answer counted as %d unrequested bytes", n)
	}
}

// TestDataAfterWindowNotUnrequested: a peer may write its WINDOW ahead of DATA it had
// queued (spec 5.1); DATA for a request that WINDOW voided is not unrequested (8.9 rule 2).
func TestDataAfterWindowNotUnrequested(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, MaxPipeline: 4}, 1, 2, 70_000)
	h.recv(1, protocol.Have{First: 1000, Count: 15})
	h.ctl(1, Unchoke)
	reqs := h.requests()[1]
	if len(reqs) == 0 || reqs[0].Piece != segs[0].rec.FirstPiece {
		t.Fatalf("requests %v, want the first segment's first", reqs)
	}
	h.recv(1, protocol.Window{First: segs[1].rec.FirstPiece, End: segs[1].rec.EndPiece()})
	for _, r := range reqs {
		if r.Piece < segs[1].rec.FirstPiece {
			h.recv(1, segs[0].block(r.Piece, r.Offset))
		}
	}
	if _, ok := h.closed(1); ok {
		t.Fatalf("closed: %v", h.sent())
	}
	if n := h.sw.peerFor(1).unrequested; n != 0 {
		t.Fatalf("DATA voided by WINDOW counted as %d unrequested bytes", n)
	}
}

// TestOlderRecordBelowAdvertisedWindow: an older record arriving after newer ones is kept
// until we have advertised our window, and ignored below the first piece advertised, which
// never moves back (spec 7.10 step 4, 8.4).
func TestOlderRecordBelowAdvertisedWindow(t *testing.T) {
	h := newHarness(t, Config{})
	h.up(1)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	for _, first := range []uint64{1020, 1010} {
		h.recv(1, protocol.RecordMsg{Raw: h.segment(first/10, first, 1000).raw})
	}
	if st := h.sw.Stats(); st.RecordsAccepted != 2 || st.WindowFirst != 1010 {
		t.Fatalf("before any WINDOW: accepted %d, window first %d; want 2 and 1010", st.RecordsAccepted, st.WindowFirst)
	}
	h.up(2) // the initial exchange advertises [1010, 1021)
	h.expectSent(2, "send 2 WINDOW 1010-1021")
	h.recv(1, protocol.RecordMsg{Raw: h.segment(100, 1000, 1000).raw})
	if st := h.sw.Stats(); st.RecordsAccepted != 2 || st.WindowFirst != 1010 {
		t.Fatalf("after WINDOW: accepted %d, window first %d; want 2 and 1010", st.RecordsAccepted, st.WindowFirst)
	}
}

// TestControlFloodCloses: CHOKE/UNCHOKE in a loop (each UNCHOKE brings a pipeline of
// REQUESTs, each CHOKE cancels them) is a flood once past the burst: the peer is closed,
// not banned. A normal pace is not.
func TestControlFloodCloses(t *testing.T) {
	h, _ := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second}, 2, 2, 70_000)
	h.recv(1, protocol.Have{First: 1000, Count: 15})
	closedAt := 0
	for k := 1; k <= 80 && closedAt == 0; k++ { // above the burst of 64, in no time
		c := Unchoke
		if k%2 == 0 {
			c = Choke
		}
		h.ctl(1, c)
		if a, ok := h.closed(1); ok {
			if a.Ban || !errors.Is(a.Err, ErrFlood) {
				t.Fatalf("closed with %v", a)
			}
			closedAt = k
		}
	}
	if closedAt != 65 {
		t.Fatalf("closed at control message %d, want 65 (the burst is 64)", closedAt)
	}
	for range 60 { // one a second is fine
		h.advance(time.Second)
		h.ctl(2, Interested)
		if _, ok := h.closed(2); ok {
			t.Fatal("a paced peer was closed")
		}
	}
}
