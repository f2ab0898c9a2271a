package livetorrent

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// TestHostileInput feeds a viewer and a publisher long random sequences of well-formed
// but adversarial events (what a parser lets through): no panic, state stays bounded.
func TestHostileInput(t *testing.T) {
	for _, role := range []Role{RoleViewer, RolePublisher} {
		t.Run(role.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(role)))
			h := newHarness(t, Config{Role: role, MaxPeers: 8, HaveRate: 2000, OriginLead: time.Second})
			var segs []testSeg
			first := uint64(1000)
			for k := range uint64(6) {
				seg := h.segment(100+k, first, 10_000+rng.IntN(200_000))
				first = seg.rec.EndPiece() + uint64(rng.IntN(3))
				segs = append(segs, seg)
			}
			if role == RolePublisher {
				for k, seg := range segs {
					ev := Publish{Record: &segs[k].rec, Data: seg.data}
					if k == 0 {
						ev.Descriptor = &h.desc
					}
					h.do(ev)
				}
			}
			if role == RoleViewer {
				h.up(1)
				h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
				for _, seg := range segs {
					h.recv(1, protocol.RecordMsg{Raw: seg.raw})
				}
				h.recv(1, protocol.Window{First: 1000, End: first})
			}
			type asked struct {
				p PeerHandle
				r protocol.BlockRef
			}
			var requests []asked
			piece := func() uint64 { return 990 + uint64(rng.IntN(int(first-980))) }
			ref := func() protocol.BlockRef {
				return protocol.BlockRef{Piece: piece(), Offset: uint32(rng.IntN(3)) * protocol.BlockSize, Length: uint32(1 + rng.IntN(protocol.BlockSize))}
			}
			for i := 0; i < 30000; i++ {
				p := PeerHandle(1 + rng.IntN(10))
				var ev Event
				switch rng.IntN(16) {
				case 0:
					ev = PeerUp{Peer: p, Ext: protocol.ExtHandshake{Reqq: uint32(rng.IntN(300)), DescriptorSeq: uint64(rng.IntN(2)),
						HasWindow: true, Window: protocol.Window{First: piece(), End: piece() + 50}}}
				case 1:
					ev = PeerDown{Peer: p}
				case 2:
					ev = ControlReceived{Peer: p, Kind: Control(rng.IntN(4))}
				case 3:
					ev = Received{Peer: p, Msg: protocol.Have{First: piece(), Count: uint32(1 + rng.IntN(40))}}
				case 4:
					ev = Received{Peer: p, Msg: protocol.Request{BlockRef: ref()}}
				case 5:
					ev = Received{Peer: p, Msg: protocol.Cancel{BlockRef: ref()}}
				case 6:
					ev = Received{Peer: p, Msg: protocol.Reject{BlockRef: ref(), Reason: protocol.RejectReason(rng.IntN(7))}}
				case 7:
					if len(requests) > 0 && rng.IntN(4) > 0 {
						a := requests[rng.IntN(len(requests))]
						for _, seg := range segs {
							if seg.rec.Contains(a.r.Piece) {
								d := seg.block(a.r.Piece, a.r.Offset)
								if rng.IntN(10) == 0 {
									d.Block = append([]byte(nil), d.Block...)
									d.Block[0] ^= 1
								}
								ev = Received{Peer: a.p, Msg: d}
							}
						}
						break
					}
					r := ref()
					blk := make([]byte, r.Length)
					if g := segs[rng.IntN(len(segs))]; rng.IntN(2) == 0 && g.rec.BlockLen(r.Piece, r.Offset, 32768) > 0 {
						blk = g.block(r.Piece, r.Offset).Block // genuine data, often unrequested
					}
					ev = Received{Peer: p, Msg: protocol.Data{Piece: r.Piece, Offset: r.Offset, Block: blk}}
				case 8:
					a := piece()
					ev = Received{Peer: p, Msg: protocol.Window{First: a, End: a + uint64(rng.IntN(100))}}
				case 9:
					ev = Received{Peer: p, Msg: protocol.RecordMsg{Raw: segs[rng.IntN(len(segs))].raw}}
				case 10:
					raw := append([]byte(nil), segs[rng.IntN(len(segs))].raw...)
					raw[rng.IntN(len(raw))] ^= byte(1 + rng.IntN(255))
					ev = Received{Peer: p, Msg: protocol.RecordMsg{Raw: raw}}
				case 11:
					ev = Received{Peer: p, Msg: protocol.DescriptorMsg{Raw: h.descRaw}}
				case 12:
					ev = Written{Peer: p, Bytes: rng.IntN(40000) - 1000}
				case 13:
					data := make([]byte, rng.IntN(40000))
					var err error
					if rng.IntN(3) == 0 {
						err = errors.New("origin down")
					}
					ev = OriginData{Piece: piece(), Data: data, Err: err}
				default:
					h.now = h.now.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
					ev = Tick{}
				}
				if ev == nil {
					continue
				}
				for _, a := range h.do(ev) {
					if r, ok := a.Msg.(protocol.Request); ok {
						requests = append(requests, asked{a.Peer, r.BlockRef})
						if len(requests) > 64 {
							requests = requests[1:]
						}
					}
				}
			}
			st := h.sw.Stats()
			if n := len(h.sw.peers); n > 8 {
				t.Errorf("%d peers", n)
			}
			for _, p := range h.sw.peers {
				if len(p.sent) > 2*h.sw.cfg.MaxPipeline+64 || p.queue.len() > h.sw.cfg.Reqq || p.have.len() > h.sw.cfg.MaxHaveSpans {
					t.Errorf("peer %d state grew: sent %d queue %d spans %d", p.h, len(p.sent), p.queue.len(), p.have.len())
				}
				if p.nActive < 0 || p.outBytes < 0 || p.inflight < 0 {
					t.Errorf("peer %d counters negative: %d %d %d", p.h, p.nActive, p.outBytes, p.inflight)
				}
			}
			if h.sw.upl.inflight < 0 {
				t.Errorf("upload in flight %d", h.sw.upl.inflight)
			}
			t.Logf("closes %d bans %d verified %d failed %d rejects %d/%d", st.Closes, st.Bans, st.PiecesVerified, st.PiecesFailed, st.RejectsSent, st.RejectsReceived)
		})
	}
}
