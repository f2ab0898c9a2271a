package livetorrent

import (
	"slices"
	"time"
)

// Refusal backoffs: after a REJECT(not held) or REJECT(unspecified) a peer is not asked for
// that piece for a while (spec Section 15.1), a peer that refuses like the publisher is
// asked only for what nobody else holds, and the pick state learns when a backoff ends so
// that a round can look again.

// backedOff reports whether p refused piece and is not to be asked for it yet.
func (p *peer) backedOff(piece uint64, now time.Time) bool {
	for _, b := range p.backoff {
		if b.piece == piece && now.Before(b.until) {
			return true
		}
	}
	return false
}

// backOff keeps p from being asked for piece for base, doubling with each refusal of the
// same piece, so a peer that keeps refusing (the publisher rationing copies) is asked last.
// Every refusal is recorded: when the list is full, the entry whose backoff ended first
// makes room. Dropping the new one instead let a peer that refuses every fresh piece (the
// publisher, to a viewer its other peers were serving) be asked again at once, round trip
// after round trip, once maxBackoffs refusals were remembered.
func (p *peer) backOff(piece uint64, now time.Time, base time.Duration) time.Time {
	oldest := -1
	for k := range p.backoff {
		b := &p.backoff[k]
		if b.piece == piece {
			b.n = min(b.n+1, 6)
			b.until = now.Add(base << b.n)
			return b.until
		}
		if oldest < 0 || b.until.Before(p.backoff[oldest].until) {
			oldest = k
		}
	}
	e := pieceUntil{piece: piece, until: now.Add(base)}
	if len(p.backoff) < maxBackoffs {
		p.backoff = append(p.backoff, e)
	} else {
		p.backoff[oldest] = e
	}
	return e.until
}

// maxBackoffs bounds the refusals remembered per peer (each request round scans them).
const maxBackoffs = 256

// rationing reports whether p behaves as the seeder: flagged as such, or a peer that never
// downloaded from us and refused us a piece recently. It rations what it uploads, so a piece
// others hold is not asked of it unless urgent (its refusal would cost a round trip).
func (s *Swarm) rationing(p *peer) bool {
	if p.seeder {
		return true
	}
	if p.bytesUp > 0 {
		return false
	}
	for _, b := range p.backoff {
		if s.now.Before(b.until.Add(rationingFor)) {
			return true
		}
	}
	return false
}

// rationingFor is how long after a refusal's backoff a peer still counts as rationing.
const rationingFor = 2 * time.Second

// maxExpiries bounds pickState.expiries; a backoff not listed is noticed by the
// once-a-second round instead.
const maxExpiries = 256

// passExpiries counts the refusal backoffs that have ended (nDue, a prefix of expiries):
// a peer may be asked for that piece again, so newly ended ones bump gen.
func (s *Swarm) passExpiries() {
	ps := &s.pick
	k := ps.nDue
	for k < len(ps.expiries) && !s.now.Before(ps.expiries[k]) {
		k++
	}
	if k > ps.nDue {
		ps.nDue = k
		ps.gen++
	}
}

// noteExpiry records when a refusal backoff that ends at until stops mattering: at until
// (the peer may be asked again) and rationingFor later (it is no longer rationing).
func (s *Swarm) noteExpiry(until time.Time) {
	ps := &s.pick
	for _, t := range [2]time.Time{until, until.Add(rationingFor)} {
		if len(ps.expiries) >= maxExpiries {
			return
		}
		i, _ := slices.BinarySearchFunc(ps.expiries, t, time.Time.Compare)
		ps.expiries = slices.Insert(ps.expiries, i, t)
	}
}

// otherAskable reports whether a peer other than q holds piece i of g and can be expected to
// deliver it: it unchokes us and answers our requests. Only then does a rationing peer (the
// seeder) leave the piece to others: counting every peer that announced it let one that
// announced everything and never served (or kept us choked) keep every viewer from asking
// the seeder until pieces were urgent, and the swarm fell back on the origin.
func (s *Swarm) otherAskable(g *segment, i int, q *peer) bool {
	w := s.holdWords
	for k, x := range g.held[i*w : (i+1)*w] {
		if k >= len(s.askable) {
			return false
		}
		x &= s.askable[k]
		if k == q.slot>>6 {
			x &^= 1 << (q.slot & 63)
		}
		if x != 0 {
			return true
		}
	}
	return false
}

// snubAfter is how long a request may wait for its answer before its peer stops counting
// as one that answers (otherAskable). Answers come within a second or so; the request
// timeout (10 s) is far too late for a live piece.
const snubAfter = 3 * time.Second

// checkSnubbed (each slow tick) notes whether p's oldest outstanding request is older than
// snubAfter.
func (s *Swarm) checkSnubbed(p *peer) {
	p.snubbed = false
	for k := range p.sent {
		if !p.sent[k].cancelled {
			p.snubbed = s.now.Sub(p.sent[k].at) > snubAfter
			break
		}
	}
	s.setAskable(p)
}

// setAskable files p in s.askable.
func (s *Swarm) setAskable(p *peer) {
	if !p.gone && !p.peerChoking && !p.snubbed {
		s.askable.set(p.slot)
	} else {
		s.askable.clear(p.slot)
	}
}
