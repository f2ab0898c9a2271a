package livetorrent

import (
	"math"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// playState is the viewer's playback sequence: which segments it delivers and when each is
// due.
//
// Deadlines use local time only. At tune-in the start segment S is chosen about
// TargetLatency behind the newest record N; the anchor is the planned local time at which
// S starts playing, and segment k is due at anchor + playOffset(k), where playOffset is the
// media time from the start of S to the start of k (record durations; a missing record
// counts one target duration). The anchor starts at now + StartupDelay (later while the
// origin answers slowly, see easeStart). When less than TargetLatency of
// media exists (a young stream), S is held back until arrival(N) + TargetLatency -
// duration(S..N) so that playback still runs TargetLatency behind the edge. S is delivered
// once the segments after it are on pace (onPace); the player starts then, so the anchor
// moves to that instant. Until then, records that show the edge was stale when S was chosen
// move S later (retune). When a later segment is delivered after its deadline the player
// has stalled for that long and the anchor moves by the stall.
type playState struct {
	enabled   bool
	rendition uint8
	tuned     bool
	sawWindow bool      // a peer finished its initial records
	firstRec  time.Time // first record of our rendition arrived
	startSeq  uint64
	next      uint64 // next media sequence to deliver or skip
	anchor    time.Time
	anchored  bool      // the first segment was delivered: anchor is real playback
	holdUntil time.Time // a young stream: the first segment waits so playback keeps its latency
	tunedAt   time.Time
	tunedGot  int64 // bytes received (peers and origin) at tune-in
	// The live edge the start was chosen from: its record's published time and the local
	// time of the choice (see staleEdge).
	edgePub, edgeAt time.Time
	readyAt         time.Time // the first segment was ready but the ones after it were behind (see onPace)
	bySeq           map[uint64]*segment
	maxSeq          uint64 // highest media sequence of our records (skipMissing)
	lastInit        uint64
	hasInit         bool
	ended           bool
	// recheck: something that can let the next segment play happened since deliverReady
	// last looked (a record, a completed segment, a skip, a tick); without it deliverReady
	// returns at once, which matters because it runs after every event.
	recheck bool
}

func (pl *playState) chooseRendition(s *Swarm) {
	if s.cfg.Role != RoleViewer || s.cfg.Rendition < 0 {
		return
	}
	pl.enabled = true
	if _, ok := s.desc.Rendition(uint8(s.cfg.Rendition)); ok && s.cfg.Rendition <= 255 {
		pl.rendition = uint8(s.cfg.Rendition)
	} else {
		pl.rendition = s.desc.Renditions[0].ID
	}
}

func (pl *playState) deadline(g *segment) time.Time { return pl.anchor.Add(g.playOffset) }

func (pl *playState) ours(g *segment) bool { return pl.enabled && g.rec.Rendition == pl.rendition }

// playable reports whether g is the media segment of our rendition that playback uses for
// its media sequence number (see onRecord for records that repeat a number).
func (pl *playState) playable(g *segment) bool {
	return pl.ours(g) && g.isMedia() && pl.bySeq[g.rec.MediaSeq] == g
}

// onRecord registers a new record of our rendition and, once tuned in, wants it.
func (pl *playState) onRecord(s *Swarm, g *segment) {
	if !pl.ours(g) {
		return
	}
	pl.recheck = true
	if g.isMedia() {
		pl.maxSeq = max(pl.maxSeq, g.rec.MediaSeq)
		if old := pl.bySeq[g.rec.MediaSeq]; old == nil {
			pl.bySeq[g.rec.MediaSeq] = g
		} else if old != g {
			// A restarted publisher publishes its backlog again under new piece numbers.
			// Both records stay stored and relayed; playback uses one. A complete or
			// delivered first one stays; an incomplete one gives way, because the live
			// publisher serves the new one while the old one's pieces may exist nowhere.
			s.stats.DuplicateSegments++
			if old.complete() || old.delivered {
				return
			}
			pl.bySeq[g.rec.MediaSeq] = g
			pl.unwant(s, old)
		}
		if pl.firstRec.IsZero() {
			pl.firstRec = s.now
		}
	}
	if !pl.tuned || pl.ended {
		return
	}
	if g.isMedia() && !pl.anchored && pl.playable(g) && pl.staleEdge(s, g) {
		s.retune()
	}
	if g.isMedia() {
		if g.rec.MediaSeq >= pl.next {
			pl.want(s, g)
		}
	} else if pl.initNeeded(g.rec.FirstPiece) {
		for _, m := range pl.bySeq {
			if m.rec.InitPiece == g.rec.FirstPiece && !m.delivered && m.rec.MediaSeq >= pl.next {
				pl.wantSeg(s, g)
				break
			}
		}
	}
	pl.computeOffsets(s)
}

func (pl *playState) initNeeded(first uint64) bool { return !pl.hasInit || pl.lastInit != first }

// want adds a media segment (and the init segment it needs) to the wanted set.
func (pl *playState) want(s *Swarm, g *segment) {
	pl.wantSeg(s, g)
	if ip := g.rec.InitPiece; ip != protocol.NoPiece && pl.initNeeded(ip) {
		if ig := s.st.find(ip); ig != nil && ig.rec.FirstPiece == ip && ig.rec.IsInit() {
			pl.wantSeg(s, ig)
		}
	}
}

// unwant drops g from the wanted set and releases its requests.
func (pl *playState) unwant(s *Swarm, g *segment) {
	if g.wanted {
		g.wanted = false
		s.pick.dirty = true
	}
	for i, pc := range g.parts {
		if pc != nil {
			s.dropPartial(g, i, true)
		}
	}
}

func (pl *playState) wantSeg(s *Swarm, g *segment) {
	if g.wanted || g.complete() || g.delivered || g.rec.Length > s.cfg.MaxSegmentLen {
		return
	}
	g.wanted = true
	s.pick.dirty = true
	s.pick.widened = true
	s.pick.gen++
	for _, p := range s.peers {
		if !p.amInterested && s.peerHasWanted(p) {
			s.setInterested(p, true)
		}
	}
}

// unreferenced is the play offset of an init segment no wanted segment uses: far, but not
// so far that deadline arithmetic overflows.
const unreferenced = 24 * time.Hour

// computeOffsets sets each segment's play offset from the start segment.
func (pl *playState) computeOffsets(s *Swarm) {
	target := s.times.target
	expect, off := pl.startSeq, time.Duration(0)
	for _, g := range s.st.segs {
		if g.isMedia() || !pl.ours(g) {
			continue
		}
		g.playOffset = unreferenced
	}
	for _, g := range s.st.segs {
		// Media sequence numbers ascend with piece numbers; one that does not is a
		// publisher fault and gets no deadline of its own.
		if !pl.playable(g) || g.rec.MediaSeq < max(pl.startSeq, expect) {
			continue
		}
		// A jump in the numbering counts at most 2^20 segments: the offset stays far in the
		// future without overflowing, and the gap is skipped in one step anyway.
		off += time.Duration(min(g.rec.MediaSeq-expect, 1<<20)) * target
		g.playOffset = off
		off += g.rec.Duration
		expect = g.rec.MediaSeq + 1
		if ip := g.rec.InitPiece; ip != protocol.NoPiece {
			if ig := s.st.find(ip); ig != nil && ig.rec.FirstPiece == ip {
				ig.playOffset = min(ig.playOffset, g.playOffset)
			}
		}
	}
	s.pick.nextUrgent = time.Time{} // deadlines moved: re-sort
}

// tuneInCheck tunes in once the descriptor and records are known and either a peer has
// sent all its records (its WINDOW follows them) or TuneInWait has passed.
func (s *Swarm) tuneInCheck() {
	pl := &s.play
	if pl.tuned || !pl.enabled || pl.firstRec.IsZero() {
		return
	}
	if !pl.sawWindow && s.now.Sub(pl.firstRec) < s.cfg.TuneInWait {
		return
	}
	s.tuneIn()
}

// tuneIn picks the start segment about TargetLatency behind the newest record of our
// rendition that is fresh (published within the window duration of now).
func (s *Swarm) tuneIn() {
	pl := &s.play
	newest, start, cum := s.chooseStart()
	if newest == nil {
		return
	}
	pl.tuned, pl.tunedAt, pl.recheck = true, s.now, true
	pl.tunedGot = s.stats.BytesDownloaded + s.stats.BytesFromOrigin
	s.startAt(newest, start, cum)
}

// chooseStart returns the live edge (the newest fresh record of our rendition), the start
// segment and the media duration from the start through the edge, or nil.
func (s *Swarm) chooseStart() (newest, start *segment, cum time.Duration) {
	pl := &s.play
	for k := len(s.st.segs) - 1; k >= 0; k-- {
		g := s.st.segs[k]
		if pl.playable(g) && absDur(s.now.Sub(g.rec.Published)) <= s.times.window {
			newest = g
			break
		}
	}
	if newest == nil {
		return nil, nil, 0
	}
	start = newest
	expect := newest.rec.MediaSeq
	for k := len(s.st.segs) - 1; k >= 0 && cum < s.times.latency; k-- {
		g := s.st.segs[k]
		if !pl.playable(g) || g.rec.MediaSeq > expect {
			continue
		}
		cum += time.Duration(expect-g.rec.MediaSeq)*s.times.target + g.rec.Duration
		expect = g.rec.MediaSeq - 1
		start = g
	}
	return newest, start, cum
}

// startAt makes start the first segment to play, chosen from the live edge newest with cum
// of media from start through newest.
func (s *Swarm) startAt(newest, start *segment, cum time.Duration) {
	pl := &s.play
	pl.startSeq, pl.next = start.rec.MediaSeq, start.rec.MediaSeq
	pl.edgePub, pl.edgeAt = newest.rec.Published, s.now
	pl.readyAt, pl.holdUntil = time.Time{}, time.Time{}
	pl.anchor = s.now.Add(s.cfg.StartupDelay)
	if t := newest.arrival.Add(s.times.latency - cum); t.After(s.now) {
		// Less than TargetLatency of media exists: starting at once would play too close
		// to the live edge, so the first segment waits.
		pl.holdUntil = t
		pl.anchor = later(pl.anchor, t)
	}
	for _, g := range s.st.segs {
		if pl.playable(g) && g.rec.MediaSeq >= pl.startSeq {
			pl.want(s, g)
		}
	}
	pl.computeOffsets(s)
	s.refill()
}

// startEase is how many of the origin's recent answer times a viewer that has not started
// adds to its first deadline (see easeStart).
const startEase = 3

// easeStart gives peers more of the start segment when the origin is slow. Until playback
// starts, the first deadline sets only how soon pieces are fetched from the origin (the
// player starts once the start segment is complete and the next ones on pace, whatever the
// deadline). A viewer whose first fetches come back slower than originMargin is joining with
// many others (a flash crowd saturating the origin): fetching the rest of its start segment
// from the origin too would lengthen the queue that every viewer's fallback waits in, so its
// first deadline moves to StartupDelay plus startEase answer times (at most one target
// duration) after tune-in, and peers get that time to deliver. A viewer of a fast origin is
// unaffected, and playing viewers never are.
func (s *Swarm) easeStart() {
	pl, o := &s.play, &s.origin
	if !pl.tuned || pl.anchored || o.took <= originMargin {
		return
	}
	ease := min(startEase*o.took, s.times.target)
	if t := pl.tunedAt.Add(s.cfg.StartupDelay + ease); t.After(pl.anchor) {
		pl.anchor = t
		s.pick.nextUrgent = time.Time{} // deadlines moved: re-sort
	}
}

// staleEdge reports whether the record g, arriving before playback started, shows that the
// live edge the start was chosen from was far from the edge then: g was published more than
// half the target latency (at least a target duration) later than that edge beyond the time
// that has passed since. The first peers to send their records can lag the swarm (a
// congested seeder's records queue behind its data; a peer may withhold newer ones), and a
// start chosen from them plays far behind live and asks for old segments that fewer peers,
// and perhaps no longer the origin, hold. Records that arrive as they are published never
// trigger it; nor do records that a swarm short of upload relays a little late, where moving
// the start would only throw away what was fetched.
func (pl *playState) staleEdge(s *Swarm, g *segment) bool {
	return g.rec.Published.Sub(pl.edgePub) > s.now.Sub(pl.edgeAt)+max(s.times.target, s.times.latency/2)
}

// retune moves the start, before anything played, to where tuneIn would choose it now,
// if that is later: the segments before it are no longer wanted.
func (s *Swarm) retune() {
	pl := &s.play
	newest, start, cum := s.chooseStart()
	if newest == nil {
		return
	}
	if start.rec.MediaSeq <= pl.startSeq {
		pl.edgePub, pl.edgeAt = newest.rec.Published, s.now
		return
	}
	for _, g := range s.st.segs {
		if pl.playable(g) && g.rec.MediaSeq < start.rec.MediaSeq {
			pl.unwant(s, g)
		}
	}
	s.stats.Retunes++
	s.startAt(newest, start, cum)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// deliverReady delivers complete segments in media order from the next one.
func (s *Swarm) deliverReady() {
	pl := &s.play
	if !pl.tuned || pl.ended || !pl.recheck {
		return
	}
	pl.recheck = false
	for {
		g := pl.bySeq[pl.next]
		if g == nil || !g.complete() {
			return
		}
		var ig *segment
		if ip := g.rec.InitPiece; ip != protocol.NoPiece && pl.initNeeded(ip) {
			ig = s.st.find(ip)
			if ig == nil || ig.rec.FirstPiece != ip || !ig.rec.IsInit() {
				if s.now.Sub(g.arrival) < s.missingWait() {
					return
				}
				s.skip(pl.next, g, "init segment missing")
				continue
			}
			if !ig.complete() {
				return
			}
		}
		if !pl.anchored {
			if s.now.Before(pl.holdUntil) {
				s.wakeBy(pl.holdUntil)
				return
			}
			if !s.onPace(g) {
				return
			}
		}
		d := &Delivery{MediaSeq: pl.next, Record: &g.rec, Data: g.data}
		if ig != nil {
			d.Init, d.InitData = &ig.rec, ig.data
			pl.lastInit, pl.hasInit = ig.rec.FirstPiece, true
			ig.delivered = true
		}
		if !pl.anchored {
			pl.anchored = true
			pl.anchor = s.now.Add(-g.playOffset)
			s.stats.StartupDelay = s.now.Sub(pl.tunedAt)
			s.pick.nextUrgent = time.Time{}
		} else if dl := pl.deadline(g); s.now.After(dl) {
			d.Late = s.now.Sub(dl)
			pl.anchor = pl.anchor.Add(d.Late)
			s.stats.Stalls++
			s.stats.StallTime += d.Late
			s.pick.nextUrgent = time.Time{}
		}
		g.delivered = true
		s.stats.SegmentsDelivered++
		s.out = append(s.out, Action{Kind: ActDeliver, Delivery: d})
		pl.next++
		if g.rec.Flags&protocol.FlagEnd != 0 {
			pl.ended = true
			return
		}
	}
}

// onPace reports whether playback can start with g: at the rate this viewer has received
// since it tuned in, the segments after g whose records are here arrive before their
// deadlines with two thirds of g's duration to spare (the next one within a third of g's
// duration, the k-th within k durations less two thirds of g's). A viewer joining an
// established swarm receives at many times the bitrate and starts at once; one that tunes
// in to a young stream together with thousands of others, whose next segments are still
// spreading, waits instead of stalling on them. It waits at most g's duration.
func (s *Swarm) onPace(g *segment) bool {
	pl := &s.play
	if pl.readyAt.IsZero() {
		pl.readyAt = s.now
	}
	elapsed := s.now.Sub(pl.tunedAt)
	if elapsed <= 0 || s.now.Sub(pl.readyAt) >= g.rec.Duration {
		return true
	}
	rate := float64(s.stats.BytesDownloaded+s.stats.BytesFromOrigin-pl.tunedGot) / elapsed.Seconds()
	missing, budget := 0.0, g.rec.Duration.Seconds()/3
	for seq := g.rec.MediaSeq + 1; ; seq++ {
		n := pl.bySeq[seq]
		if n == nil {
			return true
		}
		missing += float64(s.missingBytes(n))
		if missing > rate*budget {
			return false
		}
		budget += n.rec.Duration.Seconds()
	}
}

// missingBytes is how many bytes of g are neither verified nor received in a partial piece.
func (s *Swarm) missingBytes(g *segment) int {
	if g.complete() {
		return 0
	}
	n := 0
	for i := range g.pieces() {
		if g.verified[i] {
			continue
		}
		plen := g.pieceLen(i, s.ps)
		if pc := g.parts[i]; pc != nil {
			plen -= min(pc.nGot*protocol.BlockSize, plen)
		}
		n += plen
	}
	return n
}

// missingWait is how long a gap in the media sequence may stay open once a later record
// is here before the missing segment is given up.
func (s *Swarm) missingWait() time.Duration { return max(s.times.target, time.Second) }

// skipMissing skips the next segment when its record has not arrived although a later one
// arrived more than missingWait ago.
func (s *Swarm) skipMissing() {
	pl := &s.play
	// Without a record numbered past the next segment (at the live edge, while the next
	// record is awaited) there is nothing to skip to: the walk below would find none.
	for pl.tuned && !pl.ended && pl.maxSeq > pl.next && pl.bySeq[pl.next] == nil {
		// later is the first such record in piece order (its arrival starts the wait), end
		// the lowest media sequence any of them has.
		var later *segment
		end := uint64(math.MaxUint64)
		for _, g := range s.st.segs {
			if pl.ours(g) && g.isMedia() && g.rec.MediaSeq > pl.next {
				if later == nil {
					later = g
				}
				end = min(end, g.rec.MediaSeq)
			}
		}
		if later == nil || s.now.Sub(later.arrival) < s.missingWait() {
			return
		}
		// Every number up to end is missing: skip them in one action. A publisher's
		// numbering can jump by any amount; one skip per number would be work (and output)
		// in proportion to the jump.
		s.skipRun(pl.next, end-pl.next, nil, "record never arrived")
	}
}

func (s *Swarm) skip(seq uint64, g *segment, reason string) { s.skipRun(seq, 1, g, reason) }

// skipRun skips n consecutive segments from seq (g: the first one's, if it has a record) in
// one action.
func (s *Swarm) skipRun(seq, n uint64, g *segment, reason string) {
	d := &Delivery{MediaSeq: seq, Reason: reason, Count: n}
	if g != nil {
		d.Record = &g.rec
		g.delivered = true
		s.play.unwant(s, g) // its requests are no longer needed
	}
	s.stats.SegmentsSkipped += int64(n)
	s.out = append(s.out, Action{Kind: ActSkip, Delivery: d})
	s.play.next = seq + n
	s.play.recheck = true
}

// onEvict skips the playback sequence past a segment evicted before it was delivered.
func (pl *playState) onEvict(s *Swarm, g *segment) {
	if !pl.ours(g) || !g.isMedia() {
		return
	}
	seq := g.rec.MediaSeq
	if pl.bySeq[seq] != g {
		return // a duplicate playback never used
	}
	delete(pl.bySeq, seq)
	pl.recheck = true
	if !pl.tuned || pl.ended || g.delivered || seq < pl.next {
		return
	}
	for pl.next < seq {
		s.skip(pl.next, pl.bySeq[pl.next], "evicted before complete")
	}
	s.skip(seq, g, "evicted before complete")
}
