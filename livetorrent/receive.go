package livetorrent

import (
	"slices"

	"github.com/livetorrent/livetorrent/protocol"
)

// releaseBlock removes p's request slot from the block, making it requestable again.
func (s *Swarm) releaseBlock(p *peer, ref protocol.BlockRef) {
	g := s.st.find(ref.Piece)
	if g == nil {
		return
	}
	if pc := g.parts[g.index(ref.Piece)]; pc != nil {
		if b := int(ref.Offset / protocol.BlockSize); b < len(pc.blocks) && pc.unreq(b, p) {
			s.refillPiece(ref.Piece)
		}
	}
}

// unreq removes p's request slot from block b and reports whether the block became free.
func (pc *partial) unreq(b int, p *peer) bool {
	bs := &pc.blocks[b]
	for k := 0; k < int(bs.nreq); k++ {
		if bs.reqs[k].peer != p {
			continue
		}
		bs.nreq--
		bs.reqs[k] = bs.reqs[bs.nreq]
		bs.reqs[bs.nreq] = blockReq{}
		if bs.late {
			bs.late = false
			pc.nLate--
		}
		if bs.nreq == 0 && !bs.got {
			pc.nFree++
			return true
		}
		return false
	}
	return false
}

// cancelOthers withdraws every remaining request for block b of piece (a duplicate whose
// block arrived from elsewhere, or a piece no longer needed).
func (s *Swarm) cancelOthers(pc *partial, b int, piece uint64, sendCancel bool) {
	for pc.blocks[b].nreq > 0 {
		q := pc.blocks[b].reqs[0].peer
		pc.unreq(b, q)
		if k := q.findSent(piece, uint32(b*protocol.BlockSize)); k >= 0 && !q.sent[k].cancelled {
			s.cancelSent(q, k, sendCancel)
			s.wantFill(q)
		}
	}
}

func (s *Swarm) onData(p *peer, d protocol.Data) {
	n := len(d.Block)
	k := p.findSent(d.Piece, d.Offset)
	if k < 0 {
		p.unrequested += n
		s.stats.BytesWasted += int64(n)
		if p.unrequested > s.cfg.MaxUnrequested {
			s.closePeer(p, false, ErrProtocol, "%d bytes of unrequested data", p.unrequested)
		}
		return
	}
	e := p.sent[k]
	if int(e.ref.Length) != n {
		s.closePeer(p, false, ErrProtocol, "DATA %d/%d has %d bytes, requested %d", d.Piece, d.Offset, n, e.ref.Length)
		return
	}
	p.sent = slices.Delete(p.sent, k, k+1)
	if !e.cancelled {
		p.deactivate(s.now, n)
		if e.idle {
			p.latency += (s.now.Sub(e.at) - p.latency) / 4
		}
	}
	p.bytesDown += int64(n)
	p.tickDown += n
	p.tickRecv += n
	s.stats.BytesDownloaded += int64(n)
	s.wantFill(p)

	g := s.st.find(d.Piece)
	if g == nil || !g.wanted || g.verified[g.index(d.Piece)] {
		s.stats.BytesWasted += int64(n)
		if !e.cancelled {
			s.releaseBlock(p, e.ref)
		}
		return
	}
	i := g.index(d.Piece)
	pc := g.parts[i]
	if pc == nil {
		s.st.ensureData(g)
		pc = s.st.getPartial(blocksIn(g.pieceLen(i, s.ps)))
		g.parts[i] = pc
	}
	b := int(d.Offset / protocol.BlockSize)
	pc.unreq(b, p)
	bs := &pc.blocks[b]
	if bs.got {
		s.stats.BytesWasted += int64(n)
		return
	}
	s.st.writeBlock(g, g.rec.PieceOffset(d.Piece, s.ps)+uint64(d.Offset), d.Block)
	bs.got, bs.from = true, p.h
	pc.nGot++
	if bs.nreq == 0 {
		pc.nFree--
	}
	s.cancelOthers(pc, b, d.Piece, true)
	if pc.nGot == len(pc.blocks) {
		s.pieceAssembled(g, i)
	}
}

// pieceAssembled verifies a piece whose blocks have all arrived.
func (s *Swarm) pieceAssembled(g *segment, i int) {
	if err := s.pieceValid(g, i); err == nil {
		s.countSources(g, i)
		s.markVerified(g, i)
		return
	}
	s.stats.PiecesFailed++
	pc := g.parts[i]
	var senders []PeerHandle
	for _, bs := range pc.blocks {
		if !slices.Contains(senders, bs.from) {
			senders = append(senders, bs.from)
		}
	}
	switch {
	case len(senders) == 1:
		if p := s.peerFor(senders[0]); p != nil {
			s.strike(p)
		}
	case pc.attempt == nil && s.pick.evidence < maxEvidence:
		// Several senders: keep this copy and strike only the senders whose blocks differ
		// from the piece once it verifies.
		a := &failedAttempt{data: slices.Clone(g.pieceBytes(i, s.ps)), from: make([]PeerHandle, len(pc.blocks))}
		for b := range pc.blocks {
			a.from[b] = pc.blocks[b].from
		}
		pc.attempt = a
		s.pick.evidence++
	default:
		// Several senders and no copy kept for comparison (one is kept already, or the
		// evidence store is full): strike nobody. Striking them all would let an attacker
		// who corrupts its share of a piece get the honest co-senders banned (two such
		// pieces make a ban). They are only avoided for this piece, below.
	}
	for _, h := range senders {
		if len(pc.avoid) < 16 && !pc.avoids(h) {
			pc.avoid = append(pc.avoid, h)
		}
	}
	for b := range pc.blocks {
		pc.blocks[b].got, pc.blocks[b].from = false, 0
	}
	pc.nGot, pc.nFree = 0, len(pc.blocks)
	s.refill()
}

// countSources adds a verified piece's bytes to the counters of the peers that sent them.
func (s *Swarm) countSources(g *segment, i int) {
	n := g.pieceLen(i, s.ps)
	for b, bs := range g.parts[i].blocks {
		l := int64(min(protocol.BlockSize, n-b*protocol.BlockSize))
		if p := s.peerFor(bs.from); p != nil && p.seeder {
			s.stats.VerifiedFromSeeder += l
		} else {
			s.stats.VerifiedFromPeers += l
		}
	}
}

// markVerified records a verified piece (from peers, the origin, or our own publication).
func (s *Swarm) markVerified(g *segment, i int) {
	g.verified[i] = true
	g.nVerified++
	s.verifiedNow = append(s.verifiedNow, g.piece(i))
	s.stats.PiecesVerified++
	s.cancelOriginFetch(g.piece(i))
	if pc := g.parts[i]; pc != nil {
		if pc.attempt != nil {
			s.judgeAttempt(g, i, pc.attempt)
		}
		s.dropPartial(g, i, true)
	}
	if g.wanted && s.play.anchored && s.now.After(s.play.deadline(g)) {
		s.stats.PiecesLate++
	}
	if g.complete() && g.wanted {
		g.wanted = false
		s.pick.dirty = true
	}
	if g.complete() {
		s.play.recheck = true
		s.origin.forget(g)
		if s.cfg.Role == RoleViewer {
			s.observePropagation(g)
		}
	}
}

// judgeAttempt compares a failed copy of a piece with the verified one: the senders of
// blocks that differ are struck.
func (s *Swarm) judgeAttempt(g *segment, i int, a *failedAttempt) {
	good := g.pieceBytes(i, s.ps)
	for b, h := range a.from {
		lo := b * protocol.BlockSize
		hi := min(lo+protocol.BlockSize, len(good))
		if string(a.data[lo:hi]) != string(good[lo:hi]) {
			if p := s.peerFor(h); p != nil {
				s.strike(p)
			}
		}
	}
}

// dropPartial releases piece i's assembly state, cancelling requests still out for it.
func (s *Swarm) dropPartial(g *segment, i int, sendCancel bool) {
	pc := g.parts[i]
	for b := range pc.blocks {
		s.cancelOthers(pc, b, g.piece(i), sendCancel)
	}
	if pc.attempt != nil {
		s.pick.evidence--
	}
	g.parts[i] = nil
	s.st.putPartial(pc)
}

func (s *Swarm) onReject(p *peer, r protocol.Reject) {
	s.stats.RejectsReceived++
	k := p.findSent(r.Piece, r.Offset)
	if k < 0 {
		return
	}
	e := p.sent[k]
	p.sent = slices.Delete(p.sent, k, k+1)
	if !e.cancelled {
		p.deactivate(s.now, int(e.ref.Length))
		s.releaseBlock(p, e.ref)
	}
	switch r.Reason {
	case protocol.RejectNotHeld, protocol.RejectOutOfWindow:
		p.have.remove(r.Piece, r.Piece+1, func(a, b uint64) { s.markHeld(p, a, b, false) })
	case protocol.RejectQueueFull:
		p.depthCap = max(2, p.nActive)
	}
	s.noteExpiry(p.backOff(r.Piece, s.now, s.cfg.RejectBackoff))
	// Only this piece changed for the other peers (its block is free, its holders may
	// have changed); p has a free slot.
	s.refillPiece(r.Piece)
}
