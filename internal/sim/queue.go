package sim

import (
	"math"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/protocol"
)

// vtime is virtual time in nanoseconds since the start of the run.
type vtime int64

const never = vtime(math.MaxInt64)

// evKind says what an event carries.
type evKind uint8

const (
	evMsg         evKind = iota + 1 // a live message from peer from: livetorrent.Received
	evCtl                           // a choke/unchoke/interested/not-interested: ControlReceived
	evWritten                       // our DATA to from left the uplink: Written
	evUp                            // the connection to from is up: PeerUp
	evDown                          // the connection to from ended: PeerDown
	evFetch                         // origin: a range request of n bytes from viewer from
	evFetchCancel                   // origin: viewer from no longer wants its fetch of piece
	evServed                        // origin: the request being served has been sent
	evOriginData                    // viewer: the origin's answer (fail: unreachable)
	evPublish                       // seeder: publish the next segment
)

// event is one entry of a node's queue, and, in transit, a message between nodes. seq is
// the emission number of from (the sender, or the node itself for its own events). Events
// are values: queues never hold pointers to them, so an event costs no allocation of its
// own.
type event struct {
	at    vtime
	seq   uint64
	kind  evKind
	ctl   livetorrent.Control
	fail  bool
	seed  bool   // evUp: the remote is the seeder
	dial  bool   // evUp: we opened the connection
	from  int32  // the sending node
	to    int32  // in transit: the receiving node
	slot  int32  // the receiver's link (its PeerHandle - 1)
	gen   uint32 // ... and that link's generation: stale events are dropped
	size  int32  // bytes on the wire, for the receiver's downlink (0: through it already)
	n     int64
	piece uint64
	msg   protocol.Message
	ext   *protocol.ExtHandshake
}

// before orders events by time, then sender, then the sender's emission number: a total
// order that does not depend on when or by which worker an event was queued.
func (a *event) before(b *event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.from != b.from {
		return a.from < b.from
	}
	return a.seq < b.seq
}

// eventHeap is a binary min-heap by event.before.
type eventHeap []event

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	q := *h
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q[i].before(&q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = event{} // drop references for the collector
	q = q[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q[r].before(&q[l]) {
			m = r
		}
		if !q[m].before(&q[i]) {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}

func (h eventHeap) next() vtime {
	if len(h) == 0 {
		return never
	}
	return h[0].at
}

// calendar lists, per time window, the nodes of one partition that have something to do
// in it: a ring of buckets, one per window, and a list for what lies beyond the ring. A
// node is listed in the window of its earliest event (node.cal); entries left behind when
// that moved earlier are skipped when their bucket comes up.
type calendar struct {
	windowRing[int32]
}

const ringSize = 1 << 9

func newCalendar(width vtime) calendar {
	return calendar{newWindowRing[int32](width, ringSize)}
}

// add lists n for the window holding t, unless it is listed for that window or an earlier
// one already.
func (c *calendar) add(n *node, t vtime) {
	if t == never {
		return
	}
	k := c.window(t)
	if n.cal >= 0 && n.cal <= k {
		return
	}
	n.cal = k
	c.file(k, n.id)
}

// take appends the nodes listed for window k (stale entries included) to dst and moves
// far entries that came within reach into the ring.
func (c *calendar) take(k int64, nodes []*node, dst []int32) []int32 {
	b := c.advance(k, func(id int32) (int64, bool) {
		n := nodes[id]
		return n.cal, n.cal >= 0 && !n.gone
	})
	dst = append(dst, *b...)
	*b = (*b)[:0]
	return dst
}
