package livetorrent

import "time"

// pruneIdle keeps room for peers that deliver: while a viewer has more connections than
// Config.TargetPeers, it closes the one that has exchanged no piece data in either direction
// for the longest, once that is at least Config.IdlePeerTimeout. One per call, so a crowd of
// idle peers drains gradually and discovery can refill the slots with better ones.
func (s *Swarm) pruneIdle() {
	if s.cfg.Role != RoleViewer {
		return
	}
	for _, p := range s.peers {
		if t := p.bytesDown + p.bytesUp; t != p.dataSeen {
			p.dataSeen, p.lastData = t, s.now
		}
	}
	if len(s.peers) <= s.cfg.TargetPeers {
		return
	}
	var worst *peer
	var worstIdle time.Duration
	for _, p := range s.peers {
		idle := s.now.Sub(p.lastData)
		if idle >= s.cfg.IdlePeerTimeout && idle > worstIdle {
			worst, worstIdle = p, idle
		}
	}
	if worst != nil {
		s.stats.IdleCloses++
		s.closePeer(worst, false, ErrIdle, "no piece data either way for %v with %d peers connected",
			worstIdle.Round(time.Second), len(s.peers))
	}
}
