package livetorrent

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// pubPiece is the publisher's upload accounting for one piece.
type pubPiece struct {
	allowance int32        // peers that may download the piece from us
	copies    int32        // peers that were allowed to
	relays    int32        // of those, peers that are not leaves
	bytes     int64        // DATA bytes uploaded
	demand    int32        // requests refused since the last spread check
	holders   int32        // availability at the last spread check
	queued    bool         // in pubState.demanded
	checked   bool         // holders is a baseline from an earlier check
	to        []PeerHandle // peers we uploaded it to (at most maxPubTo tracked)
	told      []PeerHandle // peers we announced it to privately (pubAnnounceNew)
}

const maxPubTo = 8

type pubState struct {
	rr        int // rotation of new pieces over the target pool
	explore   int // rotation of the exploration slot over peers outside the pool
	demanded  []pieceRef
	lastCheck time.Time
	lastPrune time.Time
	publicEnd uint64 // pieces below this are announced to every peer
	rank      []*peer
	err       error
}

type pieceRef struct {
	g *segment
	i int
}

// PublishError returns the error of the last Publish event that was refused, or nil.
func (s *Swarm) PublishError() error { return s.pub.err }

func (s *Swarm) publishFailed(format string, args ...any) {
	s.pub.err = fmt.Errorf("livetorrent: publish: "+format, args...)
	s.stats.PublishErrors++
}

func (s *Swarm) onPublish(e Publish) {
	if s.cfg.Role != RolePublisher {
		s.publishFailed("not the publisher")
		return
	}
	if e.Descriptor != nil {
		if err := e.Descriptor.VerifyFor(s.cfg.Stream); err != nil {
			s.publishFailed("descriptor: %v", err)
			return
		}
		raw := e.DescriptorRaw
		if raw == nil {
			raw = e.Descriptor.Append(nil)
		}
		if s.desc == nil || e.Descriptor.Seq > s.desc.Seq {
			if !s.acceptDescriptor(e.Descriptor, raw) {
				s.publishFailed("descriptor seq %d refused", e.Descriptor.Seq)
				return
			}
		}
	}
	if e.Record == nil {
		return
	}
	if s.desc == nil {
		s.publishFailed("no descriptor yet")
		return
	}
	r := e.Record
	if err := r.Verify(s.desc); err != nil {
		s.publishFailed("record %d: %v", r.MediaSeq, err)
		return
	}
	if uint64(len(e.Data)) != r.Length {
		s.publishFailed("record %d: %d data bytes, record says %d", r.MediaSeq, len(e.Data), r.Length)
		return
	}
	for i := range r.Hashes {
		p := r.FirstPiece + uint64(i)
		off := r.PieceOffset(p, s.ps)
		if err := r.VerifyPiece(p, e.Data[off:off+uint64(r.PieceLen(p, s.ps))]); err != nil {
			s.publishFailed("record %d: %v", r.MediaSeq, err)
			return
		}
	}
	raw := e.RecordRaw
	if raw == nil {
		raw = r.Append(nil)
	} else if !bytes.Equal(raw, r.Append(nil)) {
		s.publishFailed("record %d: raw bytes differ from the record", r.MediaSeq)
		return
	}
	g := s.acceptRecord(r, raw, nil)
	if g == nil {
		s.publishFailed("record %d overlaps a published record", r.MediaSeq)
		return
	}
	g.data = e.Data
	s.st.bytes += int64(len(e.Data))
	g.pub = make([]pubPiece, len(r.Hashes))
	for i := range g.verified {
		g.verified[i] = true
		g.pub[i].allowance = int32(s.cfg.PublisherCopies)
	}
	g.nVerified = len(g.verified)
	s.stats.PiecesPublished += int64(len(g.verified))
	s.pub.err = nil
	// The record goes first to the peers the pieces are announced to (pubAnnounceNew); the
	// viewers relay it, and the others get it from us at the latest with the public HAVE,
	// so that our uplink carries the first copies of the pieces instead of 50 records.
	s.pubAnnounceNew(g)
	s.enforceWindowLimits()
}

// isLeaf reports whether p advertised an upload capacity below leafShare of rate.
func isLeaf(p *peer, rate float64) bool {
	return p.ext.UploadHint > 0 && float64(p.ext.UploadHint) < leafShare*rate
}

// pubRank orders peers by how well the pieces we gave them spread (credit from HAVEs of
// other peers), then advertised capacity, then slot.
func (s *Swarm) pubRank() []*peer {
	r := append(s.pub.rank[:0], s.peers...)
	rate := s.streamRate()
	slices.SortStableFunc(r, func(a, b *peer) int {
		if la, lb := isLeaf(a, rate), isLeaf(b, rate); la != lb {
			if la {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(b.spread, a.spread); c != 0 {
			return c
		}
		if c := cmp.Compare(b.ext.UploadHint, a.ext.UploadHint); c != 0 {
			return c
		}
		return cmp.Compare(a.slot, b.slot)
	})
	s.pub.rank = r
	return r
}

// pubAnnounceNew announces a new segment's pieces privately: the segment is cut into one
// chunk per pool member and each chunk is announced to PublisherCopies members, so the
// best re-uploaders start with different pieces and trade them (the super-seeding idea).
// The pool is the better half of the peers; one of its places rotates through the rest so
// that every peer can earn credit.
func (s *Swarm) pubAnnounceNew(g *segment) {
	ranked := s.pubRank()
	if len(ranked) == 0 {
		return
	}
	// Peers that advertise an uplink far below the stream's bitrate could not relay what
	// they are given: they are never fed first.
	rate := s.streamRate()
	relays := ranked
	for len(relays) > 1 && isLeaf(relays[len(relays)-1], rate) {
		relays = relays[:len(relays)-1]
	}
	k := min(s.cfg.PublisherCopies, len(relays))
	pool := relays[:max(k, (len(relays)+1)/2)]
	if rest := len(relays) - len(pool); rest > 0 {
		pool[len(pool)-1] = relays[len(pool)+s.pub.explore%rest]
		s.pub.explore++
	}
	m := len(pool)
	n := g.pieces()
	chunks := min(m, n)
	stride := m / k
	for c := 0; c < chunks; c++ {
		first := g.piece(c * n / chunks)
		end := g.piece((c + 1) * n / chunks)
		for j := 0; j < k; j++ {
			p := pool[(c+s.pub.rr+j*stride)%m]
			if p.publicTo <= first { // not covered by a public announcement already
				s.sendRecord(p, g)
				s.send(p, protocol.Have{First: first, Count: uint32(end - first)})
			}
			for piece := first; piece < end; piece++ {
				pp := &g.pub[g.index(piece)]
				pp.told = append(pp.told, p.h)
			}
		}
	}
	s.pub.rr += chunks
	for _, p := range ranked {
		p.spread *= 0.9 // credit fades: recent behaviour counts
	}
}

// pubAllow decides whether p may download piece i of g from us. Within the allowance every
// requester is served; beyond it the request is refused (the piece should come from the
// peers that have it) unless the same peer keeps asking, which means it cannot get it
// elsewhere. The first PublisherCopies copies are always granted; further ones only while
// our uplink is not backlogged (pubBacklogged).
func (s *Swarm) pubAllow(p *peer, g *segment, i int) bool {
	if g.pub == nil {
		return true // a record learnt from peers: nothing to ration
	}
	pp := &g.pub[i]
	if slices.Contains(pp.to, p.h) {
		return true
	}
	piece := g.piece(i)
	few := int32(2 * s.cfg.PublisherCopies)
	// A first copy is granted even when our uplink is backlogged, so that new pieces reach
	// the relaying peers at once; not to a leaf, which would relay nothing while it queues
	// ahead of them (a benchmark run in which one leaf got the whole stream this way kept the
	// seeder at 1.75x and the swarm just in time). A leaf's copies wait like extra ones.
	//
	// A leaf's copy does not use up the first copies: a leaf that asked before the relays
	// would otherwise hold the piece's only copy, and once a leaf and one more peer hold it
	// the piece no longer counts as scarce, so it is never widened either. In the
	// 10,000-viewer flash crowd four pieces of one segment went that way and thousands of
	// viewers fetched them from the origin.
	leaf := isLeaf(p, s.streamRate())
	// First copies go to the peers the piece was announced to, or to any relaying peer once
	// it is public (spec 15.2). Granted to whoever asked first, a peer polling the next
	// piece numbers took them all and relayed nothing, and, counted as a holder, kept the
	// piece from being widened: a simulated swarm fell back on the origin (22x the bitrate).
	eligible := slices.Contains(pp.told, p.h) || piece < s.publicEnd()
	first := pp.relays < int32(s.cfg.PublisherCopies) && !leaf && eligible
	// Within the allowance the same rule holds until the piece is widened: the allowance
	// starts at PublisherCopies, and a poller would otherwise take it as an extra copy.
	extra := pp.copies < pp.allowance && (eligible || pp.allowance > int32(s.cfg.PublisherCopies)) ||
		p.pubRejects[piece] >= 2 && g.avail(i, s.holdWords) < few
	if first || (extra && !s.pubBacklogged()) {
		pp.copies++
		if !leaf {
			pp.relays++
		}
		pp.allowance = max(pp.allowance, pp.copies)
		if len(pp.to) < maxPubTo {
			pp.to = append(pp.to, p.h)
		}
		// Count p as a holder now: a viewer does not announce a piece to a peer that
		// announced it (ours were private), so its HAVE may never come.
		p.have.add(piece, piece+1, func(a, b uint64) { s.markHeld(p, a, b, true) })
		s.stats.PublisherCopies++
		return true
	}
	if p.pubRejects == nil {
		p.pubRejects = make(map[uint64]int)
	}
	if len(p.pubRejects) < 4096 {
		p.pubRejects[piece]++
	}
	pp.demand++
	if !pp.queued {
		pp.queued = true
		s.pub.demanded = append(s.pub.demanded, pieceRef{g, i})
	}
	return false
}

// pubBacklogged reports whether the requests we already accepted keep our uplink busy
// beyond the upload budget. Copies beyond PublisherCopies (widened pieces, insistent
// requesters) are then refused: served first come first served, they would queue the first
// copies of newer pieces behind extra copies of older ones, the swarm would fall further
// behind, more pieces would be widened, and the publisher's uplink would end up carrying
// the same old pieces to every viewer while the viewers' uplinks idle. Refused requesters
// back off and get the piece from the peers that hold the first copies.
func (s *Swarm) pubBacklogged() bool {
	queued := 0
	for _, w := range s.upl.waiting {
		queued += w.queued * protocol.BlockSize
	}
	return queued+s.upl.inflight >= max(pubBacklog, s.uploadBudget())
}

// pubBacklog is the least backlog pubBacklogged tolerates: a few blocks, so that a slow
// uplink still grants an insistent requester a whole piece or two at a time.
const pubBacklog = 4 * protocol.BlockSize

// pubCredit credits the peers we uploaded pieces [a, b) to when another peer announces
// them: their copies are spreading.
func (s *Swarm) pubCredit(from *peer, a, b uint64) {
	segs := s.st.segs
	for k := s.st.search(a); k < len(segs) && segs[k].rec.FirstPiece < b; k++ {
		g := segs[k]
		if g.pub == nil {
			continue
		}
		lo, hi := max(a, g.rec.FirstPiece), min(b, g.rec.EndPiece())
		for p := lo; p < hi; p++ {
			to := g.pub[g.index(p)].to
			if len(to) == 0 || slices.Contains(to, from.h) {
				continue
			}
			share := 1 / float64(len(to))
			for _, h := range to {
				if q := s.peerFor(h); q != nil {
					q.spread += share
				}
			}
		}
	}
}

// pubTick makes pieces older than PublicAfter public and widens the allowance of pieces
// that are in demand but not spreading.
func (s *Swarm) pubTick() {
	s.pub.publicEnd = s.publicEnd()
	for _, p := range s.peers {
		if p.publicTo < s.pub.publicEnd {
			s.pubAnnouncePublic(p)
		}
	}
	if s.now.Sub(s.pub.lastCheck) >= s.cfg.SpreadCheck {
		s.pub.lastCheck = s.now
		s.spreadCheck()
	}
	if s.now.Sub(s.pub.lastPrune) >= time.Second {
		s.pub.lastPrune = s.now
		for _, p := range s.peers {
			for piece := range p.pubRejects {
				if piece < s.st.evictedTo {
					delete(p.pubRejects, piece)
				}
			}
		}
	}
}

// spreadCheck widens refused pieces that are not spreading. A piece counts as stagnant
// when, on two consecutive checks at least SpreadCheck apart and once it has been public
// that long, few peers hold it and no more than before: it then gets one more copy. A piece
// older than half the default target latency that few peers hold (viewers' deadlines
// approach) gets a copy for every refused request.
func (s *Swarm) spreadCheck() {
	few := int32(2 * s.cfg.PublisherCopies)
	urgentAge := s.times.latency / 2
	settled := s.times.publicAfter + s.cfg.SpreadCheck
	for _, r := range s.pub.demanded {
		if r.g.pub == nil || r.g != s.st.find(r.g.rec.FirstPiece) {
			continue // evicted
		}
		pp := &r.g.pub[r.i]
		holders := r.g.avail(r.i, s.holdWords)
		age := s.now.Sub(r.g.arrival)
		switch {
		case holders >= few:
		case age >= urgentAge:
			pp.allowance += pp.demand
		case age >= settled && pp.checked && holders <= pp.holders:
			pp.allowance++
		}
		pp.holders, pp.checked, pp.demand, pp.queued = holders, true, 0, false
	}
	clear(s.pub.demanded)
	s.pub.demanded = s.pub.demanded[:0]
}

// publicEnd is one past the last piece of the newest segment that became public: its
// private copies were handed out at least PublicAfter ago (or it was published three times
// that long ago), and so were all segments before it.
func (s *Swarm) publicEnd() uint64 {
	end := max(s.pub.publicEnd, s.st.evictedTo)
	for k := s.st.search(end); k < len(s.st.segs); k++ {
		g := s.st.segs[k]
		age := s.now.Sub(g.arrival)
		if age < 3*s.times.publicAfter && (age < s.times.publicAfter || s.now.Sub(g.pubSentAt) < s.times.publicAfter) {
			break
		}
		end = g.rec.EndPiece()
	}
	return end
}

// pubAnnouncePublic sends p HAVE ranges for the public pieces it was not yet told about.
func (s *Swarm) pubAnnouncePublic(p *peer) {
	end := s.publicEnd()
	from := max(p.publicTo, s.st.window().First)
	if from < end {
		s.st.heldRuns(from, end, func(a, b uint64) {
			s.sendRecords(p, a, b)
			s.send(p, protocol.Have{First: a, Count: uint32(b - a)})
		})
	}
	p.publicTo = max(p.publicTo, end)
}
