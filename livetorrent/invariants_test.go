package livetorrent

import "fmt"

// checkMirrors verifies the state the core keeps twice: the segments' ends, each known
// piece's held bits (and the availability counted from them) against the connected peers'
// HAVE sets, and the waiting list's copies of each peer's serve keys. Tests run it after
// every event.
func (s *Swarm) checkMirrors() error {
	if err := s.checkWaiting(); err != nil {
		return err
	}
	for _, p := range s.peers {
		if want := !p.peerChoking && !p.snubbed; s.askable.has(p.slot) != want {
			return fmt.Errorf("peer %d: askable bit %v, want %v", p.h, !want, want)
		}
	}
	counted := 0
	for _, p := range s.peers {
		if p.stalledBytes < 0 || p.stalledBytes > p.inflight {
			return fmt.Errorf("peer %d: %d stalled of %d in-flight bytes", p.h, p.stalledBytes, p.inflight)
		}
		counted += p.inflight - p.stalledBytes
	}
	if counted != s.upl.inflight {
		return fmt.Errorf("upload budget holds %d bytes, the peers' counted in-flight bytes are %d", s.upl.inflight, counted)
	}
	if len(s.st.ends) != len(s.st.segs) {
		return fmt.Errorf("%d segment ends for %d segments", len(s.st.ends), len(s.st.segs))
	}
	for k, g := range s.st.segs {
		if s.st.ends[k] != g.rec.EndPiece() {
			return fmt.Errorf("segment %d ends at %d, its end is kept as %d", k, g.rec.EndPiece(), s.st.ends[k])
		}
	}
	for _, g := range s.st.segs {
		for i := range g.rec.Hashes {
			piece, n := g.piece(i), int32(0)
			for _, p := range s.peers {
				has := p.have.contains(piece)
				if has {
					n++
				}
				if g.holds(i, p.slot, s.holdWords) != has {
					return fmt.Errorf("piece %d, peer %d: held bit %v, HAVE set %v", piece, p.h, !has, has)
				}
			}
			if g.avail(i, s.holdWords) != n {
				return fmt.Errorf("piece %d: avail %d, %d peers announced it", piece, g.avail(i, s.holdWords), n)
			}
			for w := range s.holdWords {
				var all uint64
				for _, p := range s.peers {
					if p.slot>>6 == w {
						all |= 1 << (p.slot & 63)
					}
				}
				if extra := g.held[i*s.holdWords+w] &^ all; extra != 0 {
					return fmt.Errorf("piece %d: held bits %x of no connected peer", piece, extra)
				}
			}
		}
	}
	return nil
}

// checkWaiting verifies that exactly the connected peers with queued requests are in the
// upload's waiting list, once each, with current copies of their serve keys.
func (s *Swarm) checkWaiting() error {
	seen := map[*peer]bool{}
	for _, w := range s.upl.waiting {
		p := w.p
		if seen[p] {
			return fmt.Errorf("peer %d is waiting twice", p.h)
		}
		seen[p] = true
		switch {
		case p.gone || p.queue.len() == 0:
			return fmt.Errorf("peer %d waits with %d queued requests (gone %v)", p.h, p.queue.len(), p.gone)
		case !p.waiting:
			return fmt.Errorf("peer %d waits but is not flagged waiting", p.h)
		case w.front != p.queue.front() || w.score != relayScore(p) || w.inflight != p.inflight || w.queued != p.queue.len():
			return fmt.Errorf("peer %d waits with stale keys %+v", p.h, w)
		}
	}
	for _, p := range s.peers {
		if p.queue.len() > 0 && !seen[p] {
			return fmt.Errorf("peer %d has %d queued requests and is not waiting", p.h, p.queue.len())
		}
		if p.waiting != seen[p] {
			return fmt.Errorf("peer %d flagged waiting %v, listed %v", p.h, p.waiting, seen[p])
		}
	}
	return nil
}
