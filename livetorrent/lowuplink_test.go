package livetorrent

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// TestLowUplinkSwarm is the thin-margin live case: a ~410 kbit/s stream in 2 s segments of
// 16 KiB pieces, a publisher that uploads each piece once, and ten viewers in a full mesh
// with uplinks of 1.5 times the stream, joining 300 ms apart, origin disabled. The viewers
// together have the capacity, so every viewer must play every segment from its start on.
//
// With a publisher uplink of 1.6 times the stream, the swarm used to collapse: once a
// segment ran late, its pieces were widened for every requester, the publisher's uplink
// filled with extra copies of old pieces queued ahead of the first copies of new ones, and
// every viewer stopped after about seven segments while the viewers' uplinks idled.
func TestLowUplinkSwarm(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pubRate  float64 // publisher uplink, in streams
		maxStall time.Duration
	}{
		{"publisher 2x", 2, 4 * time.Second},
		{"publisher 1.6x", 1.6, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) { runLowUplinkSwarm(t, tc.pubRate, tc.maxStall) })
	}
}

func runLowUplinkSwarm(t *testing.T, pubRate float64, maxStall time.Duration) {
	const (
		viewers = 10
		segSize = 102_500 // 2 s at 410 kbit/s: 7 pieces of 16 KiB
		stream  = segSize / 2
		viewUp  = 1.5 * stream
	)
	s := newSim(t, segSize)
	s.desc.PieceSize = 16384
	s.desc.WindowDuration = 20 * time.Second
	if err := s.desc.Sign(s.key); err != nil {
		t.Fatal(err)
	}
	pub := s.addNode(Config{Role: RolePublisher, PublisherCopies: 1, UploadHint: uint64(pubRate * stream)}, pubRate*stream)
	end := s.now.Add(30 * time.Second)
	s.publishEvery(pub, 2*time.Second, end)
	var vs []*simNode
	for i := range viewers {
		v := s.addNode(Config{Role: RoleViewer, DisableOrigin: true, UploadHint: uint64(viewUp)}, viewUp)
		vs = append(vs, v)
		at := s.now.Add(time.Second + time.Duration(i)*300*time.Millisecond)
		s.schedule(at, -1, nil, func() {
			s.connect(v, pub)
			for _, w := range vs[:i] {
				s.connect(v, w)
			}
		})
	}
	s.run(end.Add(4 * time.Second))

	lastSeq := s.nextSeq - 2
	for _, v := range vs {
		st := v.sw.Stats()
		t.Logf("viewer %d: start %d delivered %d stalls %d (%v) startup %v down %d up %d wasted %d requests %d dups %d rejects %d",
			v.id, st.StartSeq, st.SegmentsDelivered, st.Stalls, st.StallTime, st.StartupDelay,
			st.BytesDownloaded, st.BytesUploaded, st.BytesWasted, st.RequestsSent, st.DuplicateRequests, st.RejectsReceived)
		s.checkDeliveries(v, lastSeq)
		if st.StallTime > maxStall {
			t.Errorf("viewer %d stalled %d times for %v, want at most %v", v.id, st.Stalls, st.StallTime, maxStall)
		}
	}
	ps := pub.sw.Stats()
	var published int64
	for _, d := range s.published {
		published += int64(len(d))
	}
	t.Logf("publisher: uploaded %.2fx the stream, copies %d for %d pieces, rejects %d",
		float64(ps.BytesUploaded)/float64(published), ps.PublisherCopies, ps.PiecesPublished, ps.RejectsSent)
}

// TestPublisherExtraCopiesWaitForBacklog: a first copy is always granted; a copy beyond
// PublisherCopies (here a widened allowance) is refused while the accepted requests fill the
// upload budget, and granted once they have been written.
func TestPublisherExtraCopiesWaitForBacklog(t *testing.T) {
	h := newHarness(t, Config{Role: RolePublisher, PublisherCopies: 1})
	seg := h.segment(100, 1000, 8*32768)
	h.do(Publish{Descriptor: &h.desc, Record: &seg.rec, Data: seg.data})
	if err := h.sw.PublishError(); err != nil {
		t.Fatal(err)
	}
	for p := PeerHandle(1); p <= 2; p++ {
		h.up(p)
		h.ctl(p, Interested)
	}
	// Published before anyone connected, the pieces were announced to nobody: once public,
	// any relaying peer may take a first copy (spec 15.2).
	h.advance(3 * time.Second)
	h.sw.st.find(1000).pub[0].allowance = 2 // widened: one extra copy of piece 1000 allowed
	block := func(piece uint64, b int) protocol.BlockRef {
		return protocol.BlockRef{Piece: piece, Offset: uint32(b * protocol.BlockSize), Length: protocol.BlockSize}
	}
	rejected := func(p PeerHandle) bool {
		for _, a := range h.last {
			if _, ok := a.Msg.(protocol.Reject); ok && a.Peer == p {
				return true
			}
		}
		return false
	}
	// Peer 1 takes the first copy of every piece: more than the upload budget, unwritten.
	for piece := uint64(1000); piece < 1008; piece++ {
		for b := range 2 {
			if h.recv(1, protocol.Request{BlockRef: block(piece, b)}); rejected(1) {
				t.Fatalf("first copy of piece %d refused: %v", piece, h.sent())
			}
		}
	}
	h.recv(2, protocol.Request{BlockRef: block(1000, 0)})
	h.expectReject(2, protocol.RejectUnspecified)

	// Once everything accepted has been written, the extra copy is granted and sent.
	for range 16 {
		h.do(Written{Peer: 1, Bytes: protocol.BlockSize})
	}
	h.recv(2, protocol.Request{BlockRef: block(1000, 0)})
	if rejected(2) || len(kinds(h.last, ActSend)) != 1 {
		t.Fatalf("extra copy not sent after the backlog cleared: %v", h.sent())
	}
	if d, ok := kinds(h.last, ActSend)[0].Msg.(protocol.Data); !ok || d.Piece != 1000 {
		t.Fatalf("want DATA for piece 1000, got %v", h.sent())
	}
	if got := h.sw.st.find(1000).pub[0].copies; got != 2 {
		t.Errorf("piece 1000 has %d copies, want 2", got)
	}
}

// The peers of publisherWithLeaf: one leaf and two relaying peers, all interested.
const pubLeaf, pubRelay, pubRelay2 = PeerHandle(1), PeerHandle(2), PeerHandle(3)

// publisherWithLeaf returns a publisher (one copy per piece) that has published one
// segment (pieces 1000-1007), with a leaf and two relaying peers connected.
func publisherWithLeaf(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, Config{Role: RolePublisher, PublisherCopies: 1})
	seg := h.segment(100, 1000, 8*32768) // about 130 kB/s: a leaf advertises under a fifth
	h.do(Publish{Descriptor: &h.desc, Record: &seg.rec, Data: seg.data})
	if err := h.sw.PublishError(); err != nil {
		t.Fatal(err)
	}
	for p, hint := range map[PeerHandle]uint64{pubLeaf: 1000, pubRelay: 1_000_000, pubRelay2: 1_000_000} {
		h.do(PeerUp{Peer: p, Addr: fmt.Sprintf("10.0.0.%d:6881", p),
			Ext: protocol.ExtHandshake{LiveID: 1, Version: 1, Reqq: 256, DescriptorSeq: 1, UploadHint: hint}})
		h.ctl(p, Interested)
	}
	// Published before anyone connected, the pieces were announced to nobody: once public,
	// any relaying peer may take a first copy (spec 15.2).
	h.advance(3 * time.Second)
	return h
}

// TestPublisherLeafCopiesWaitForBacklog: while the requests we accepted fill the upload
// budget, a relaying peer still gets a new piece's first copy but a leaf does not (it would
// queue ahead of the relays and relay nothing); once the backlog is written the leaf is served.
func TestPublisherLeafCopiesWaitForBacklog(t *testing.T) {
	h := publisherWithLeaf(t)
	block := func(piece uint64, b int) protocol.Request {
		return protocol.Request{BlockRef: protocol.BlockRef{Piece: piece, Offset: uint32(b * protocol.BlockSize), Length: protocol.BlockSize}}
	}
	served := func(p PeerHandle, piece uint64) bool {
		for _, a := range kinds(h.last, ActSend) {
			if d, ok := a.Msg.(protocol.Data); ok && a.Peer == p && d.Piece == piece {
				return true
			}
		}
		return false
	}
	for piece := uint64(1000); piece < 1006; piece++ {
		for b := range 2 {
			h.recv(pubRelay, block(piece, b))
		}
	}
	if !h.sw.pubBacklogged() {
		t.Fatal("six pieces accepted and unwritten: want the uplink backlogged")
	}
	h.recv(pubLeaf, block(1006, 0))
	h.expectReject(pubLeaf, protocol.RejectUnspecified)
	h.recv(pubRelay2, block(1007, 0))
	if got := h.sw.st.find(1007).pub[7].copies; got != 1 {
		t.Fatalf("relaying peer's first copy of 1007 not granted while backlogged: %v", h.sent())
	}
	for range 12 {
		h.do(Written{Peer: pubRelay, Bytes: protocol.BlockSize})
	}
	h.do(Written{Peer: pubRelay2, Bytes: protocol.BlockSize})
	if h.recv(pubLeaf, block(1006, 0)); !served(pubLeaf, 1006) {
		t.Fatalf("leaf refused after the backlog was written: %v", h.sent())
	}
}

// TestPublisherLeafCopyLeavesFirstCopy: a leaf that asks for a new piece before any relay
// may get a copy (the uplink is idle), but the relay that asks next still gets the piece's
// first copy; a second relay is refused as before.
func TestPublisherLeafCopyLeavesFirstCopy(t *testing.T) {
	h := publisherWithLeaf(t)
	req := func(p PeerHandle) {
		h.recv(p, protocol.Request{BlockRef: protocol.BlockRef{Piece: 1003, Length: protocol.BlockSize}})
	}
	refused := func(p PeerHandle) bool {
		for _, a := range h.last {
			if r, ok := a.Msg.(protocol.Reject); ok && a.Peer == p {
				return r.Reason == protocol.RejectUnspecified
			}
		}
		return false
	}
	pp := &h.sw.st.find(1003).pub[3]
	if req(pubLeaf); refused(pubLeaf) || pp.copies != 1 || pp.relays != 0 {
		t.Fatalf("leaf refused while the uplink is idle: %v", h.sent())
	}
	if req(pubRelay); refused(pubRelay) || pp.copies != 2 || pp.relays != 1 {
		t.Fatalf("relay refused the first copy after a leaf's: %v", h.sent())
	}
	if req(pubRelay2); !refused(pubRelay2) || pp.copies != 2 {
		t.Fatalf("second relay not refused: copies %d; %v", pp.copies, h.sent())
	}
}

// TestPublisherFirstCopyOnlyToAnnounced: a peer asking for a fresh piece it was not
// announced (polling the next piece numbers) gets no copy while the piece is neither public
// nor widened; the peer it was announced to gets the first copy. A poller once took every
// first copy and relayed nothing (a simulated swarm: origin 22x the bitrate, 3x now).
func TestPublisherFirstCopyOnlyToAnnounced(t *testing.T) {
	h := newHarness(t, Config{Role: RolePublisher, PublisherCopies: 1})
	for p := PeerHandle(1); p <= 2; p++ {
		h.do(PeerUp{Peer: p, Addr: fmt.Sprintf("10.0.0.%d:6881", p),
			Ext: protocol.ExtHandshake{LiveID: 1, Version: 1, Reqq: 256, DescriptorSeq: 1, UploadHint: 1_000_000}})
		h.ctl(p, Interested)
	}
	seg := h.segment(100, 1000, 8*32768)
	h.publish(seg, true)
	g := h.sw.st.find(1000)
	piece, poller, told := uint64(0), PeerHandle(0), PeerHandle(0)
	for i := range g.pub {
		for _, p := range []PeerHandle{1, 2} {
			if other := 3 - p; slices.Contains(g.pub[i].told, p) && !slices.Contains(g.pub[i].told, other) {
				piece, told, poller = g.piece(i), p, other
			}
		}
	}
	if told == 0 {
		t.Fatal("no piece announced to one relay and not the other")
	}
	req := protocol.Request{BlockRef: protocol.BlockRef{Piece: piece, Length: protocol.BlockSize}}
	h.recv(poller, req)
	h.expectReject(poller, protocol.RejectUnspecified)
	pp := &g.pub[g.index(piece)]
	if h.recv(told, req); pp.relays != 1 || !slices.Contains(pp.to, told) {
		t.Fatalf("the announced peer did not get the first copy: %v", h.sent())
	}
}
