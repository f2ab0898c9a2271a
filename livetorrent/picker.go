package livetorrent

import (
	"slices"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// pieceKey is what the ordering policy sees of a wanted piece.
type pieceKey struct {
	urgent   bool  // due within the urgent horizon
	deadline int64 // unix ns: when the player needs the piece's segment
	partial  bool  // some blocks already received or requested
	avail    int32 // connected peers that announced it
	piece    uint64
}

// less is the one comparator that defines request order:
//  1. urgent pieces first, earliest deadline first (then piece order, so a segment fills
//     front to back);
//  2. then pieces some peer has before pieces nobody announced;
//  3. then pieces already started, so open pieces complete and can be relayed;
//  4. then rarest first, so the swarm holds diverse pieces;
//  5. then earliest deadline, then piece order.
func (a *pieceKey) less(b *pieceKey) bool {
	if a.urgent != b.urgent {
		return a.urgent
	}
	if a.urgent {
		if a.deadline != b.deadline {
			return a.deadline < b.deadline
		}
		return a.piece < b.piece
	}
	if az, bz := a.avail == 0, b.avail == 0; az != bz {
		return bz
	}
	if a.partial != b.partial {
		return a.partial
	}
	if a.avail != b.avail {
		return a.avail < b.avail
	}
	if a.deadline != b.deadline {
		return a.deadline < b.deadline
	}
	return a.piece < b.piece
}

func compareKeys(a, b orderEntry) int {
	switch {
	case a.key.less(&b.key):
		return -1
	case b.key.less(&a.key):
		return 1
	}
	return 0
}

type orderEntry struct {
	g   *segment
	i   int
	key pieceKey
}

type pickState struct {
	order        []orderEntry
	dirty        bool // the wanted set changed: rebuild
	availChanged bool // availability changed since the last sort
	lastSort     time.Time
	nextUrgent   time.Time // the earliest time a non-urgent entry becomes urgent
	cands        []*peer
	one          [1]*peer
	evidence     int // failed pieces kept for comparison

	// What time alone changes for the request round (see timeToFill): a piece became
	// urgent, a segment became wanted, or a refusal's backoff ends (expiries, ascending).
	becameUrgent bool
	widened      bool
	expiries     []time.Time

	// gen counts changes that can make a piece requestable from a peer that had nothing to
	// give (see fill and peer.exhausted); nDue is how many expiries have passed.
	gen  uint64
	nDue int
}

// maxEvidence bounds the failed-piece copies kept to find which sender was wrong.
const maxEvidence = 32

// ensureOrder rebuilds or re-sorts the pick order when needed. Rebuilds follow changes of
// the wanted set (a few per segment); re-sorts for availability are rate-limited by
// ResortEvery, so a stream of HAVE messages costs no sorting.
func (s *Swarm) ensureOrder() {
	ps := &s.pick
	switch {
	case ps.dirty:
		ps.order = ps.order[:0]
		for _, g := range s.st.segs {
			if !g.wanted {
				continue
			}
			for i := range g.verified {
				if !g.verified[i] {
					ps.order = append(ps.order, orderEntry{g: g, i: i})
				}
			}
		}
		ps.dirty = false
	case !s.now.Before(ps.nextUrgent):
	case ps.availChanged && s.now.Sub(ps.lastSort) >= s.cfg.ResortEvery:
	default:
		return
	}
	ps.availChanged = false
	ps.lastSort = s.now
	ps.nextUrgent = s.now.Add(time.Hour)
	horizon := s.now.Add(s.times.horizon).UnixNano()
	n := 0
	for _, e := range ps.order {
		if e.g.verified[e.i] || !e.g.wanted {
			continue // drop finished entries while we are at it
		}
		dl := s.play.deadline(e.g).UnixNano()
		if dl < horizon && !e.key.urgent {
			ps.becameUrgent = true
			ps.gen++
		}
		e.key = pieceKey{urgent: dl < horizon, deadline: dl, partial: e.g.parts[e.i] != nil,
			avail: e.g.avail(e.i, s.holdWords), piece: e.g.piece(e.i)}
		if !e.key.urgent {
			if t := time.Unix(0, dl).Add(-s.times.horizon); t.Before(ps.nextUrgent) {
				ps.nextUrgent = t
			}
		}
		ps.order[n] = e
		n++
	}
	ps.order = ps.order[:n]
	slices.SortFunc(ps.order, compareKeys)
}

func (s *Swarm) fill1(p *peer) {
	s.pick.one[0] = p
	s.fill(s.pick.one[:])
	s.pick.one[0] = nil
}

// fill sends requests to those of peers that have free pipeline slots, walking wanted
// pieces in priority order. Each block goes to the candidate expected to deliver it first.
func (s *Swarm) fill(peers []*peer) {
	if !s.play.tuned {
		return
	}
	cs := s.pick.cands[:0]
	for _, p := range peers {
		if s.canRequest(p) {
			cs = append(cs, p)
		}
	}
	if len(cs) > 0 {
		s.ensureOrder()
		// A peer that still had free slots after a whole round had nothing we can ask of
		// it; until something changes (gen, or its own HAVE), another round for it would
		// walk the whole order to find nothing again.
		ps := &s.pick
		s.passExpiries()
		cs = slices.DeleteFunc(cs, func(p *peer) bool { return p.exhausted == ps.gen+1 && p.hintEnd <= p.hintFirst })
		// Such a peer whose hint lists pieces since (it announced them, or a block of them
		// became free) can get work only from those pieces: the round offers it no other
		// entry, and skips entries that only such peers could take.
		full, lo, hi := 0, ^uint64(0), uint64(0)
		for _, p := range cs {
			p.hinted = p.exhausted == ps.gen+1
			if p.hinted {
				lo, hi = min(lo, p.hintFirst), max(hi, p.hintEnd)
			} else {
				full++
			}
			p.exhausted, p.hintFirst, p.hintEnd = 0, 0, 0
		}
		horizon := s.now.Add(s.times.horizon)
		for k := 0; k < len(ps.order) && len(cs) > 0; k++ {
			e := &ps.order[k]
			onlyFull := e.key.piece < lo || e.key.piece >= hi
			if onlyFull && full == 0 {
				continue
			}
			n := len(cs)
			cs = s.fillEntry(e.g, e.i, cs, horizon, onlyFull)
			if len(cs) < n && full > 0 {
				full = 0
				for _, p := range cs {
					if !p.hinted {
						full++
					}
				}
			}
		}
		for _, p := range cs {
			p.exhausted = ps.gen + 1
		}
	}
	clear(cs)
	s.pick.cands = cs[:0]
}

// refill asks for a request round over every peer at the end of this call, after a change
// that can make pieces requestable from any of them.
func (s *Swarm) refill() {
	s.fillAll = true
	s.pick.gen++
}

// refillPiece is refill after a change that can make only this piece requestable (a block
// of it became free): peers that had nothing to give keep that memo for every other piece.
func (s *Swarm) refillPiece(piece uint64) {
	s.fillAll = true
	for _, p := range s.peers {
		s.hint(p, piece, piece+1)
	}
}

// fillEntry requests what cs can give of piece i of g, if it needs requests.
func (s *Swarm) fillEntry(g *segment, i int, cs []*peer, horizon time.Time, onlyFull bool) []*peer {
	if g.verified[i] || !g.wanted || g.avail(i, s.holdWords) == 0 {
		return cs
	}
	urgent := s.play.deadline(g).Before(horizon)
	if pc := g.parts[i]; pc != nil && pc.nFree == 0 && (pc.nLate == 0 || !urgent) {
		return cs
	}
	return s.assignPiece(g, i, cs, urgent, onlyFull)
}

func (s *Swarm) canRequest(p *peer) bool {
	return !p.gone && !p.peerChoking && p.nActive < s.depth(p)
}

// depth is a peer's pipeline: enough requests to cover its bandwidth-delay product, at
// least 4, at most MaxPipeline and the reqq it advertised.
func (s *Swarm) depth(p *peer) int {
	reqq := int(p.reqq)
	if reqq == 0 {
		reqq = 256
	}
	bdp := int(p.rate * p.latency.Seconds() / protocol.BlockSize)
	d := min(max(2+bdp, 4), s.cfg.MaxPipeline, reqq)
	if p.depthCap > 0 {
		d = min(d, p.depthCap)
	}
	return d
}

// expectedAt estimates when n more bytes asked of p would arrive: its queue drains at its
// measured rate, after its latency.
func (s *Swarm) expectedAt(p *peer, n int) time.Time {
	return s.now.Add(p.latency + time.Duration(float64(p.outBytes+n)/p.rate*float64(time.Second)))
}

// assignPiece requests the blocks of piece i that need a request and returns the
// candidates that still have free slots. With onlyFull, hinted candidates are passed over.
func (s *Swarm) assignPiece(g *segment, i int, cs []*peer, urgent, onlyFull bool) []*peer {
	piece := g.piece(i)
	plen := g.pieceLen(i, s.ps)
	pc := g.parts[i]
	for b := 0; b < blocksIn(plen) && len(cs) > 0; b++ {
		var bs *blockState
		if pc != nil {
			bs = &pc.blocks[b]
			if bs.got || (bs.nreq > 0 && !(urgent && bs.late)) {
				continue
			}
		}
		blen := min(protocol.BlockSize, plen-b*protocol.BlockSize)
		best := -1
		var bestAt time.Time
		for k, q := range cs {
			if (onlyFull && q.hinted) || !g.holds(i, q.slot, s.holdWords) || q.backedOff(piece, s.now) ||
				(pc != nil && (pc.avoids(q.h) || bs.requestedFrom(q))) {
				continue
			}
			if !urgent && s.rationing(q) && s.otherAskable(g, i, q) {
				continue // others will deliver it: do not queue for a refusal
			}
			if at := s.expectedAt(q, blen); best < 0 || at.Before(bestAt) {
				best, bestAt = k, at
			}
		}
		if best < 0 {
			if bs == nil || bs.nreq == 0 {
				return cs // no candidate has this piece
			}
			continue
		}
		if pc == nil {
			s.st.ensureData(g)
			pc = s.st.getPartial(blocksIn(plen))
			g.parts[i] = pc
		}
		q := cs[best]
		s.sendRequest(q, pc, b, protocol.BlockRef{Piece: piece, Offset: uint32(b * protocol.BlockSize), Length: uint32(blen)}, bestAt)
		if !s.canRequest(q) {
			cs = slices.Delete(cs, best, best+1)
		}
	}
	return cs
}

func (bs *blockState) requestedFrom(p *peer) bool {
	for k := 0; k < int(bs.nreq); k++ {
		if bs.reqs[k].peer == p {
			return true
		}
	}
	return false
}

func (s *Swarm) sendRequest(p *peer, pc *partial, b int, ref protocol.BlockRef, expect time.Time) {
	bs := &pc.blocks[b]
	if bs.nreq > 0 {
		s.stats.DuplicateRequests++
	}
	if bs.nreq == 0 {
		pc.nFree--
	}
	if bs.late {
		bs.late = false
		pc.nLate--
	}
	bs.reqs[bs.nreq] = blockReq{peer: p, at: s.now, expect: expect}
	bs.nreq++
	idle := p.nActive == 0
	if idle {
		p.busySince = s.now
	}
	// Keep the history of cancelled requests bounded.
	if len(p.sent) >= 2*s.cfg.MaxPipeline+64 {
		for k := range p.sent {
			if p.sent[k].cancelled {
				p.sent = slices.Delete(p.sent, k, k+1)
				break
			}
		}
	}
	p.sent = append(p.sent, sentReq{ref: ref, at: s.now, idle: idle})
	p.nActive++
	p.outBytes += int(ref.Length)
	p.lastUseful = s.now
	s.stats.RequestsSent++
	s.send(p, protocol.Request{BlockRef: ref})
}

// findSent returns the index in sent of our request for the block, the outstanding one if
// there is one, else a voided one (cancelled, or ended by CHOKE or WINDOW), else -1. Both
// can exist: a request in flight when the peer choked may reach it after it unchoked us,
// and it ignores our identical re-request while that one is queued (spec 8.6), so its one
// answer serves the outstanding request.
func (p *peer) findSent(piece uint64, off uint32) int {
	voided := -1
	for k := range p.sent {
		if p.sent[k].ref.Piece == piece && p.sent[k].ref.Offset == off {
			if !p.sent[k].cancelled {
				return k
			}
			if voided < 0 {
				voided = k
			}
		}
	}
	return voided
}

// deactivate accounts for an answered or withdrawn request of n bytes.
func (p *peer) deactivate(now time.Time, n int) {
	p.nActive--
	p.outBytes -= n
	if p.nActive == 0 && !p.busySince.IsZero() {
		p.busy += now.Sub(p.busySince)
		p.busySince = time.Time{}
	}
}

// cancelSent withdraws our request k to p; with sendCancel the peer is told.
func (s *Swarm) cancelSent(p *peer, k int, sendCancel bool) {
	e := &p.sent[k]
	if e.cancelled {
		return
	}
	e.cancelled = true
	p.deactivate(s.now, int(e.ref.Length))
	s.releaseBlock(p, e.ref)
	if sendCancel {
		s.stats.CancelsSent++
		s.send(p, protocol.Cancel{BlockRef: e.ref})
	}
}

// markLate flags requests for urgent pieces that will miss their deadline or are overdue,
// so that fill may ask a second peer.
func (s *Swarm) markLate() (marked bool) {
	if !s.play.tuned {
		return false
	}
	s.ensureOrder() // also drops finished entries, so an empty order means idle
	horizon := s.now.Add(s.times.horizon)
	for _, e := range s.pick.order {
		if !e.key.urgent {
			// Urgent pieces come first in the order, and ensureOrder has just re-keyed it
			// if any piece entered the horizon since (or deadlines or the horizon moved):
			// none of the rest is due within the horizon.
			break
		}
		g, i := e.g, e.i
		pc := g.parts[i]
		if pc == nil || g.verified[i] || !g.wanted {
			continue
		}
		dl := s.play.deadline(g)
		if !dl.Before(horizon) {
			continue
		}
		for b := range pc.blocks {
			bs := &pc.blocks[b]
			if bs.got || bs.nreq != 1 || bs.late {
				continue
			}
			r := bs.reqs[0]
			slack := r.expect.Sub(r.at)/2 + 100*time.Millisecond
			if s.now.After(r.expect.Add(slack)) || r.expect.After(dl) {
				bs.late = true
				pc.nLate++
				marked = true
			}
		}
	}
	return marked
}

// timeToFill reports whether a request round on this tick may find something the rounds
// after each event did not: every change of state queues its own round (wantFill,
// fillAll), so what is left is what time changes. A block became late (markedLate), a
// piece became urgent (urgent pieces re-request late blocks and skip rationing), a segment
// became wanted (its pieces may be announced already), or a peer's refusal backoff or the
// rationing that follows it ended. Most ticks find none, and a round over every peer was
// the largest cost of a tick.
func (s *Swarm) timeToFill(markedLate bool) bool {
	ps := &s.pick
	s.passExpiries()
	return markedLate || ps.becameUrgent || ps.widened || ps.nDue > 0
}

// filledAll clears what timeToFill watches after a round over every peer.
func (s *Swarm) filledAll() {
	ps := &s.pick
	ps.becameUrgent, ps.widened = false, false
	s.passExpiries()
	ps.expiries = slices.Delete(ps.expiries, 0, ps.nDue)
	ps.nDue = 0
}

// expireRequests drops requests unanswered for RequestTimeout (the peer is treated as
// slow) and forgets cancelled ones after twice that.
func (s *Swarm) expireRequests(p *peer) {
	timeout := s.now.Add(-s.cfg.RequestTimeout)
	forget := s.now.Add(-2 * s.cfg.RequestTimeout)
	n := 0
	for k := range p.sent {
		e := &p.sent[k]
		if e.at.Before(timeout) && !e.cancelled {
			s.cancelSent(p, k, true)
			s.stats.RequestTimeouts++
			p.rate = max(p.rate/2, 1024)
		}
		if !(e.cancelled && e.at.Before(forget)) {
			p.sent[n] = *e
			n++
		}
		if !e.at.Before(timeout) {
			n += copy(p.sent[n:], p.sent[k+1:])
			break
		}
	}
	if n < len(p.sent) {
		p.sent = p.sent[:n]
	}
	live := p.backoff[:0]
	for _, b := range p.backoff {
		if s.now.Before(b.until.Add(s.times.window)) && b.piece >= s.st.evictedTo {
			live = append(live, b)
		}
	}
	p.backoff = live
	if p.depthCap > 0 {
		if p.depthCap++; p.depthCap > s.cfg.MaxPipeline {
			p.depthCap = 0
		}
	}
}

// updateRates folds the last interval's bytes into the peer's rate estimates.
func (s *Swarm) updateRates(p *peer) {
	dt := s.now.Sub(p.lastRate)
	if dt <= 0 {
		return
	}
	p.lastRate = s.now
	if p.nActive > 0 && !p.busySince.IsZero() {
		p.busy += s.now.Sub(p.busySince)
		p.busySince = s.now
	}
	if p.busy >= 50*time.Millisecond {
		sample := float64(p.tickDown) / p.busy.Seconds()
		w := min(1, p.busy.Seconds()/2)
		p.rate = max(p.rate+w*(sample-p.rate), 1024)
		p.busy, p.tickDown = 0, 0
	}
	a := dt.Seconds() / (dt.Seconds() + 5)
	p.recvRate += a * (float64(p.tickRecv)/dt.Seconds() - p.recvRate)
	p.sendRate += a * (float64(p.tickUp)/dt.Seconds() - p.sendRate)
	p.tickRecv, p.tickUp = 0, 0
	s.syncWaiter(p) // its relay score may have changed
	if len(p.have.spans) > 0 && p.have.spans[0].first < s.st.evictedTo {
		p.have.removeBelow(s.st.evictedTo, func(a, b uint64) {}) // pieces we no longer track
	}
}
