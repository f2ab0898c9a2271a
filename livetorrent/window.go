package livetorrent

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// Freshness limits from the protocol's receiver rules.
const (
	maxClockSkew       = 60 * time.Second
	maxDescriptorSkew  = 10 * time.Minute
	windowAnnounceRate = time.Second
)

func (s *Swarm) onDescriptor(p *peer, raw []byte) {
	if s.desc != nil && bytes.Equal(raw, s.descRaw) {
		p.dseq = max(p.dseq, s.desc.Seq)
		return
	}
	d, err := protocol.ParseDescriptor(raw)
	if err != nil {
		// Spec 7.6 step 2: undecodable bytes close; decoded ones that break a field rule
		// could only come from a forger or a faulty relay, and ban.
		s.closePeer(p, protocol.IsFieldRule(err), ErrProtocol, "descriptor: %v", err)
		return
	}
	if err := d.VerifyFor(s.cfg.Stream); err != nil {
		s.closePeer(p, true, ErrBadSignature, "descriptor: %v", err)
		return
	}
	p.dseq = max(p.dseq, d.Seq)
	s.acceptDescriptor(&d, raw)
}

// acceptDescriptor applies the replacement rules: a higher sequence replaces, the same
// sequence with other bytes is a publisher fault (ignored), a future creation time is clock
// skew (ignored), and the piece size never changes.
func (s *Swarm) acceptDescriptor(d *protocol.Descriptor, raw []byte) bool {
	switch {
	case d.Seq < s.pointer.Seq:
		s.stats.StaleDescriptors++
		return false
	case d.Seq == s.pointer.Seq && sha256.Sum256(raw) != s.pointer.Hash:
		s.stats.ConflictingDescriptors++
		return false
	case s.desc != nil && d.Seq <= s.desc.Seq:
		if d.Seq == s.desc.Seq && !bytes.Equal(raw, s.descRaw) {
			s.stats.ConflictingDescriptors++
		}
		return false
	case d.Created.After(s.now.Add(maxDescriptorSkew)):
		s.stats.IgnoredDescriptors++
		return false
	case s.desc != nil && d.PieceSize != s.ps:
		s.stats.ConflictingDescriptors++
		return false
	}
	first := s.desc == nil
	s.desc = d
	s.descRaw = bytes.Clone(raw)
	s.ps = d.PieceSize
	s.times = s.cfg.timesFor(d)
	s.pick.nextUrgent = time.Time{} // the urgent horizon may have moved: re-key the order
	if first {
		s.play.chooseRendition(s)
	}
	var msg protocol.Message = protocol.DescriptorMsg{Raw: s.descRaw}
	for _, q := range s.peers {
		if q.dseq < d.Seq {
			s.send(q, msg)
			q.dseq = d.Seq
		}
	}
	return true
}

func (s *Swarm) onRecord(p *peer, raw []byte) {
	if s.desc == nil {
		// A peer relays records only after the descriptor, which it sends first: nothing to
		// verify against yet, so the record is dropped without penalty.
		s.stats.IgnoredRecords++
		return
	}
	rec, err := protocol.ParseRecord(raw)
	if err != nil {
		// Spec 7.10: undecodable bytes close (step 3); a record that decodes but fails its
		// field checks is as bad as a forged one and bans (step 8, checks 3 and 7 of 7.9,
		// made while decoding).
		s.closePeer(p, protocol.IsFieldRule(err), ErrProtocol, "record: %v", err)
		return
	}
	// Identical copies of a stored record are the common case (every neighbour relays it):
	// recognise them before paying for a signature check.
	if i, old := s.st.insertPos(rec.FirstPiece, rec.EndPiece()); i < 0 && bytes.Equal(old.raw, raw) {
		old.knownBy.set(p.slot)
		return
	}
	if reason := s.staleRecord(&rec); reason != "" {
		s.stats.IgnoredRecords++
		return
	}
	if err := s.recordValid(&rec); err != nil {
		if errors.Is(err, protocol.ErrBadSignature) || errors.Is(err, protocol.ErrWrongStream) {
			s.closePeer(p, true, ErrBadSignature, "record: %v", err)
		} else {
			s.closePeer(p, true, ErrBadSignature, "inconsistent record: %v", err)
		}
		return
	}
	if g := s.acceptRecord(&rec, raw, p); g != nil {
		s.recordAccepted(g)
	}
}

// staleRecord applies the freshness and replay rules; a non-empty result means ignore.
func (s *Swarm) staleRecord(r *protocol.Record) string {
	switch {
	case r.EndPiece() <= max(s.st.evictedTo, s.windowSentFrom):
		// Below what we discarded or advertised as our window's first piece (which never
		// moves back, spec 8.4). An older record that comes before we advertised a window
		// (while tuning in from several peers) is kept.
		return "below window"
	case r.Published.Before(s.now.Add(-s.times.window - maxClockSkew)):
		return "replayed: published too long ago"
	case r.Published.After(s.now.Add(maxClockSkew)):
		return "published in the future"
	case len(s.st.ends) > 0 && r.FirstPiece > s.st.ends[len(s.st.ends)-1]+protocol.MaxWindowPieces:
		// Measured from the records we keep, not every one ever seen: once a paused
		// stream's records have aged out, a restarted publisher's numbering is accepted.
		return "too far ahead"
	}
	return ""
}

// acceptRecord stores a verified record. from is the peer that sent it (nil for our own).
func (s *Swarm) acceptRecord(r *protocol.Record, raw []byte, from *peer) *segment {
	i, old := s.st.insertPos(r.FirstPiece, r.EndPiece())
	if i < 0 {
		if !bytes.Equal(old.raw, raw) {
			s.stats.ConflictingRecords++ // a publisher fault: keep the first
		}
		return nil
	}
	n := len(r.Hashes)
	g := &segment{rec: *r, raw: bytes.Clone(raw), arrival: s.now,
		verified: make([]bool, n), parts: make([]*partial, n),
		held: make([]uint64, n*s.holdWords)}
	if from != nil {
		g.knownBy.set(from.slot)
	}
	s.st.insert(i, g)
	s.stats.RecordsAccepted++
	for _, q := range s.peers {
		q.have.overlaps(r.FirstPiece, r.EndPiece(), func(a, b uint64) {
			for p := a; p < b; p++ {
				g.held[int(p-r.FirstPiece)*s.holdWords+q.slot>>6] |= 1 << (q.slot & 63)
			}
		})
	}
	s.enforceWindowLimits()
	if s.cfg.Role == RoleViewer {
		s.play.onRecord(s, g)
	}
	return g
}

func (s *Swarm) relayRecord(g *segment) {
	var msg protocol.Message = protocol.RecordMsg{Raw: g.raw}
	for _, q := range s.peers {
		if !g.knownBy.has(q.slot) {
			s.send(q, msg)
			g.knownBy.set(q.slot)
		}
	}
}

// evict drops segments that fell more than the window duration behind the live edge, and
// those that arrived longer than the window and the clock skew allowance ago (a paused
// stream's: spec 7.10 allows it, and it lets a restarted numbering in), by local arrival
// time. Only a prefix is ever dropped, so our window's first piece only advances.
func (s *Swarm) evict() {
	if s.desc == nil {
		return
	}
	cutoff := s.st.newest.Add(-s.times.window)
	if aged := s.now.Add(-s.times.window - maxClockSkew); aged.After(cutoff) {
		cutoff = aged
	}
	for len(s.st.segs) > 0 && s.st.segs[0].arrival.Before(cutoff) {
		s.evictFirst()
	}
}

// enforceWindowLimits keeps the window within its duration, MaxWindowPieces and
// MaxStoreBytes.
func (s *Swarm) enforceWindowLimits() {
	s.evict()
	for len(s.st.segs) > 1 {
		w := s.st.window()
		if w.End-w.First <= protocol.MaxWindowPieces && s.st.bytes <= s.cfg.MaxStoreBytes {
			return
		}
		s.evictFirst()
	}
}

func (s *Swarm) evictFirst() {
	g := s.st.segs[0]
	copy(s.st.segs, s.st.segs[1:])
	s.st.segs[len(s.st.segs)-1] = nil
	s.st.segs = s.st.segs[:len(s.st.segs)-1]
	s.st.ends = slices.Delete(s.st.ends, 0, 1)
	s.st.last = nil
	s.st.evictedTo = max(s.st.evictedTo, g.rec.EndPiece())
	// Queued requests for its pieces are answered now (spec 9.3), not when their turn comes.
	for _, p := range s.peers {
		if p.queue.removeBelow(s.st.evictedTo, func(r protocol.BlockRef) { s.reject(p, r, protocol.RejectOutOfWindow) }) {
			s.syncWaiter(p)
		}
	}
	if g.data != nil {
		s.st.bytes -= int64(g.rec.Length) // what ensureData or Publish counted
	}
	s.stats.SegmentsEvicted++
	// Release requests for its pieces: the blocks will never be needed.
	for k, pc := range g.parts {
		if pc == nil {
			continue
		}
		s.dropPartial(g, k, true)
	}
	if s.cfg.Role == RoleViewer {
		s.play.onEvict(s, g)
	}
	if g.wanted {
		g.wanted = false
		s.pick.dirty = true
	}
}

// windowTick announces our window's first piece when it advanced, at most once a second.
func (s *Swarm) windowTick() {
	w := s.st.window()
	if w.First <= s.windowSentFrom || s.now.Sub(s.windowSentAt) < windowAnnounceRate {
		return
	}
	s.windowSentFrom, s.windowSentAt = w.First, s.now
	s.announceWindow(w)
}
