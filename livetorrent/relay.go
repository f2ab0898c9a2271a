package livetorrent

import (
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// Relay policy: which queued request is served next. See NOTES.md, "Upload and choking".

// maxServeWait bounds how long a queued request can be passed over for fresher pieces.
const maxServeWait = time.Second

// servesBefore reports whether p's oldest queued request should be served before q's.
// Requests that waited maxServeWait go first, oldest first; otherwise the piece fewer of
// our peers hold goes first (a fresh piece reaches a new holder, who relays it, before
// common pieces get another copy), then the requester that can relay more (upload hint,
// else its measured upload to us), then arrival order.
func (s *Swarm) servesBefore(p, q *waiter) bool {
	a, b := &p.front, &q.front
	old := s.now.Add(-maxServeWait)
	if ao, bo := a.at.Before(old), b.at.Before(old); ao || bo {
		if ao != bo {
			return ao
		}
		return a.seq < b.seq
	}
	if x, y := s.availOf(a.ref.Piece), s.availOf(b.ref.Piece); x != y {
		return x < y
	}
	if x, y := p.score, q.score; x != y {
		return x > y
	}
	return a.seq < b.seq
}

// availOf is how many connected peers announced the piece.
func (s *Swarm) availOf(piece uint64) int32 {
	if g := s.st.find(piece); g != nil {
		return g.avail(g.index(piece), s.holdWords)
	}
	return 0
}

// relayScore estimates how much a peer can upload to others: its advertised upload
// capacity, or what it uploaded to us when it advertised none.
func relayScore(p *peer) float64 {
	if p.ext.UploadHint > 0 {
		return float64(p.ext.UploadHint)
	}
	return p.recvRate
}

// Announcements and records. A viewer announces a verified run of pieces to every peer that
// does not hold all of it already (the seeder always: it counts holders by HAVEs), and a
// peer must hold the record of a piece before a HAVE for it. Records therefore travel with
// the first HAVE to each peer; the peers that got none within a target duration get the
// record then (relaySweep). Flooding every record to every peer at once cost a viewer of a
// low-bitrate stream more upload than the HAVEs and a fifth of the stream's bitrate.

type relayState struct {
	sweptTo uint64 // records of segments below this piece have been relayed to every peer
}

// announceRun sends HAVE [first, end) to the peers that lack some of it, each preceded by
// the records it is not known to hold. One boxed message is shared by all peers.
func (s *Swarm) announceRun(first, end uint64) {
	var m protocol.Message = protocol.Have{First: first, Count: uint32(end - first)}
	leaf := s.leaf()
	var g *segment // for one piece (the usual run), held answers instead of the range sets
	if end-first == 1 {
		g = s.st.find(first)
	}
	for _, p := range s.peers {
		if !p.seeder && (leaf || g != nil && g.holds(g.index(first), p.slot, s.holdWords) ||
			g == nil && p.have.containsAll(first, end)) {
			continue
		}
		s.sendRecords(p, first, end)
		s.out = append(s.out, Action{Kind: ActSend, Peer: p.h, Msg: m})
	}
}

// announceWindow sends our advanced window to every peer; a leaf, which announced no
// pieces to the others, only to the seeder.
func (s *Swarm) announceWindow(w protocol.Window) {
	if !s.leaf() {
		s.broadcast(w)
		return
	}
	for _, p := range s.peers {
		if p.seeder {
			s.send(p, w)
		}
	}
}

// recordAccepted relays a newly accepted record: at once if it is older than those
// already swept (a late arrival), otherwise with HAVEs and the sweep.
func (s *Swarm) recordAccepted(g *segment) {
	if g.rec.FirstPiece < s.rel.sweptTo && !s.leaf() {
		s.relayRecord(g)
	}
}

// relaySweep sends the records that arrived at least a target duration ago to the peers
// not known to hold them.
func (s *Swarm) relaySweep() {
	if s.leaf() {
		return
	}
	segs := s.st.segs
	for k := s.st.search(s.rel.sweptTo); k < len(segs); k++ {
		g := segs[k]
		if s.now.Sub(g.arrival) < s.times.target {
			break
		}
		s.relayRecord(g)
		s.rel.sweptTo = g.rec.EndPiece()
	}
}

// sendRecord sends p the record of g unless p is known to hold it.
func (s *Swarm) sendRecord(p *peer, g *segment) {
	if !g.knownBy.has(p.slot) {
		s.send(p, protocol.RecordMsg{Raw: g.raw})
		g.knownBy.set(p.slot)
	}
}

// sendRecords sends p the records covering pieces [a, b) that it is not known to hold.
func (s *Swarm) sendRecords(p *peer, a, b uint64) {
	segs := s.st.segs
	for k := s.st.search(a); k < len(segs) && segs[k].rec.FirstPiece < b; k++ {
		s.sendRecord(p, segs[k])
	}
}

// heardHave notes that p, which announced pieces [a, b), holds their records.
func (s *Swarm) heardHave(p *peer, a, b uint64) {
	segs := s.st.segs
	for k := s.st.search(a); k < len(segs) && segs[k].rec.FirstPiece < b; k++ {
		segs[k].knownBy.set(p.slot)
	}
}

// containsAll reports whether every piece of [first, end) is in the set.
func (r *rangeSet) containsAll(first, end uint64) bool {
	i := r.search(first)
	return i < len(r.spans) && r.spans[i].first <= first && r.spans[i].end >= end
}

// leafShare: a viewer that advertises an upload capacity below this share of the stream's
// bitrate is a leaf.
const leafShare = 0.2

// leaf reports whether we are a viewer whose advertised upload capacity (UploadHint) is
// far below the stream's bitrate. Its uplink could not carry what relaying costs (records
// for every new peer, HAVEs to every peer) and would delay its own requests by seconds, so
// a leaf announces pieces only to the seeder, relays no records and is fed last by
// relaying peers (servesBefore), which see its low hint.
func (s *Swarm) leaf() bool {
	if s.cfg.Role != RoleViewer || s.cfg.UploadHint == 0 {
		return false
	}
	return float64(s.cfg.UploadHint) < leafShare*s.streamRate()
}

// streamRate is the bitrate of the newest media segment we know, in bytes/s (0 if none).
func (s *Swarm) streamRate() float64 {
	for k := len(s.st.segs) - 1; k >= 0; k-- {
		if r := &s.st.segs[k].rec; r.Duration > 0 {
			return float64(r.Length) / r.Duration.Seconds()
		}
	}
	return 0
}

// relayBusy reports whether a viewer should decline p's request for a fresh piece (its
// record arrived within a target duration): the requests it queued would keep its uplink
// busy for more than maxRelayQueue, and another peer's request for the same piece is
// already queued. That copy makes a new holder soon; p gets the piece
// from another holder instead of waiting behind the queue (REJECT(unspecified) tells it to
// try another peer).
func (s *Swarm) relayBusy(p *peer, piece uint64) bool {
	if g := s.st.find(piece); g == nil || s.now.Sub(g.arrival) > s.times.target {
		return false // not fresh: the requester may need it soon, and it has many holders
	}
	queued, same := s.upl.inflight, false
	for _, w := range s.upl.waiting {
		queued += w.queued * protocol.BlockSize
		if w.p != p && !same {
			same = w.p.queue.has(piece)
		}
	}
	return same && queued >= max(s.uploadBudget(), int(s.upl.rate*maxRelayQueue.Seconds()))
}

// maxRelayQueue is how long a viewer's queued requests may keep its uplink busy before it
// declines further copies of a piece it is already sending to another peer. Half a second
// refused about a quarter of all requests once spare unchoke slots brought more requesters
// to each fresh piece: each refusal costs the requester a round trip, and the simulated
// swarms took more from the origin than with the longer queue (livetorrent/NOTES.md).
const maxRelayQueue = 2 * time.Second

// has reports whether a request for piece is queued.
func (q *fifo) has(piece uint64) bool {
	for i := q.head; i < len(q.buf); i++ {
		if q.buf[i].ref.Piece == piece {
			return true
		}
	}
	return false
}
