package seeder

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"time"
)

// liveState is what the ingest remembers between reloads of a live playlist.
type liveState struct {
	loaded    bool   // a playlist was loaded
	started   bool   // segments were selected: next is valid
	next      uint64 // origin media sequence of the next segment to handle (earlier ones are published or skipped)
	prevFirst uint64 // first media sequence of the previous playlist
	prevLen   int    // how many segments it listed
	// The newest media sequence listed so far, when it first appeared, and the shortest
	// segment duration of the previous playlist: what bounds how far the numbering can
	// advance by the next load (explained).
	edge     uint64
	edgeAt   time.Time
	shortest time.Duration
	// Consecutive loads numbered differently (renumbering), ignored until they confirm it,
	// and the start of the first of them.
	renumLoads int
	renumSince time.Time
	// After an encoder restart the origin numbers segments from the start again; the
	// published numbers continue from where they were, shifted by these.
	seqShift, discShift uint64
	resetPending        bool   // the next segment starts a new numbering: rebase the shifts
	lastPubSeq          uint64 // published media sequence of the newest published record
	lastPubDisc         uint64 // and its discontinuity sequence
	failSeq             uint64 // the segment failing now, and how many times it failed
	failCount           int
	sum                 [sha256.Size]byte // digest of the last playlist text
	changedAt           time.Time
	stalled             bool
	errors              int // consecutive failed loads
}

// follow is the reload loop of RFC 8216 §6.3.4: after a load that changed the playlist,
// wait the target duration from the start of that load; after an unchanged one, half of
// it; after a failure, back off exponentially.
func (in *Ingest) follow(ctx context.Context) error {
	var st liveState
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		loadStart := in.clock.Now()
		pl, sum, err := in.loadMedia(ctx)
		if err == nil {
			err = in.ensureDescriptor(pl)
		}
		// Loop mode replays a playlist that is finished from the start; a live stream that
		// ends after we followed it simply ends.
		if err == nil && pl.ended && in.cfg.Loop && !st.started {
			if err = in.loop(ctx, pl); ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			st.errors++
			in.count(func(s *Stats) { s.PlaylistErrors++ })
			if in.variant != nil && st.errors%variantFailures == 0 {
				in.reresolve = true // the variant's URL may have expired
			}
			delay := in.errorBackoff(st.errors)
			in.log.Warn("playlist load failed; retrying", "err", err, "failures", st.errors, "retry_in", delay)
			if err := in.clock.Sleep(ctx, delay); err != nil {
				return err
			}
			continue
		}
		if st.errors > 0 {
			in.log.Info("playlist loads again", "after_failures", st.errors)
			st.errors = 0
		}
		if !st.loaded && in.cfg.Loop && !pl.ended {
			in.warnOnce("loop", "loop mode needs a finished (EXT-X-ENDLIST) playlist; following this one live")
		}
		changed := !st.loaded || sum != st.sum
		st.loaded, st.sum = true, sum
		in.noteChange(&st, pl, changed, loadStart)
		if done := in.handleLive(ctx, &st, pl, loadStart); done {
			return nil
		}
		// The schedule follows the published target duration, fixed when the descriptor
		// was signed, not this load's: one load saying 600 s must not delay the next
		// reload by ten minutes (ensureDescriptor warns about the change).
		target := in.desc.TargetDuration
		wait := target / 2
		if changed {
			wait = target
		}
		if err := sleepUntil(ctx, in.clock, loadStart.Add(wait)); err != nil {
			return err
		}
	}
}

// errorBackoff is the wait after the n-th consecutive failed load: half a target duration
// (a second before the first success), doubling, at most 30 s.
func (in *Ingest) errorBackoff(n int) time.Duration {
	d := time.Second
	if in.desc != nil {
		d = max(in.desc.TargetDuration/2, 100*time.Millisecond)
	}
	base := d
	for i := 1; i < n && d < maxErrorBackoff; i++ {
		d *= 2
	}
	if d > maxErrorBackoff {
		d = max(maxErrorBackoff, base)
	}
	return d
}

// noteChange tracks when the playlist last changed and warns once when it stops.
func (in *Ingest) noteChange(st *liveState, pl *mediaPlaylist, changed bool, now time.Time) {
	if changed {
		if st.stalled {
			in.log.Info("playlist is updating again", "unchanged_for", now.Sub(st.changedAt).Round(time.Millisecond))
			st.stalled = false
			in.count(func(s *Stats) { s.Stalled = false })
		}
		st.changedAt = now
		return
	}
	limit := time.Duration(in.cfg.StallAfter) * in.desc.TargetDuration
	if !st.stalled && !pl.ended && now.Sub(st.changedAt) >= limit {
		st.stalled = true
		in.count(func(s *Stats) { s.Stalled = true })
		in.log.Warn("playlist stopped updating; still polling", "unchanged_for", now.Sub(st.changedAt).Round(time.Millisecond),
			"target_duration", in.desc.TargetDuration, "last_published", st.lastPubSeq)
	}
}

// renumbering is how a playlist's numbering relates to the previous one's.
type renumbering int

const (
	sameNumbering renumbering = iota
	// Everything listed is older than what the previous playlist started with: an origin
	// that starts counting again (an encoder restart), or a stale copy from a cache.
	numberedLower
	// The first listed segment is further ahead than explained allows: an encoder restarted
	// with another numbering (one derived from the clock, say) or a faulty origin.
	numberedFarAhead
)

// A new numbering is believed once this many consecutive loads, spanning at least a target
// duration, show it. One CDN edge serving an old cached copy, or one glitched response, is
// not an encoder restart (RFC 8216 §6.2.1 forbids the media sequence to decrease): taking it
// for one would republish old media as live after a discontinuity, and when the fresh
// playlist returned, publish a segment twice and count phantom segments as skipped. Those
// loads are ignored instead. The wait costs one or two target durations after a real
// restart and loses no media: the rebase publishes the backlog of the new numbering.
const renumberLoads = 3

// Bounds of a forward jump that is still taken for lost segments (see explained).
const (
	jumpMargin     = 10
	minSegmentTime = 100 * time.Millisecond
)

// explained is the largest gap, in segments, between the next segment to handle and the
// first one pl lists that is taken for segments lost from the playlist before they were
// fetched (an origin outage, reloads that came late). It is what the origin can have
// produced since the newest segment we knew first appeared (at most one segment per half
// target duration, or per shortest segment of the previous playlist when it listed shorter
// ones), plus the previous playlist's length (the window may shrink, or the ingest may still
// be behind it), plus a margin for rounding. A larger jump cannot be media that was lost: it
// is a new numbering, and published as such it would make viewers account for every
// missing number (10^12 of them for a clock-based encoder restart) and see no
// discontinuity where the timestamps restart. The bound grows with real time, so an origin
// that was unreachable or stuck for an hour still has its gap published as a gap.
func (st *liveState) explained(now time.Time, target time.Duration) uint64 {
	per := min(target/2, st.shortest)
	per = max(per, minSegmentTime)
	produced := uint64(max(now.Sub(st.edgeAt), 0) / per)
	return produced + uint64(st.prevLen) + jumpMargin
}

// numbering classifies pl's numbering against the previous playlist's. Playlists that
// overlap what was handled, or lag behind it without falling below the previous
// playlist's first segment (a CDN edge a few segments behind), are sameNumbering.
func (st *liveState) numbering(pl *mediaPlaylist, now time.Time, target time.Duration) renumbering {
	switch first := pl.segments[0].seq; {
	case pl.last() < st.prevFirst:
		return numberedLower
	case first > st.next && first-st.next > st.explained(now, target):
		return numberedFarAhead
	}
	return sameNumbering
}

// accept records pl as the previous playlist for the next load's checks.
func (st *liveState) accept(pl *mediaPlaylist, now time.Time, renumbered bool) {
	segs := pl.segments
	st.prevFirst, st.prevLen = segs[0].seq, len(segs)
	st.shortest = math.MaxInt64
	for _, s := range segs {
		if s.duration > 0 {
			st.shortest = min(st.shortest, s.duration)
		}
	}
	if renumbered || !st.started || pl.last() > st.edge {
		st.edge, st.edgeAt = pl.last(), now
	}
}

// holdRenumbering reports whether pl, numbered as renum says, is to be ignored: a new
// numbering not yet confirmed by renumberLoads consecutive loads spanning a target duration.
// A load in the old numbering ends the wait: what came before was stale.
func (in *Ingest) holdRenumbering(st *liveState, pl *mediaPlaylist, renum renumbering, now time.Time, target time.Duration) bool {
	if renum == sameNumbering {
		if st.renumLoads > 0 {
			in.log.Info("the playlist is numbered as before again: the differently numbered loads were stale or glitched, and were ignored",
				"ignored_loads", st.renumLoads, "origin_media_seq", pl.segments[0].seq)
			st.renumLoads = 0
		}
		return false
	}
	if st.renumLoads == 0 {
		st.renumSince = now
		in.log.Warn("the playlist is numbered unlike the previous one (a stale copy, or an encoder restart?); ignoring it until further loads confirm it",
			"origin_media_seq", pl.segments[0].seq, "origin_last", pl.last(), "expected", st.next, "loads_needed", renumberLoads)
	}
	st.renumLoads++
	if st.renumLoads < renumberLoads || now.Sub(st.renumSince) < target {
		return true
	}
	st.renumLoads = 0
	return false
}

// selectNew returns the segments of pl still to handle; renum is how its numbering relates
// to the previous playlist's (a confirmed renumbering). A gap between st.next and the first
// of them is media that fell out of the playlist before it was fetched, or media older than
// catchUp: a playlist that grows by hundreds of segments at once (an origin that was stuck,
// or a faulty one) is not fetched in full, only its newest catchUp of media, because older
// segments would be out of the peers' window before they were published. A new numbering
// starts again from the backlog.
func (st *liveState) selectNew(pl *mediaPlaylist, now time.Time, renum renumbering, backlog, catchUp time.Duration) []playlistSegment {
	segs := pl.segments
	defer st.accept(pl, now, renum != sameNumbering)
	if !st.started || renum != sameNumbering {
		return backlogTail(segs, backlog)
	}
	i := 0
	for i < len(segs) && segs[i].seq < st.next {
		i++
	}
	if i == len(segs) {
		return nil
	}
	return backlogTail(segs[i:], catchUp)
}

// backlogTail returns the newest segment and the older ones while the media after them
// is shorter than backlog.
func backlogTail(segs []playlistSegment, backlog time.Duration) []playlistSegment {
	i := len(segs) - 1
	var after time.Duration
	for i > 0 && after+segs[i].duration < backlog {
		after += segs[i].duration
		i--
	}
	return segs[i:]
}

// backlog returns the configured backlog for a target duration.
func (in *Ingest) backlog(target time.Duration) time.Duration {
	switch b := in.cfg.Backlog; {
	case b < 0:
		return 0
	case b == 0:
		return 3 * target
	default:
		return b
	}
}

// handleLive publishes the new segments of a loaded playlist, in order. A segment that
// fails to fetch stops the round (later segments must not overtake it) and is retried
// after the next reload, up to Attempts times before it is skipped. It reports whether
// the stream has ended.
func (in *Ingest) handleLive(ctx context.Context, st *liveState, pl *mediaPlaylist, now time.Time) bool {
	if len(pl.segments) == 0 {
		if pl.ended {
			in.log.Warn("the playlist ended (EXT-X-ENDLIST) without any segment left to publish")
		}
		return pl.ended
	}
	target := in.desc.TargetDuration
	next, bound := st.next, st.explained(now, target)
	renum := sameNumbering
	if st.started {
		renum = st.numbering(pl, now, target)
	}
	if in.holdRenumbering(st, pl, renum, now, target) {
		return false
	}
	todo := st.selectNew(pl, now, renum, in.backlog(target), in.cfg.WindowDuration)
	switch renum {
	case numberedLower:
		in.log.Warn("media sequence restarted at the origin (encoder restart?); continuing the published numbering after a discontinuity",
			"origin_media_seq", todo[0].seq, "last_published", st.lastPubSeq)
	case numberedFarAhead:
		in.log.Warn("media sequence jumped further than lost segments can explain (encoder restart?); continuing the published numbering after a discontinuity",
			"expected", next, "origin_media_seq", pl.segments[0].seq, "explained_up_to", bound, "last_published", st.lastPubSeq)
	}
	reset := renum != sameNumbering
	if reset {
		st.resetPending = true
	}
	if !st.started || reset {
		st.started = true
		st.next = todo[0].seq
	}
	if len(todo) > 0 && todo[0].seq > st.next {
		n := todo[0].seq - st.next
		in.log.Warn("media sequence gap: segments fell out of the playlist before they were fetched; skipping them",
			"from", st.next, "to", todo[0].seq-1, "count", n)
		in.count(func(s *Stats) { s.Skipped += int64(n) })
		st.next = todo[0].seq
	}
	newest := pl.last()
	for _, s := range todo {
		if ctx.Err() != nil {
			return false
		}
		end := pl.ended && s.seq == newest
		if !in.publishLive(ctx, st, s, end) {
			return false // retry after the next reload
		}
		st.next = s.seq + 1
		if end {
			return true
		}
	}
	if pl.ended && st.next > newest {
		in.log.Warn("the stream ended (EXT-X-ENDLIST) but its last segment could not be published, so no record carries the end flag",
			"media_seq", newest)
		return true
	}
	return false
}

// publishLive fetches and publishes one segment. It returns false when the segment should
// be tried again later; true when it was published or given up.
func (in *Ingest) publishLive(ctx context.Context, st *liveState, s playlistSegment, end bool) bool {
	skip := func(msg string, args ...any) bool {
		in.log.Warn(msg, append([]any{"media_seq", s.seq, "uri", s.uri}, args...)...)
		in.count(func(s *Stats) { s.Skipped++ })
		return true
	}
	switch {
	case s.gap:
		return skip("skipping a segment marked EXT-X-GAP (missing at the origin)")
	case s.duration <= 0:
		return skip("skipping a segment with an invalid EXTINF duration")
	}
	if st.resetPending {
		st.seqShift = st.lastPubSeq + 1 - s.seq
		st.discShift = st.lastPubDisc + 1 - s.disc
	}
	data, init, err := in.fetchSegment(ctx, s, s.discontinuity || st.resetPending)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		in.count(func(s *Stats) { s.SegmentErrors++ })
		if st.failSeq != s.seq {
			st.failSeq, st.failCount = s.seq, 0
		}
		st.failCount++
		if errors.Is(err, errRefused) || st.failCount >= in.cfg.Attempts {
			in.log.Error("giving up on a segment", "media_seq", s.seq, "uri", s.uri, "attempts", st.failCount, "err", err)
			st.failCount = 0
			in.count(func(s *Stats) { s.Skipped++ })
			return true
		}
		in.log.Warn("segment fetch failed; will retry", "media_seq", s.seq, "attempt", st.failCount, "of", in.cfg.Attempts, "err", err)
		return false
	}
	st.failCount = 0
	seg := Segment{
		MediaSeq:         s.seq + st.seqShift,
		DiscontinuitySeq: uint32(s.disc + st.discShift),
		Discontinuity:    s.discontinuity || st.resetPending,
		End:              end,
		Duration:         s.duration,
		ProgramDateTime:  s.pdt,
		URI:              s.uri,
		OriginOffset:     uint64(max(s.rng.offset, 0)),
		Data:             data,
		Init:             init,
	}
	if in.emit(seg) {
		st.resetPending = false
		st.lastPubSeq, st.lastPubDisc = seg.MediaSeq, s.disc+st.discShift
	}
	return true
}
