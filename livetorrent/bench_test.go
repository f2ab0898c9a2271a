package livetorrent

import (
	"fmt"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// benchViewer is a tuned-in viewer with npeers peers, all unchoking it.
func benchViewer(b *testing.B, npeers int) *harness {
	h := newHarness(b, Config{TargetLatency: 6 * time.Second, DisableOrigin: true, HaveRate: 1e9, RecordRate: 1e9})
	for p := 1; p <= npeers; p++ {
		h.up(PeerHandle(p))
		h.ctl(PeerHandle(p), Unchoke)
	}
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	return h
}

// BenchmarkHandleHave: one HAVE from one of 50 peers for a piece of a wanted segment.
func BenchmarkHandleHave(b *testing.B) {
	const npeers, pieces = 50, 64
	var h *harness
	var first uint64
	n := 0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if n%(npeers*pieces) == 0 {
			b.StopTimer()
			h = benchViewer(b, npeers)
			seg := h.segment(100, 1000, pieces*32768)
			h.recv(1, protocol.RecordMsg{Raw: seg.raw})
			h.recv(1, protocol.Window{First: 1000, End: seg.rec.EndPiece()})
			first = seg.rec.FirstPiece
			// The first useful HAVE allocates the segment's buffer: not part of the cost
			// of a HAVE.
			h.recv(1, protocol.Have{First: first, Count: 1})
			n++
			b.StartTimer()
		}
		p := PeerHandle(1 + n%npeers)
		h.sw.Handle(h.now, Received{Peer: p, Msg: protocol.Have{First: first + uint64(n/npeers%pieces), Count: 1}})
		n++
	}
}

// BenchmarkPieceDownload: the whole receive path of one 32 KiB piece from one of 50 peers:
// two DATA events, assembly, SHA-256 verification, HAVE relayed to all 50 peers and the
// next requests. Allocations are per piece.
func BenchmarkPieceDownload(b *testing.B) {
	const npeers, pieces = 50, 256
	var h *harness
	var seg testSeg
	var queue []protocol.BlockRef
	served := 0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if served%pieces == 0 {
			b.StopTimer()
			h = benchViewer(b, npeers)
			seg = h.segment(100, 1000, pieces*32768)
			h.recv(1, protocol.RecordMsg{Raw: seg.raw})
			h.recv(1, protocol.Window{First: 1000, End: seg.rec.EndPiece()})
			h.recv(1, protocol.Have{First: 1000, Count: pieces})
			queue = append(queue[:0], h.requests()[1]...)
			b.StartTimer()
		}
		// Answer requests until one more piece is verified.
		verified := h.sw.stats.PiecesVerified
		for h.sw.stats.PiecesVerified == verified && len(queue) > 0 {
			r := queue[0]
			queue = queue[1:]
			for _, a := range h.sw.Handle(h.now, Received{Peer: 1, Msg: seg.block(r.Piece, r.Offset)}) {
				if rq, ok := a.Msg.(protocol.Request); ok && a.Peer == 1 {
					queue = append(queue, rq.BlockRef)
				}
			}
		}
		served++
	}
}

// BenchmarkServeRequest: a REQUEST answered with DATA and its Written report.
func BenchmarkServeRequest(b *testing.B) {
	h := newHarness(b, Config{Role: RolePublisher})
	seg := h.segment(100, 1000, 64*32768)
	h.do(Publish{Descriptor: &h.desc, Record: &seg.rec, Data: seg.data})
	h.up(1)
	h.ctl(1, Interested)
	g := h.sw.st.segs[0]
	for i := range g.pub {
		g.pub[i].allowance = 1 << 30
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ref := protocol.BlockRef{Piece: 1000 + uint64(i%64), Offset: uint32(i/64%2) * protocol.BlockSize, Length: protocol.BlockSize}
		h.sw.Handle(h.now, Received{Peer: 1, Msg: protocol.Request{BlockRef: ref}})
		h.sw.Handle(h.now, Written{Peer: 1, Bytes: protocol.BlockSize})
	}
}

// BenchmarkTick: housekeeping of a viewer with 50 peers and a few segments in progress.
func BenchmarkTick(b *testing.B) {
	h := benchViewer(b, 50)
	for k := range uint64(4) {
		h.recv(1, protocol.RecordMsg{Raw: h.segment(100+k, 1000+100*k, 64*32768).raw})
	}
	h.recv(1, protocol.Window{First: 1000, End: 1364})
	for p := PeerHandle(1); p <= 50; p++ {
		h.recv(p, protocol.Have{First: 1000, Count: 364})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.now = h.now.Add(h.sw.cfg.TickInterval)
		h.sw.Handle(h.now, Tick{})
	}
}

// BenchmarkSimSwarm runs a publisher and 20 viewers for 20 virtual seconds (1 Mbit/s
// stream) and reports the core's event rate and allocations per event.
func BenchmarkSimSwarm(b *testing.B) {
	for _, viewers := range []int{20} {
		b.Run(fmt.Sprint(viewers, "viewers"), func(b *testing.B) {
			events := 0
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s := newSim(b, 250_000)
				pub := s.addNode(Config{Role: RolePublisher}, 600_000)
				var vs []*simNode
				for range viewers {
					v := s.addNode(Config{Role: RoleViewer, DisableOrigin: true}, 400_000)
					for k, w := range vs {
						if k >= len(vs)-8 {
							s.connect(v, w)
						}
					}
					s.connect(v, pub)
					vs = append(vs, v)
				}
				end := s.now.Add(20 * time.Second)
				s.publishEvery(pub, 2*time.Second, end)
				s.run(end.Add(4 * time.Second))
				events += s.events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(events)/float64(b.N), "events/run")
		})
	}
}
