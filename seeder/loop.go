package seeder

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// loopEpochMs anchors loop mode's timeline (2024-01-01T00:00:00Z in Unix ms). The stream
// position is a function of the wall clock: pass p of the playlist starts at epoch + p ×
// pass duration. Media sequence numbers therefore keep increasing across seeder restarts,
// as they do for a real live origin, and never go back below what viewers already saw.
const loopEpochMs = 1704067200000

// loopTimeline maps the virtual live stream of loop mode onto the finished playlist: the
// virtual segment v is segment v mod n of pass v / n.
type loopTimeline struct {
	segs     []playlistSegment
	offset   []time.Duration // start of segment i within a pass
	pass     time.Duration   // one pass of the playlist
	epoch    time.Time
	baseSeq  uint64
	baseDisc uint64
	// Discontinuity numbers the first pass spans, and each later pass (whose first
	// segment always starts a discontinuity: timestamps restart at each wrap).
	firstPassDiscs, laterPassDiscs uint64
}

func newLoopTimeline(pl *mediaPlaylist, now time.Time) (*loopTimeline, error) {
	n := len(pl.segments)
	if n == 0 {
		return nil, errors.New("loop mode: the playlist has no segments")
	}
	t := &loopTimeline{segs: pl.segments, offset: make([]time.Duration, n), baseSeq: pl.mediaSeq, baseDisc: pl.discSeq,
		epoch: time.UnixMilli(loopEpochMs)}
	for i, s := range pl.segments {
		if s.duration <= 0 {
			return nil, fmt.Errorf("loop mode: segment %d (%s) has no valid duration", s.seq, s.uri)
		}
		t.offset[i] = t.pass
		t.pass += s.duration
	}
	if now.Before(t.epoch) {
		t.epoch = now // a clock before 2024 is wrong anyway; keep the arithmetic non-negative
	}
	t.firstPassDiscs = pl.segments[n-1].disc - pl.discSeq
	t.laterPassDiscs = 1 + t.firstPassDiscs
	if pl.segments[0].discontinuity {
		t.laterPassDiscs-- // the wrap replaces the first segment's own discontinuity
	}
	return t, nil
}

func (t *loopTimeline) n() uint64 { return uint64(len(t.segs)) }

func (t *loopTimeline) seg(v uint64) playlistSegment { return t.segs[v%t.n()] }

// start returns when virtual segment v begins on the wall clock.
func (t *loopTimeline) start(v uint64) time.Time {
	return t.epoch.Add(time.Duration(v/t.n())*t.pass + t.offset[v%t.n()])
}

// end returns when virtual segment v is complete: when a live encoder would publish it.
func (t *loopTimeline) end(v uint64) time.Time { return t.start(v).Add(t.seg(v).duration) }

// newest returns the newest virtual segment complete at now.
func (t *loopTimeline) newest(now time.Time) (uint64, bool) {
	el := now.Sub(t.epoch)
	if el < 0 {
		return 0, false
	}
	p := uint64(el / t.pass)
	within := el - time.Duration(p)*t.pass
	// i = how many segments of pass p are complete.
	i := sort.Search(len(t.segs), func(i int) bool { return t.offset[i]+t.segs[i].duration > within })
	switch {
	case i > 0:
		return p*t.n() + uint64(i) - 1, true
	case p == 0:
		return 0, false
	}
	return p*t.n() - 1, true
}

// startAt returns the first virtual segment to publish at now: the newest complete one and
// older ones while the media after them is shorter than backlog.
func (t *loopTimeline) startAt(now time.Time, backlog time.Duration) uint64 {
	v, ok := t.newest(now)
	if !ok {
		return 0
	}
	var after time.Duration
	for v > 0 && after+t.seg(v).duration < backlog {
		after += t.seg(v).duration
		v--
	}
	return v
}

func (t *loopTimeline) discontinuity(v uint64) bool {
	if v%t.n() == 0 {
		return v > 0 || t.segs[0].discontinuity
	}
	return t.seg(v).discontinuity
}

// discSeq returns the discontinuity sequence number of virtual segment v.
func (t *loopTimeline) discSeq(v uint64) uint64 {
	p := v / t.n()
	within := t.seg(v).disc - t.baseDisc
	if p == 0 {
		return t.baseDisc + within
	}
	if t.segs[0].discontinuity {
		within--
	}
	return t.baseDisc + t.firstPassDiscs + (p-1)*t.laterPassDiscs + 1 + within
}

// loop replays a finished playlist forever, publishing each segment when a live encoder
// would have finished it. It returns only when ctx ends, or with an error when the
// playlist cannot be looped (the caller reloads it and tries again).
func (in *Ingest) loop(ctx context.Context, pl *mediaPlaylist) error {
	tl, err := newLoopTimeline(pl, in.clock.Now())
	if err != nil {
		return err
	}
	backlog := in.backlog(pl.target)
	v := tl.startAt(in.clock.Now(), backlog)
	in.log.Info("loop mode: replaying a finished playlist as a live stream", "segments", len(tl.segs),
		"pass", tl.pass, "first_media_seq", tl.baseSeq+v)
	for {
		if err := sleepUntil(ctx, in.clock, tl.end(v)); err != nil {
			return err
		}
		// After a pause (a suspended process, a slow origin) jump to the live edge rather
		// than replay stale media at full speed.
		if s := tl.startAt(in.clock.Now(), backlog); s > v {
			in.log.Warn("loop mode fell behind real time; skipping to the live edge", "skipped", s-v)
			in.count(func(st *Stats) { st.Skipped += int64(s - v) })
			v = s
		}
		in.publishLooped(ctx, tl, v)
		v++
	}
}

// publishLooped fetches and publishes virtual segment v, retrying a failed fetch a few
// times within the segment's own duration before skipping it.
func (in *Ingest) publishLooped(ctx context.Context, tl *loopTimeline, v uint64) {
	s := tl.seg(v)
	seq := tl.baseSeq + v
	if s.gap {
		in.log.Warn("skipping a segment marked EXT-X-GAP (missing at the origin)", "media_seq", seq, "uri", s.uri)
		in.count(func(st *Stats) { st.Skipped++ })
		return
	}
	disc := tl.discontinuity(v)
	var data []byte
	var init *InitSection
	for attempt := 1; ; attempt++ {
		var err error
		data, init, err = in.fetchSegment(ctx, s, disc && attempt == 1)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		in.count(func(st *Stats) { st.SegmentErrors++ })
		if errors.Is(err, errRefused) || attempt >= in.cfg.Attempts {
			in.log.Error("giving up on a segment", "media_seq", seq, "uri", s.uri, "attempts", attempt, "err", err)
			in.count(func(st *Stats) { st.Skipped++ })
			return
		}
		in.log.Warn("segment fetch failed; will retry", "media_seq", seq, "attempt", attempt, "of", in.cfg.Attempts, "err", err)
		if in.clock.Sleep(ctx, min(s.duration/4, time.Second)) != nil {
			return
		}
	}
	in.emit(Segment{
		MediaSeq:         seq,
		DiscontinuitySeq: uint32(tl.discSeq(v)),
		Discontinuity:    disc,
		Duration:         s.duration,
		ProgramDateTime:  tl.start(v),
		URI:              s.uri,
		OriginOffset:     uint64(max(s.rng.offset, 0)),
		Data:             data,
		Init:             init,
	})
}
