package livetorrent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// harness drives one core directly: the test plays every peer and the clock.
type harness struct {
	t       testing.TB
	sw      *Swarm
	now     time.Time
	desc    protocol.Descriptor
	descRaw []byte
	last    []Action // actions of the last call, WakeAt excluded
}

type testSeg struct {
	rec  protocol.Record
	raw  []byte
	data []byte
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	cfg.Stream = prototest.Stream()
	sw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := prototest.Descriptor()
	return &harness{t: t, sw: sw, now: simEpoch, desc: d, descRaw: d.Append(nil)}
}

func (h *harness) do(ev Event) []Action {
	h.last = h.last[:0]
	for _, a := range h.sw.Handle(h.now, ev) {
		if a.Kind != ActWakeAt {
			h.last = append(h.last, a)
		}
	}
	if err := h.sw.checkMirrors(); err != nil {
		h.t.Fatalf("after %T: %v", ev, err)
	}
	return h.last
}

// up connects peer p, which holds the descriptor and nothing else.
func (h *harness) up(p PeerHandle) []Action {
	return h.do(PeerUp{Peer: p, Addr: fmt.Sprintf("10.0.0.%d:6881", p),
		Ext: protocol.ExtHandshake{LiveID: 1, Version: 1, Reqq: 256, DescriptorSeq: 1}})
}

func (h *harness) recv(p PeerHandle, m protocol.Message) []Action {
	return h.do(Received{Peer: p, Msg: m})
}

func (h *harness) ctl(p PeerHandle, c Control) []Action {
	return h.do(ControlReceived{Peer: p, Kind: c})
}

// advance moves the clock by d and delivers a tick.
func (h *harness) advance(d time.Duration) []Action {
	h.now = h.now.Add(d)
	return h.do(Tick{})
}

// segment returns a signed record of size bytes for media sequence seq at first piece,
// published now.
func (h *harness) segment(seq, first uint64, size int) testSeg {
	return h.makeSeg(seq, first, size, 0, protocol.NoPiece)
}

// makeSeg signs a record with the given flags and init piece (FlagInit makes an init
// segment: no duration).
func (h *harness) makeSeg(seq, first uint64, size int, flags uint8, initPiece uint64) testSeg {
	data := prototest.SegmentData(fmt.Sprint("segment ", seq, " ", first), size)
	r := protocol.Record{InfoHash: h.desc.Stream.InfoHash(), MediaSeq: seq, Duration: 2 * time.Second,
		Published: h.now.Truncate(time.Millisecond), InitPiece: initPiece, FirstPiece: first, Flags: flags,
		Length: uint64(size), URI: fmt.Sprintf("seg%d.ts", seq), Hashes: protocol.HashPieces(data, h.desc.PieceSize)}
	if flags&protocol.FlagInit != 0 {
		r.Duration, r.URI = 0, "init.mp4"
	}
	if err := r.Sign(&h.desc, prototest.PublisherKey()); err != nil {
		h.t.Fatal(err)
	}
	return testSeg{rec: r, raw: r.Append(nil), data: data}
}

// publish has a publisher's core publish seg, with the descriptor when withDesc.
func (h *harness) publish(seg testSeg, withDesc bool) {
	h.t.Helper()
	ev := Publish{Record: &seg.rec, Data: seg.data}
	if withDesc {
		ev.Descriptor = &h.desc
	}
	h.do(ev)
	if err := h.sw.PublishError(); err != nil {
		h.t.Fatal(err)
	}
}

// block returns the DATA message for a block of seg.
func (seg testSeg) block(piece uint64, off uint32) protocol.Data {
	start := seg.rec.PieceOffset(piece, 32768) + uint64(off)
	n := seg.rec.BlockLen(piece, off, 32768)
	return protocol.Data{Piece: piece, Offset: off, Block: seg.data[start : start+uint64(n)]}
}

// ownAll marks every piece of seg verified, as if downloaded.
func (h *harness) ownAll(seg testSeg) {
	g := h.sw.st.find(seg.rec.FirstPiece)
	if g == nil {
		h.t.Fatalf("segment %d not stored", seg.rec.MediaSeq)
	}
	h.sw.st.ensureData(g)
	copy(g.data, seg.data)
	for i := range g.verified {
		if !g.verified[i] {
			g.verified[i] = true
			g.nVerified++
		}
	}
	g.wanted = false
	h.sw.pick.dirty = true
}

// sent returns the actions of the last call as strings.
func (h *harness) sent() []string {
	var out []string
	for _, a := range h.last {
		out = append(out, a.String())
	}
	return out
}

func (h *harness) expectSent(p PeerHandle, want string) {
	h.t.Helper()
	for _, a := range h.last {
		if a.Peer == p && a.String() == want {
			return
		}
	}
	h.t.Fatalf("want %q among:\n%s", want, strings.Join(h.sent(), "\n"))
}

func (h *harness) expectReject(p PeerHandle, why protocol.RejectReason) {
	h.t.Helper()
	for _, a := range h.last {
		if r, ok := a.Msg.(protocol.Reject); ok && a.Peer == p && r.Reason == why {
			return
		}
	}
	h.t.Fatalf("want REJECT(%s) to %d among:\n%s", why, p, strings.Join(h.sent(), "\n"))
}

// requests returns the REQUESTs of the last call by peer.
func (h *harness) requests() map[PeerHandle][]protocol.BlockRef {
	out := map[PeerHandle][]protocol.BlockRef{}
	for _, a := range h.last {
		if r, ok := a.Msg.(protocol.Request); ok {
			out[a.Peer] = append(out[a.Peer], r.BlockRef)
		}
	}
	return out
}

func (h *harness) closed(p PeerHandle) (Action, bool) {
	for _, a := range h.last {
		if a.Kind == ActClose && a.Peer == p {
			return a, true
		}
	}
	return Action{}, false
}

// serve answers peer p's requests in the last actions, and the requests those answers
// trigger, from segs, until p is asked for nothing more. It returns every action seen.
func (h *harness) serve(p PeerHandle, segs ...testSeg) []Action {
	acts, _ := h.serveFrom(p, nil, segs...)
	return acts
}

// serveFrom is serve with requests sent to p earlier (queue) answered first. It also
// returns the requests for blocks outside segs, unanswered.
func (h *harness) serveFrom(p PeerHandle, queue []protocol.BlockRef, segs ...testSeg) (acts []Action, rest []protocol.BlockRef) {
	take := func() {
		acts = append(acts, h.last...)
		queue = append(queue, h.requests()[p]...)
	}
	take()
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		served := false
		for _, seg := range segs {
			if seg.rec.Contains(r.Piece) {
				h.recv(p, seg.block(r.Piece, r.Offset))
				take()
				served = true
			}
		}
		if !served {
			rest = append(rest, r)
		}
	}
	return acts, rest
}

func kinds(acts []Action, k ActionKind) []Action {
	var out []Action
	for _, a := range acts {
		if a.Kind == k {
			out = append(out, a)
		}
	}
	return out
}
