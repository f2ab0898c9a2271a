package livetorrent

import "fmt"

// checkMirrors verifies the state the core keeps twice: each known piece's availability
// and held bits against the connected peers' HAVE sets. Tests run it after every event.
func (s *Swarm) checkMirrors() error {
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
			if g.avail[i] != n {
				return fmt.Errorf("piece %d: avail %d, %d peers announced it", piece, g.avail[i], n)
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
