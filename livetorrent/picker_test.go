package livetorrent

import (
	"slices"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

func TestPieceOrderComparator(t *testing.T) {
	// Listed in the order the policy must produce.
	want := []pieceKey{
		{urgent: true, deadline: 10, piece: 7},
		{urgent: true, deadline: 10, piece: 8},
		{urgent: true, deadline: 20, piece: 1, avail: 9},
		{deadline: 50, partial: true, avail: 5, piece: 30},
		{deadline: 40, avail: 1, piece: 31},
		{deadline: 40, avail: 2, piece: 20},
		{deadline: 30, avail: 3, piece: 40},
		{deadline: 40, avail: 3, piece: 10},
		{deadline: 40, avail: 3, piece: 11},
		{deadline: 1, avail: 0, piece: 1}, // nobody has it: last, however early
	}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, func(a, b pieceKey) int { return compareKeys(orderEntry{key: a}, orderEntry{key: b}) })
	if !slices.Equal(got, want) {
		t.Fatalf("order:\n got %v\nwant %v", got, want)
	}
}

// viewerWithSegments returns a tuned-in viewer with peers 1..npeers connected, holding
// records for segments 100..100+nsegs-1 of size bytes at pieces 1000, 1010, ... Origin
// fallback is off unless cfg sets OriginLead.
func viewerWithSegments(t *testing.T, cfg Config, npeers, nsegs, size int) (*harness, []testSeg) {
	t.Helper()
	if !cfg.DisableOrigin && cfg.OriginLead == 0 {
		cfg.DisableOrigin = true
	}
	h := newHarness(t, cfg)
	for p := 1; p <= npeers; p++ {
		h.up(PeerHandle(p))
	}
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	var segs []testSeg
	for k := range nsegs {
		seg := h.segment(100+uint64(k), 1000+10*uint64(k), size)
		segs = append(segs, seg)
		h.recv(1, protocol.RecordMsg{Raw: seg.raw})
	}
	h.recv(1, protocol.Window{First: 1000, End: segs[nsegs-1].rec.EndPiece()})
	if !h.sw.Stats().TunedIn {
		t.Fatal("not tuned in")
	}
	return h, segs
}

// TestPickerDeadlineFirst: with every piece available from two peers, requests go out in
// deadline order, each block to the peer expected to deliver it first.
func TestPickerDeadlineFirst(t *testing.T) {
	h := newHarness(t, Config{TargetLatency: 6 * time.Second, MaxPipeline: 4, DisableOrigin: true})
	h.up(1)
	h.up(2)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	// Both peers announce and unchoke before we tune in, so the first request round
	// chooses between them.
	for p := PeerHandle(1); p <= 2; p++ {
		h.recv(p, protocol.Have{First: 1000, Count: 30})
		h.ctl(p, Unchoke)
	}
	h.sw.byHandle[2].rate = 4 * h.sw.byHandle[1].rate // peer 2 is known to be faster
	for k := range uint64(3) {
		h.recv(1, protocol.RecordMsg{Raw: h.segment(100+k, 1000+10*k, 70_000).raw})
	}
	h.recv(1, protocol.Window{First: 1000, End: 1023})
	reqs := h.requests()
	var order []protocol.BlockRef
	for _, a := range h.last {
		if r, ok := a.Msg.(protocol.Request); ok {
			order = append(order, r.BlockRef)
		}
	}
	if len(order) != 8 {
		t.Fatalf("%d requests, want two pipelines of 4: %v", len(order), h.sent())
	}
	// Segment 100 (pieces 1000-1002, five blocks) first, then 101; nothing of 102.
	for k, r := range order {
		if (k < 5 && r.Piece > 1002) || (k >= 5 && (r.Piece < 1010 || r.Piece > 1012)) {
			t.Fatalf("request %d is %v: not in deadline order: %v", k, r, order)
		}
	}
	// Expected completion decides: the faster peer gets the first blocks and the larger
	// share (4x the rate, until its pipeline is full).
	if first := reqs[2][0]; first.Piece != 1000 || first.Offset != 0 {
		t.Errorf("fast peer's first request %v, want piece 1000 offset 0", first)
	}
	if len(reqs[2]) != 4 || len(reqs[1]) != 4 {
		t.Errorf("requests per peer: fast %d, slow %d", len(reqs[2]), len(reqs[1]))
	}
}

// TestPickerRarestFirstAhead: pieces beyond the urgent horizon are requested rarest first.
func TestPickerRarestFirstAhead(t *testing.T) {
	// Segments 100-103 with a 6 s latency: the start is 101; segment 103 is due in 5 s,
	// beyond the 3 s horizon.
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, MaxPipeline: 4}, 3, 4, 70_000)
	far := segs[3].rec.FirstPiece // pieces far, far+1, far+2
	h.recv(1, protocol.Have{First: far, Count: 3})
	h.recv(2, protocol.Have{First: far, Count: 2})
	h.recv(3, protocol.Have{First: far, Count: 1})
	h.advance(300 * time.Millisecond) // availability changes are folded in by a re-sort
	h.ctl(1, Unchoke)
	var got []uint64
	for _, r := range h.requests()[1] {
		got = append(got, r.Piece)
	}
	want := []uint64{far + 2, far + 1, far + 1, far} // avail 1, then 2, then 3
	if !slices.Equal(got[:min(4, len(got))], want) {
		t.Fatalf("requests %v, want rarest first %v", got, want)
	}
}

// TestPickerSlowPeerMissesDeadline: a request whose expected arrival is after the deadline
// is duplicated to another peer at the next tick; the first answer cancels the other.
func TestPickerSlowPeerMissesDeadline(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second}, 2, 3, 20_000)
	start := segs[0].rec.FirstPiece
	h.recv(1, protocol.Have{First: start, Count: 1})
	h.recv(2, protocol.Have{First: start, Count: 1})
	h.sw.byHandle[1].rate = 4096 // 20000 bytes take 5 s: far past the 1 s deadline
	h.ctl(1, Unchoke)
	if n := len(h.requests()[1]); n != 2 {
		t.Fatalf("%d requests to the only unchoked peer, want 2", n)
	}
	h.sw.byHandle[2].rate = 1 << 20
	h.ctl(2, Unchoke)
	if n := len(h.requests()[2]); n != 0 {
		t.Fatalf("blocks duplicated before they were found late: %v", h.sent())
	}
	h.advance(100 * time.Millisecond)
	if n := len(h.requests()[2]); n != 2 {
		t.Fatalf("late blocks not re-requested from peer 2: %v", h.sent())
	}
	h.recv(2, segs[0].block(start, 0))
	h.expectSent(1, "send 1 CANCEL 1000/0/16384")
	h.recv(2, segs[0].block(start, protocol.BlockSize))
	h.expectSent(1, "send 1 CANCEL 1000/16384/3616")
	if st := h.sw.Stats(); st.DuplicateRequests != 2 || st.PiecesVerified != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestPickerTimeoutAndChoke: requests are released when the peer chokes us or when they
// time out, and go to another peer.
func TestPickerTimeoutAndChoke(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, RequestTimeout: 2 * time.Second}, 2, 3, 20_000)
	start := segs[0].rec.FirstPiece
	h.recv(1, protocol.Have{First: start, Count: 1})
	h.ctl(1, Unchoke)
	h.ctl(1, Choke)
	if p := h.sw.byHandle[1]; p.nActive != 0 {
		t.Fatalf("%d requests still active after choke", p.nActive)
	}
	h.recv(2, protocol.Have{First: start, Count: 1})
	h.ctl(2, Unchoke)
	if n := len(h.requests()[2]); n != 2 {
		t.Fatalf("released blocks not requested from peer 2: %v", h.sent())
	}
	h.sw.play.anchor = h.now.Add(time.Hour) // not urgent: only the timeout can free them
	h.advance(2100 * time.Millisecond)
	if st := h.sw.Stats(); st.RequestTimeouts != 2 {
		t.Fatalf("timeouts %d, want 2", st.RequestTimeouts)
	}
	h.expectSent(2, "send 2 CANCEL 1000/0/16384")
}

// A peer that refuses more pieces than the backoff list holds is still backed off for the
// newest refusal; the list stays bounded and forgets the refusals whose backoff ended first.
func TestBackoffKeepsNewestRefusals(t *testing.T) {
	p := &peer{}
	t0 := time.Unix(1000, 0)
	const base = 500 * time.Millisecond
	n := maxBackoffs + 44
	for k := 0; k < n; k++ {
		p.backOff(uint64(k), t0.Add(time.Duration(k)*time.Millisecond), base)
	}
	if len(p.backoff) != maxBackoffs {
		t.Fatalf("%d backoffs remembered, want %d", len(p.backoff), maxBackoffs)
	}
	now := t0.Add(time.Duration(n) * time.Millisecond)
	for k := n - maxBackoffs; k < n; k++ {
		if !p.backedOff(uint64(k), now) {
			t.Fatalf("piece %d refused %v ago is not backed off", k, now.Sub(t0.Add(time.Duration(k)*time.Millisecond)))
		}
	}
	if p.backedOff(0, now) {
		t.Errorf("the oldest refusal was kept over the newest")
	}
	// A second refusal of a remembered piece doubles its backoff.
	if until := p.backOff(uint64(n-1), now, base); !until.Equal(now.Add(2 * base)) {
		t.Errorf("second refusal backs off until %v, want %v", until.Sub(now), 2*base)
	}
}

// TestSilentAnnouncerDoesNotKeepUsFromTheSeeder: a peer that announced a piece but keeps us
// choked (or leaves our requests unanswered) is not one the seeder can leave the piece to.
// Before, any other announcer made a viewer skip the seeder for every piece until it was
// urgent: one such peer sent the review's swarm to the origin (19x the bitrate).
func TestSilentAnnouncerDoesNotKeepUsFromTheSeeder(t *testing.T) {
	h := newHarness(t, Config{TargetLatency: 30 * time.Second, DisableOrigin: true})
	h.do(PeerUp{Peer: 1, Addr: "10.0.0.1:6881", Seeder: true,
		Ext: protocol.ExtHandshake{LiveID: 1, Version: 1, Reqq: 256, DescriptorSeq: 1}})
	h.up(2)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	var segs []testSeg
	for k := range uint64(3) {
		seg := h.segment(100+k, 1000+10*k, 70_000)
		segs = append(segs, seg)
		h.recv(1, protocol.RecordMsg{Raw: seg.raw})
	}
	h.recv(1, protocol.Window{First: 1000, End: segs[2].rec.EndPiece()})
	if !h.sw.Stats().TunedIn {
		t.Fatal("not tuned in")
	}
	// Peer 2 announces every piece and never unchokes us; the seeder does.
	h.recv(2, protocol.Have{First: 1000, Count: 30})
	for _, seg := range segs {
		h.recv(1, protocol.Have{First: seg.rec.FirstPiece, Count: uint32(len(seg.rec.Hashes))})
	}
	h.ctl(1, Unchoke)
	asked := 0
	for range 3 {
		asked += len(h.requests()[1])
		h.advance(100 * time.Millisecond)
	}
	asked += len(h.requests()[1])
	if asked == 0 {
		t.Fatalf("nothing asked of the seeder while the only other holder keeps us choked")
	}
}
