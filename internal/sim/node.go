package sim

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/protocol"
)

// role of a node.
type role uint8

const (
	roleOrigin role = iota
	roleSeeder
	roleViewer
)

// Node ids: the origin and the seeder come first, viewers follow in join order. Ids are
// never reused, so a node's PeerHandle for another is that node's id + 1.
const (
	originID = 0
	seederID = 1
)

// node is one simulated host: a real engine core (none for the origin), its uplink and
// downlink, its connections and its queue of events. Only the worker that owns the node's
// partition touches it during a window; messages to other nodes go through out.
type node struct {
	id   int32
	role role
	sw   *livetorrent.Swarm

	q    eventHeap
	sseq uint64 // emission number of events and messages this node queued or sent
	wake vtime  // the core's timer (never: none)
	cal  int64  // calendar window it is listed in (-1: none)

	upNs, downNs     float64 // nanoseconds per byte of the uplink and the downlink (0: unlimited)
	upCap            float64 // uplink, bytes/s
	upFree, downFree vtime
	access           vtime   // half of a link's latency comes from each end
	loss             float64 // packet loss of the access link
	links            []link  // by slot: the core's PeerHandle is slot + 1
	free             []int32 // slots to reuse
	nlinks           int
	gens             uint32
	rng              *rand.Rand

	part *part // the partition it belongs to, which collects the messages it sends

	cut, gone   bool
	joinAt      vtime
	leaveAt     vtime
	handled     int64         // events given to the core
	final       figures       // at departure
	originBytes int64         // origin node: bytes served for fallback fetches
	srv         *originServer // origin node: its queue of range requests
	cancelled   int64         // origin node: requests cancelled before their turn
}

// figures are what the report takes from a viewer's core: its counters and where it plays.
type figures struct {
	stats          livetorrent.Stats
	buffer, behind time.Duration // Swarm.Playback
}

func figuresOf(sw *livetorrent.Swarm) figures {
	f := figures{stats: sw.Stats()}
	f.buffer, f.behind, _ = sw.Playback()
	return f
}

// link is one end of a connection: what the sender needs to time its messages. A slot is
// reused once the core has forgotten the peer; its generation tells events for the old
// connection from the new one.
type link struct {
	peer   int32   // the other node
	rslot  int32   // its slot for us
	gen    uint32  // ours (0: the slot is free)
	rgen   uint32  // its
	lat    vtime   // one-way latency
	loss   float64 // packet loss on the path
	rateNs float64 // the TCP throughput loss allows, ns per byte (0: no bound)
	busy   vtime   // when the loss-bound connection has sent what it was given
	last   vtime   // arrival of the last message sent on it: TCP delivers in order
}

// Wire sizes: BEP 3 length prefix and message id, plus the extended message id.
const (
	ctlWireLen = 5
	msgWireExt = 6
	mss        = 1460
)

// originUnreachable is how long a viewer whose route to the origin is cut waits before its
// request fails (a connect timeout).
const originUnreachable = 2e9

var errRouteCut = errors.New("route to the origin is cut")

// push queues an event of the node's own (a timer of the simulator's, or an event the
// simulator queues between windows).
func (n *node) push(e event) {
	n.sseq++
	e.from, e.seq = n.id, n.sseq
	n.q.push(e)
}

func (n *node) nextTime() vtime { return min(n.q.next(), n.wake) }

// run processes the node's events before end, in order: its queue merged with in, the
// messages it receives in this window (sorted by event.before), and its timer (after
// queued events at the same instant).
func (s *Sim) run(n *node, in []event, end vtime) {
	for !n.gone {
		fromIn := len(in) > 0 && (len(n.q) == 0 || in[0].before(&n.q[0]))
		t, tick := n.q.next(), false
		if fromIn {
			t = in[0].at
		}
		if n.wake < t {
			t, tick = n.wake, true
		}
		if t >= end {
			return
		}
		if tick {
			n.wake = never
			s.handle(n, t, livetorrent.Tick{})
			continue
		}
		var e event
		if fromIn {
			e, in = in[0], in[1:]
		} else {
			e = n.q.pop()
		}
		if e.size > 0 && n.downNs > 0 {
			// The downlink delivers in arrival order at its rate: a message that arrives
			// while it is busy waits (its last byte arrives once the downlink has carried
			// it; the uplink's transmission time was counted by the sender).
			done := max(e.at, n.downFree+vtime(float64(e.size)*n.downNs))
			n.downFree = done
			if done > e.at {
				e.at, e.size = done, 0
				n.q.push(e)
				continue
			}
		}
		s.dispatch(n, &e)
	}
}

// link returns the live link in slot with generation gen, or nil.
func (n *node) link(slot int32, gen uint32) *link {
	if slot >= 0 && int(slot) < len(n.links) && gen != 0 && n.links[slot].gen == gen {
		return &n.links[slot]
	}
	return nil
}

// openLink puts l in a free slot and returns the slot.
func (n *node) openLink(l link) int32 {
	n.gens++
	l.gen = n.gens
	n.nlinks++
	if k := len(n.free); k > 0 {
		slot := n.free[k-1]
		n.free = n.free[:k-1]
		n.links[slot] = l
		return slot
	}
	n.links = append(n.links, l)
	return int32(len(n.links) - 1)
}

func (n *node) closeLink(slot int32) {
	n.links[slot] = link{}
	n.free = append(n.free, slot)
	n.nlinks--
}

// linkTo returns the slot of n's link to node peer, or -1.
func (n *node) linkTo(peer int32) int32 {
	for i := range n.links {
		if n.links[i].gen != 0 && n.links[i].peer == peer {
			return int32(i)
		}
	}
	return -1
}

func (s *Sim) dispatch(n *node, e *event) {
	h := livetorrent.PeerHandle(e.slot + 1)
	switch e.kind {
	case evMsg:
		if n.link(e.slot, e.gen) != nil {
			n.handled++
			s.carryOut(n, e.at, n.sw.HandleReceived(s.wall(e.at), h, e.msg))
		}
	case evCtl:
		if n.link(e.slot, e.gen) != nil {
			s.handle(n, e.at, livetorrent.ControlReceived{Peer: h, Kind: e.ctl})
		}
	case evWritten:
		if n.link(e.slot, e.gen) != nil {
			n.handled++
			s.carryOut(n, e.at, n.sw.HandleWritten(s.wall(e.at), h, int(e.n)))
		}
	case evUp:
		if n.link(e.slot, e.gen) != nil {
			s.handle(n, e.at, livetorrent.PeerUp{Peer: h, Ext: *e.ext, Outbound: e.dial, Seeder: e.seed})
		}
	case evDown:
		if n.link(e.slot, e.gen) != nil {
			n.closeLink(e.slot)
			s.handle(n, e.at, livetorrent.PeerDown{Peer: h})
		}
	case evOriginData:
		od := livetorrent.OriginData{Piece: e.piece, Data: s.zeros[:e.n]}
		if e.fail {
			od = livetorrent.OriginData{Piece: e.piece, Err: errRouteCut}
		}
		s.handle(n, e.at, od)
	case evFetch:
		s.onFetch(n, e)
	case evFetchCancel:
		s.onFetchCancel(n, e)
	case evServed:
		s.onServed(n, e.at)
	case evPublish:
		s.publish(n, e.at)
	}
}

// handle gives the core one event and carries out its actions.
func (s *Sim) handle(n *node, now vtime, ev livetorrent.Event) {
	n.handled++
	s.carryOut(n, now, n.sw.Handle(s.wall(now), ev))
}

// carryOut executes a core's actions in order.
func (s *Sim) carryOut(n *node, now vtime, acts []livetorrent.Action) {
	for i := range acts {
		s.execute(n, now, &acts[i])
	}
}

func (s *Sim) execute(n *node, now vtime, a *livetorrent.Action) {
	slot := int32(a.Peer) - 1
	var l *link
	if slot >= 0 && int(slot) < len(n.links) && n.links[slot].gen != 0 {
		l = &n.links[slot]
	}
	switch a.Kind {
	case livetorrent.ActSend:
		if l == nil {
			return
		}
		size := msgWireExt + a.Msg.Len()
		sent, arr := n.transmit(now, l, size)
		n.emit(event{at: arr, kind: evMsg, from: n.id, to: l.peer, slot: l.rslot, gen: l.rgen, size: int32(size), msg: a.Msg})
		if d, ok := a.Msg.(protocol.Data); ok {
			n.push(event{at: sent, kind: evWritten, slot: slot, gen: l.gen, n: int64(len(d.Block))})
		}
	case livetorrent.ActControl:
		if l == nil {
			return
		}
		_, arr := n.transmit(now, l, ctlWireLen)
		n.emit(event{at: arr, kind: evCtl, from: n.id, to: l.peer, slot: l.rslot, gen: l.rgen, size: ctlWireLen, ctl: a.Control})
	case livetorrent.ActClose:
		if l != nil {
			n.emit(event{at: max(now+l.lat, l.last), kind: evDown, from: n.id, to: l.peer, slot: l.rslot, gen: l.rgen})
			n.closeLink(slot)
		}
	case livetorrent.ActWakeAt:
		n.wake = max(s.virtual(a.At), now)
	case livetorrent.ActFetchOrigin:
		f := a.Fetch
		if n.cut || s.sc.NoOrigin {
			n.push(event{at: now + originUnreachable, kind: evOriginData, piece: f.Piece, fail: true})
			return
		}
		n.emit(event{at: now + vtime(s.sc.OriginLat), kind: evFetch, from: n.id, to: originID, piece: f.Piece, n: int64(f.Length)})
	case livetorrent.ActCancelOrigin:
		if !n.cut && !s.sc.NoOrigin {
			n.emit(event{at: now + vtime(s.sc.OriginLat), kind: evFetchCancel, from: n.id, to: originID, piece: a.Fetch.Piece})
		}
	}
}

// transmit times a message of size bytes on link l: it leaves when the uplink has sent
// everything queued before it (and, on a lossy path, when TCP's loss-bound rate allows),
// and arrives a latency later, one round trip more if a packet of it was lost (a fast
// retransmit), never before an earlier message on the same connection.
func (n *node) transmit(now vtime, l *link, size int) (sent, arrival vtime) {
	sent = max(now, n.upFree) + vtime(float64(size)*n.upNs)
	n.upFree = sent
	if l.rateNs > 0 {
		l.busy = max(now, l.busy) + vtime(float64(size)*l.rateNs)
		sent = max(sent, l.busy)
	}
	arrival = sent + l.lat
	if l.loss > 0 {
		packets := float64((size + mss - 1) / mss)
		if n.rng.Float64() < 1-math.Pow(1-l.loss, packets) {
			arrival += 2 * l.lat
		}
	}
	arrival = max(arrival, l.last)
	l.last = arrival
	return sent, arrival
}

// emit queues a message for another node; it is merged into the receiver's queue at the
// end of the window.
func (n *node) emit(e event) {
	n.sseq++
	e.seq = n.sseq
	w := int(e.to) % len(n.part.out)
	n.part.out[w] = append(n.part.out[w], e)
}
