package livetorrent

import (
	"container/heap"
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// The in-test network: every node is a real Swarm core; messages travel over links with a
// latency, and each node's uplink sends one message at a time at its bandwidth. Time is
// virtual and events at the same instant run in the order they were scheduled, so a run is
// fully deterministic.

var simEpoch = prototest.Epoch.Add(time.Hour)

type simNode struct {
	id        int
	sw        *Swarm
	upRate    float64 // bytes per second
	upBusy    time.Time
	wake      time.Time
	links     map[int]bool
	delivered []Delivery
	skipped   []Delivery
	closes    []Action
	fetches   int
}

type simItem struct {
	at   time.Time
	seq  uint64
	node int
	ev   Event
	fn   func()
}

type simQueue []*simItem

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simItem)) }
func (q *simQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

type sim struct {
	t       testing.TB
	now     time.Time
	q       simQueue
	seq     uint64
	nodes   []*simNode
	latency time.Duration
	events  int

	// The publisher's stream.
	desc      protocol.Descriptor
	key       ed25519.PrivateKey
	nextPiece uint64
	nextSeq   uint64
	segSize   int
	published map[uint64][]byte // media seq -> bytes
	pieces    map[uint64][]byte // piece -> bytes, for the origin
	pubAt     map[uint64]time.Time
	seen      map[[2]uint64]bool // (node, piece) announced
	spread    []time.Duration    // publish to a viewer's HAVE, per (viewer, piece)
	origin    bool               // answer FetchOrigin
	trace     func(*simNode, Action)
}

func newSim(t testing.TB, segSize int) *sim {
	return &sim{t: t, now: simEpoch, latency: 20 * time.Millisecond, desc: prototest.Descriptor(),
		key: prototest.PublisherKey(), nextPiece: 1000, nextSeq: 100, segSize: segSize,
		published: map[uint64][]byte{}, pieces: map[uint64][]byte{}, pubAt: map[uint64]time.Time{},
		seen: map[[2]uint64]bool{}}
}

func (s *sim) schedule(at time.Time, node int, ev Event, fn func()) {
	s.seq++
	heap.Push(&s.q, &simItem{at: at, seq: s.seq, node: node, ev: ev, fn: fn})
}

func (s *sim) addNode(cfg Config, upRate float64) *simNode {
	cfg.Stream = s.desc.Stream
	sw, err := New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	n := &simNode{id: len(s.nodes), sw: sw, upRate: upRate, links: map[int]bool{}}
	s.nodes = append(s.nodes, n)
	return n
}

// connect opens a connection between a and b now; each sees the other as handle id+1.
func (s *sim) connect(a, b *simNode) {
	a.links[b.id], b.links[a.id] = true, true
	ea, eb := a.sw.LocalExtHandshake(), b.sw.LocalExtHandshake()
	s.schedule(s.now.Add(s.latency), a.id, PeerUp{Peer: PeerHandle(b.id + 1), Ext: eb, Outbound: true}, nil)
	s.schedule(s.now.Add(s.latency), b.id, PeerUp{Peer: PeerHandle(a.id + 1), Ext: ea}, nil)
}

func (s *sim) handle(n *simNode, ev Event) {
	s.events++
	for _, a := range n.sw.Handle(s.now, ev) {
		s.execute(n, a)
	}
	if _, bench := s.t.(*testing.B); bench || s.events%61 != 0 {
		return // a sample keeps the large scenarios fast; benchmarks measure the core alone
	}
	if err := n.sw.checkMirrors(); err != nil {
		panic(fmt.Sprintf("node %d after %T: %v", n.id, ev, err))
	}
}

func (s *sim) execute(n *simNode, a Action) {
	if s.trace != nil {
		s.trace(n, a)
	}
	to := int(a.Peer) - 1
	switch a.Kind {
	case ActSend, ActControl:
		if !n.links[to] {
			return
		}
		size := 6
		var ev Event = ControlReceived{Peer: PeerHandle(n.id + 1), Kind: a.Control}
		if a.Kind == ActSend {
			size += a.Msg.Len()
			ev = Received{Peer: PeerHandle(n.id + 1), Msg: a.Msg}
		}
		start := n.upBusy
		if start.Before(s.now) {
			start = s.now
		}
		done := start.Add(time.Duration(float64(size) / n.upRate * float64(time.Second)))
		n.upBusy = done
		s.schedule(done.Add(s.latency), to, ev, nil)
		if d, ok := a.Msg.(protocol.Data); ok {
			s.schedule(done, n.id, Written{Peer: a.Peer, Bytes: len(d.Block)}, nil)
		}
		if h, ok := a.Msg.(protocol.Have); ok && n.sw.cfg.Role == RoleViewer {
			for p := h.First; p < h.End(); p++ {
				if at, ok := s.pubAt[p]; ok && !s.seen[[2]uint64{uint64(n.id), p}] {
					s.seen[[2]uint64{uint64(n.id), p}] = true
					s.spread = append(s.spread, s.now.Sub(at))
				}
			}
		}
	case ActClose:
		n.closes = append(n.closes, a)
		if n.links[to] {
			delete(n.links, to)
			delete(s.nodes[to].links, n.id)
			s.schedule(s.now.Add(s.latency), to, PeerDown{Peer: PeerHandle(n.id + 1), Err: a.Err}, nil)
		}
	case ActDeliver:
		n.delivered = append(n.delivered, *a.Delivery)
	case ActSkip:
		n.skipped = append(n.skipped, *a.Delivery)
	case ActWakeAt:
		n.wake = a.At
		s.schedule(a.At, n.id, Tick{}, nil)
	case ActFetchOrigin:
		n.fetches++
		if s.origin {
			f := a.Fetch
			s.schedule(s.now.Add(100*time.Millisecond), n.id, OriginData{Piece: f.Piece, Data: s.pieces[f.Piece]}, nil)
		}
	}
}

// run processes events until the virtual clock passes until.
func (s *sim) run(until time.Time) {
	for s.q.Len() > 0 {
		it := s.q[0]
		if it.at.After(until) {
			break
		}
		heap.Pop(&s.q)
		s.now = it.at
		if it.fn != nil {
			it.fn()
			continue
		}
		n := s.nodes[it.node]
		if _, ok := it.ev.(Tick); ok && !it.at.Equal(n.wake) {
			continue // superseded timer
		}
		s.handle(n, it.ev)
	}
	s.now = until
}

// publish makes the publisher node publish the next segment now.
func (s *sim) publish(pub *simNode) {
	seq := s.nextSeq
	s.nextSeq++
	data := prototest.SegmentData(fmt.Sprint("segment ", seq), s.segSize)
	r := protocol.Record{InfoHash: s.desc.Stream.InfoHash(), MediaSeq: seq, Duration: 2 * time.Second,
		Published: s.now.Truncate(time.Millisecond), InitPiece: protocol.NoPiece, FirstPiece: s.nextPiece,
		Length: uint64(len(data)), URI: fmt.Sprintf("seg%d.ts", seq), Hashes: protocol.HashPieces(data, s.desc.PieceSize)}
	if err := r.Sign(&s.desc, s.key); err != nil {
		s.t.Fatal(err)
	}
	for i := range r.Hashes {
		p := r.FirstPiece + uint64(i)
		off := r.PieceOffset(p, s.desc.PieceSize)
		s.pieces[p] = data[off : off+uint64(r.PieceLen(p, s.desc.PieceSize))]
		s.pubAt[p] = s.now
	}
	s.nextPiece += uint64(len(r.Hashes)) + 3 // gaps in the piece space are allowed
	s.published[seq] = data
	ev := Publish{Record: &r, Data: data}
	if seq == 100 {
		ev.Descriptor = &s.desc
	}
	s.handle(pub, ev)
	if err := pub.sw.PublishError(); err != nil {
		s.t.Fatal(err)
	}
}

// publishEvery schedules publications every interval from now until until.
func (s *sim) publishEvery(pub *simNode, every time.Duration, until time.Time) {
	for at := s.now; !at.After(until); at = at.Add(every) {
		s.schedule(at, -1, nil, func() { s.publish(pub) })
	}
}

// checkDeliveries verifies that n delivered every published segment from its first
// delivery on, in order, byte-identical, without skips, up to at least lastSeq.
func (s *sim) checkDeliveries(n *simNode, lastSeq uint64) {
	s.t.Helper()
	if len(n.skipped) > 0 {
		s.t.Errorf("node %d skipped %d segments, first %d: %s", n.id, len(n.skipped), n.skipped[0].MediaSeq, n.skipped[0].Reason)
	}
	if len(n.delivered) == 0 {
		s.t.Errorf("node %d delivered nothing", n.id)
		return
	}
	first := n.delivered[0].MediaSeq
	for k, d := range n.delivered {
		if d.MediaSeq != first+uint64(k) {
			s.t.Errorf("node %d delivery %d is seq %d, want %d", n.id, k, d.MediaSeq, first+uint64(k))
			return
		}
		if string(d.Data) != string(s.published[d.MediaSeq]) {
			s.t.Errorf("node %d seq %d: delivered bytes differ from the published ones", n.id, d.MediaSeq)
		}
	}
	if last := n.delivered[len(n.delivered)-1].MediaSeq; last < lastSeq {
		s.t.Errorf("node %d delivered up to %d, want at least %d", n.id, last, lastSeq)
	}
}

// spreadPercentile returns the q-quantile of publish-to-viewer times.
func (s *sim) spreadPercentile(q float64) time.Duration {
	if len(s.spread) == 0 {
		return 0
	}
	v := slices.Clone(s.spread)
	slices.Sort(v)
	return v[min(len(v)-1, int(q*float64(len(v))))]
}
