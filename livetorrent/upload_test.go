package livetorrent

import (
	"fmt"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// TestPublisherEgressBounded: with 50 viewers present from the start, every piece leaves
// the publisher at most PublisherCopies times, and every viewer still plays everything.
func TestPublisherEgressBounded(t *testing.T) {
	for _, copies := range []int{1, 2} {
		t.Run(fmt.Sprint(copies, "copies"), func(t *testing.T) {
			const viewers, degree = 50, 6 // each viewer dials the next 6: 12 neighbours
			s := newSim(t, 250_000)
			pub := s.addNode(Config{Role: RolePublisher, PublisherCopies: copies}, 600_000)
			var vs []*simNode
			for range viewers {
				vs = append(vs, s.addNode(Config{Role: RoleViewer, DisableOrigin: true}, 400_000))
			}
			for i, v := range vs {
				s.connect(v, pub)
				for k := 1; k <= degree; k++ {
					s.connect(v, vs[(i+k)%viewers])
				}
			}
			s.run(s.now.Add(500 * time.Millisecond))
			end := s.now.Add(20 * time.Second)
			s.publishEvery(pub, 2*time.Second, end)
			s.run(end.Add(6 * time.Second))

			checkPublisherBytes(t, pub, copies, 0)
			for _, v := range vs {
				s.checkDeliveries(v, s.nextSeq-1)
				if st := v.sw.Stats(); st.Stalls > 0 {
					t.Errorf("viewer %d stalled %d times", v.id, st.Stalls)
				}
			}
			ps := pub.sw.Stats()
			t.Logf("piece propagation, publish to viewer: p50 %v p95 %v max %v", s.spreadPercentile(0.5), s.spreadPercentile(0.95), s.spreadPercentile(1))
			t.Logf("publisher uploaded %d bytes for %d pieces (%.2f piece copies each), %d events",
				ps.BytesUploaded, ps.PiecesPublished, float64(ps.PublisherCopies)/float64(ps.PiecesPublished), s.events)
		})
	}
}

// TestPublisherWidensWhenNotSpreading: a lone viewer cannot get pieces from anyone else, so
// the publisher must serve it although the copy allowance is one.
func TestPublisherWidensWhenNotSpreading(t *testing.T) {
	s := newSim(t, 100_000)
	pub := s.addNode(Config{Role: RolePublisher, PublisherCopies: 1}, 1_000_000)
	a := s.addNode(Config{Role: RoleViewer, DisableOrigin: true}, 400_000)
	b := s.addNode(Config{Role: RoleViewer, DisableOrigin: true}, 400_000)
	s.connect(a, pub)
	s.connect(b, pub) // a and b are not connected: each must get everything from pub
	s.run(s.now.Add(500 * time.Millisecond))
	end := s.now.Add(12 * time.Second)
	s.publishEvery(pub, 2*time.Second, end)
	s.run(end.Add(6 * time.Second))
	s.checkDeliveries(a, s.nextSeq-1)
	s.checkDeliveries(b, s.nextSeq-1)
	if st := a.sw.Stats(); st.Stalls > 0 {
		t.Errorf("viewer a stalled %d times", st.Stalls)
	}
}

// TestRequestValidation: requests outside the window, for unheld pieces, with bad block
// geometry, while choked, or beyond reqq are rejected with the matching reason.
func TestRequestValidation(t *testing.T) {
	h := newHarness(t, Config{Role: RoleViewer, Reqq: 2, UploadInFlight: protocol.BlockSize})
	h.up(1)
	h.up(2)
	seg := h.segment(100, 1000, 70_000) // 3 pieces: 32768, 32768, 4464
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	h.recv(1, protocol.RecordMsg{Raw: seg.raw})
	h.ownAll(seg) // as if downloaded and verified

	req := func(piece uint64, off, n uint32) protocol.Request {
		return protocol.Request{BlockRef: protocol.BlockRef{Piece: piece, Offset: off, Length: n}}
	}
	h.recv(2, req(1000, 0, protocol.BlockSize))
	h.expectReject(2, protocol.RejectChoked)

	h.do(ControlReceived{Peer: 2, Kind: Interested})
	h.expectSent(2, "ctl 2 unchoke")
	for _, c := range []struct {
		r    protocol.Request
		want protocol.RejectReason
	}{
		{req(999, 0, protocol.BlockSize), protocol.RejectOutOfWindow},
		{req(1003, 0, protocol.BlockSize), protocol.RejectNotHeld}, // above the window
		{req(1002, 0, protocol.BlockSize), protocol.RejectInvalid}, // last piece is short
		{req(1001, protocol.BlockSize*2, protocol.BlockSize), protocol.RejectInvalid},
	} {
		h.recv(2, c.r)
		h.expectReject(2, c.want)
	}
	// Upload credit is one block: the first request is served, the next two queue, the
	// fourth exceeds reqq = 2.
	acts := h.recv(2, req(1000, 0, protocol.BlockSize))
	if len(acts) != 1 || acts[0].Msg.Type() != protocol.TypeData {
		t.Fatalf("want one DATA, got %v", acts)
	}
	h.recv(2, req(1000, protocol.BlockSize, protocol.BlockSize))
	// A request identical to a queued one is ignored: no second DATA, no REJECT, and it
	// takes no place in the queue.
	if acts := h.recv(2, req(1000, protocol.BlockSize, protocol.BlockSize)); len(acts) != 0 {
		t.Fatalf("duplicate of a queued request: %v", acts)
	}
	h.recv(2, req(1001, 0, protocol.BlockSize))
	h.recv(2, req(1001, protocol.BlockSize, protocol.BlockSize))
	h.expectReject(2, protocol.RejectQueueFull)
	// A cancelled request is never served; written bytes release the next block.
	h.recv(2, protocol.Cancel{BlockRef: req(1000, protocol.BlockSize, protocol.BlockSize).BlockRef})
	acts = h.do(Written{Peer: 2, Bytes: protocol.BlockSize})
	if len(acts) != 1 || acts[0].String() != "send 2 DATA 1001/0 len=16384" {
		t.Fatalf("after Written: %v", acts)
	}
}

// TestChokingSlots: interested peers are unchoked while slots last; rechoke keeps the best
// uploaders to us; the optimistic slot rotates.
func TestChokingSlots(t *testing.T) {
	h := newHarness(t, Config{Role: RoleViewer, UnchokeSlots: 2, RechokeEvery: 10 * time.Second, OptimisticEvery: 30 * time.Second})
	for p := PeerHandle(1); p <= 4; p++ {
		h.up(p)
	}
	var unchoked []PeerHandle
	for p := PeerHandle(1); p <= 4; p++ {
		for _, a := range h.do(ControlReceived{Peer: p, Kind: Interested}) {
			if a.Kind == ActControl && a.Control == Unchoke {
				unchoked = append(unchoked, a.Peer)
			}
		}
	}
	if len(unchoked) != 2 || unchoked[0] != 1 || unchoked[1] != 2 {
		t.Fatalf("unchoked on interest: %v, want [1 2]", unchoked)
	}
	// Peers 3 and 4 upload to us; after a rechoke they hold the regular slots.
	h.sw.byHandle[3].recvRate = 50_000
	h.sw.byHandle[4].recvRate = 80_000
	h.sw.upl.backlog = true // a busy uplink: no slot beyond UnchokeSlots (spareUnchoke)
	h.advance(10 * time.Second)
	var st []PeerStats
	st = h.sw.PeerStats(st)
	got := map[PeerHandle]bool{}
	for _, p := range st {
		got[p.Peer] = !p.AmChoking
	}
	if !got[3] || !got[4] {
		t.Errorf("after rechoke unchoked = %v, want 3 and 4 among them", got)
	}
	n := 0
	for _, p := range st {
		if !p.AmChoking {
			n++
		}
	}
	if n > 3 {
		t.Errorf("%d peers unchoked, want at most 2 regular + 1 optimistic", n)
	}
}

// TestSpareUplinkUnchokes: while the uplink has room, one more interested peer is unchoked
// each second beyond the tit-for-tat slots, even one that uploads nothing to us; once the
// uplink is busy the slots are given back and a rechoke trims to UnchokeSlots.
func TestSpareUplinkUnchokes(t *testing.T) {
	h := interestedPeers(t, 6)
	unchoked := func() (n int) {
		for _, p := range h.sw.peers {
			if !p.amChoking {
				n++
			}
		}
		return n
	}
	if n := unchoked(); n != 2 {
		t.Fatalf("%d unchoked on interest, want the 2 slots", n)
	}
	// The first slow tick also starts the optimistic unchoke.
	for sec := 1; sec <= 3; sec++ {
		h.advance(time.Second) // nothing uploaded: the uplink is idle
		if n, want := unchoked(), min(3+sec, 6); n != want {
			t.Fatalf("after %d s of an idle uplink %d unchoked, want %d", sec, n, want)
		}
	}
	// The uplink fills: a slot is given back each second and the rechoke (10 s after the
	// first) chokes the surplus.
	for sec := 4; sec <= 11; sec++ {
		h.sw.upl.rate, h.sw.upl.lastRate = 950_000, h.now.Add(time.Second)
		h.advance(time.Second)
	}
	if n := unchoked(); n != 3 {
		t.Fatalf("after a busy uplink and a rechoke %d unchoked, want 2 regular + 1 optimistic", n)
	}
}

// TestSpareSlotGoesToWeakestUploader: tit-for-tat gives the regular slots to the best
// uploaders; a spare slot goes to the choked peer least able to give back, a near-zero
// uplink before peers that can relay, since it is the one nobody else unchokes.
func TestSpareSlotGoesToWeakestUploader(t *testing.T) {
	h := interestedPeers(t, 5)
	for p, hint := range map[PeerHandle]uint64{1: 900_000, 2: 800_000, 3: 700_000, 4: 600_000, 5: 10_000} {
		h.sw.byHandle[p].ext.UploadHint = hint
	}
	h.sw.byHandle[3].recvRate = 50_000
	h.sw.byHandle[4].recvRate = 80_000
	// A busy uplink until the rechoke: 3 and 4 take the regular slots, one optimistic.
	for range 10 {
		h.sw.upl.rate, h.sw.upl.lastRate = 950_000, h.now.Add(time.Second)
		h.advance(time.Second)
	}
	if h.sw.byHandle[5].amChoking == false {
		t.Fatal("the near-zero uplink holds a slot before any spare one")
	}
	h.sw.upl.rate, h.sw.upl.lastRate = 0, h.now.Add(time.Second)
	h.advance(time.Second) // idle: one spare slot
	if h.sw.byHandle[5].amChoking {
		var st []PeerStats
		t.Fatalf("spare slot not given to the near-zero uplink: %+v", h.sw.PeerStats(st))
	}
	// The uplink neither idle nor busy: the spare slot stays, and the next rechoke keeps it
	// with the weakest peer rather than handing it to the best choked one.
	for range 10 {
		h.sw.upl.rate, h.sw.upl.lastRate = 700_000, h.now.Add(time.Second)
		h.advance(time.Second)
	}
	if h.now.Sub(h.sw.up.lastRechoke) >= 10*time.Second || h.sw.up.extra != 1 {
		t.Fatalf("no rechoke in the last 10 s (%v ago) or spare slots %d, want 1", h.now.Sub(h.sw.up.lastRechoke), h.sw.up.extra)
	}
	if h.sw.byHandle[5].amChoking {
		t.Fatal("the rechoke took the spare slot from the near-zero uplink")
	}
}

// interestedPeers returns a viewer with a 1 MB/s uplink, two tit-for-tat slots, a rechoke
// every 10 s and no optimistic rotation, and n peers interested in it.
func interestedPeers(t *testing.T, n int) *harness {
	h := newHarness(t, Config{Role: RoleViewer, UnchokeSlots: 2, RechokeEvery: 10 * time.Second,
		OptimisticEvery: time.Hour, UploadHint: 1_000_000})
	for p := PeerHandle(1); p <= PeerHandle(n); p++ {
		h.up(p)
		h.ctl(p, Interested)
	}
	return h
}

// TestBusyRelayRefusesFreshPiece: a viewer already sending a fresh piece to one peer
// refuses another peer's request for it only while its queued requests would keep its
// uplink busy for more than maxRelayQueue; with a shorter queue the request waits in line.
func TestBusyRelayRefusesFreshPiece(t *testing.T) {
	h := newHarness(t, Config{Role: RoleViewer, UnchokeSlots: 4})
	h.up(1)
	h.up(2)
	h.up(3)
	seg := h.segment(100, 1000, 70_000) // 3 pieces: 32768, 32768, 4464
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	h.recv(1, protocol.RecordMsg{Raw: seg.raw}) // arrives now: fresh
	h.ownAll(seg)
	h.ctl(2, Interested)
	h.ctl(3, Interested)
	req := func(p PeerHandle, piece uint64, off uint32) []Action {
		return h.recv(p, protocol.Request{BlockRef: protocol.BlockRef{Piece: piece, Offset: off, Length: protocol.BlockSize}})
	}
	// Peer 2 asks for both pieces: one block leaves (the budget), three wait.
	req(2, 1000, 0)
	req(2, 1000, protocol.BlockSize)
	req(2, 1001, 0)
	req(2, 1001, protocol.BlockSize)
	queued := 4 * protocol.BlockSize

	// An uplink that sends the queue in under maxRelayQueue: peer 3 waits in line.
	h.sw.upl.rate = 1.5 * float64(queued) / maxRelayQueue.Seconds()
	for _, a := range req(3, 1000, 0) {
		if _, ok := a.Msg.(protocol.Reject); ok {
			t.Fatalf("refused with a short queue: %v", a)
		}
	}
	// A slower uplink: the same queue lasts longer than maxRelayQueue, so peer 3 is
	// refused the piece peer 2 is getting, and told to ask elsewhere.
	h.sw.upl.rate = 0.5 * float64(queued) / maxRelayQueue.Seconds()
	req(3, 1000, protocol.BlockSize)
	h.expectReject(3, protocol.RejectUnspecified)
	// A piece nobody else is getting is served in line however long the queue.
	for _, a := range h.recv(3, protocol.Request{BlockRef: protocol.BlockRef{Piece: 1002, Length: 4464}}) {
		if _, ok := a.Msg.(protocol.Reject); ok {
			t.Fatalf("refused a piece no other peer is getting: %v", a)
		}
	}
}

// TestEvictionRejectsQueuedRequests: when our window's first piece advances past queued
// requests, they are answered with REJECT(outside window) at once (spec 9.3), not when
// their turn to be served comes.
func TestEvictionRejectsQueuedRequests(t *testing.T) {
	h := newHarness(t, Config{Role: RoleViewer, UploadInFlight: protocol.BlockSize})
	h.up(1)
	h.up(2)
	old := h.segment(100, 1000, 70_000)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	h.recv(1, protocol.RecordMsg{Raw: old.raw})
	h.ownAll(old)
	h.do(ControlReceived{Peer: 2, Kind: Interested})
	req := func(piece uint64, off uint32) protocol.Request {
		return protocol.Request{BlockRef: protocol.BlockRef{Piece: piece, Offset: off, Length: protocol.BlockSize}}
	}
	h.recv(2, req(1000, 0)) // served: the upload credit is one block
	h.recv(2, req(1000, protocol.BlockSize))
	h.recv(2, req(1001, 0))
	h.now = h.now.Add(40 * time.Second) // the next record pushes the old one out of the window
	newer := h.segment(120, 1100, 70_000)
	h.recv(1, protocol.RecordMsg{Raw: newer.raw})
	var rejected []protocol.BlockRef
	for _, a := range h.last {
		if r, ok := a.Msg.(protocol.Reject); ok && a.Peer == 2 && r.Reason == protocol.RejectOutOfWindow {
			rejected = append(rejected, r.BlockRef)
		}
	}
	if len(rejected) != 2 || rejected[0] != req(1000, protocol.BlockSize).BlockRef || rejected[1] != req(1001, 0).BlockRef {
		t.Fatalf("at eviction rejected %v, want both queued requests in order; sent:\n%v", rejected, h.sent())
	}
	if q := h.sw.peerFor(2).queue.len(); q != 0 {
		t.Fatalf("%d requests still queued", q)
	}
}

// TestStalledWriterReleasesTheUploadBudget: a peer that stops taking our data (its blocks are
// never reported written) holds the node's upload budget for uploadStallAfter at most; then
// it is choked and another peer is served. Before, it held the budget until the driver's
// write timeout closed it, and nobody else got a block.
func TestStalledWriterReleasesTheUploadBudget(t *testing.T) {
	h := newHarness(t, Config{UnchokeSlots: 8})
	h.up(1)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	seg := h.segment(100, 1000, 64*32768)
	h.recv(1, protocol.RecordMsg{Raw: seg.raw})
	h.ownAll(seg)
	h.up(2)
	h.up(3)
	h.ctl(2, Interested)
	h.ctl(3, Interested)
	blocks := func(p PeerHandle, acts []Action) int {
		n := 0
		for _, a := range acts {
			if _, ok := a.Msg.(protocol.Data); ok && a.Peer == p {
				n++
			}
		}
		return n
	}
	req := func(piece uint64) protocol.Request {
		return protocol.Request{BlockRef: protocol.BlockRef{Piece: piece, Length: protocol.BlockSize}}
	}
	for k := range uint64(4) {
		h.recv(2, req(1000+k)) // never reported written
	}
	// Peer 3 asks while the budget is held: nothing yet.
	got := 0
	for k := range uint64(4) {
		got += blocks(3, h.recv(3, req(1010+k)))
	}
	var choked bool
	for range 3 {
		acts := h.advance(time.Second)
		got += blocks(3, acts)
		for _, a := range acts {
			choked = choked || (a.Kind == ActControl && a.Peer == 2 && a.Control == Choke)
		}
	}
	if got == 0 || !choked {
		t.Fatalf("3 s after peer 2 stopped taking data: %d blocks for peer 3, peer 2 choked %v", got, choked)
	}
	// Peer 2 drains after all: its bytes leave the (already released) accounting once.
	h.do(Written{Peer: 2, Bytes: 4 * protocol.BlockSize})
	if p := h.sw.peerFor(2); p.inflight != 0 || p.stalledBytes != 0 {
		t.Fatalf("peer 2 after draining: %d in flight, %d stalled", p.inflight, p.stalledBytes)
	}
}
