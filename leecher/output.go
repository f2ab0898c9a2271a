package leecher

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// Config bounds an Output. Zero values take the defaults.
type Config struct {
	// PlaylistSegments is how many of the newest segments /live.m3u8 lists. By default 6,
	// or more when 6 last less than three target durations, the least RFC 8216 §6.2.2
	// allows a live playlist; a value set here is taken as it is.
	PlaylistSegments int
	// KeepSegments is how many segments stay fetchable; segments that left the playlist
	// stay a while as RFC 8216 §6.2.2 asks (default 2×PlaylistSegments+1, at least
	// PlaylistSegments; with the default listing, twice what it lists, plus one).
	KeepSegments int
	// MaxBytes bounds the segment and init bytes held (default 256 MiB). The newest
	// segment is kept even when it alone is larger.
	MaxBytes int64
	// TargetDuration is the stream's declared target duration (the descriptor's); the
	// playlist's EXT-X-TARGETDURATION is at least this. 0 = derive from segments only.
	TargetDuration time.Duration
	// PlaylistWait bounds how long a playlist request waits for the first segment
	// (default 2×TargetDuration, at least 2 s; 10 s when TargetDuration is 0).
	PlaylistWait time.Duration
	// AllowOrigin, when set, is sent as Access-Control-Allow-Origin so that a web page of
	// that origin (or any, with "*") can play the stream with a script player such as
	// hls.js. Off by default: it lets that page read what this viewer watches.
	AllowOrigin string
	Logger      *slog.Logger // default: discard

	autoList bool // PlaylistSegments was left to its default: list three target durations
}

const (
	defaultPlaylistSegments = 6
	defaultMaxBytes         = 256 << 20
)

func (c *Config) defaults() {
	if c.PlaylistSegments <= 0 {
		c.PlaylistSegments = defaultPlaylistSegments
		c.autoList = true
	}
	if c.KeepSegments <= 0 {
		c.KeepSegments = 2*c.PlaylistSegments + 1
	}
	c.KeepSegments = max(c.KeepSegments, c.PlaylistSegments)
	if c.MaxBytes <= 0 {
		c.MaxBytes = defaultMaxBytes
	}
	if c.PlaylistWait <= 0 {
		c.PlaylistWait = 10 * time.Second
		if c.TargetDuration > 0 {
			c.PlaylistWait = max(2*c.TargetDuration, 2*time.Second)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Stats counts what the outputs did, for metrics and stall accounting.
type Stats struct {
	SegmentsDelivered int64 // segments accepted from the engine
	SegmentsLost      int64 // segments reported lost (Skip, Segment.Skipped) or unplayable
	SegmentsRejected  int64 // deliveries refused as inconsistent (also counted in SegmentsLost)
	BytesDelivered    int64 // media bytes accepted (init segments excluded)
	WindowSegments    int   // segments held now
	WindowBytes       int64 // bytes held now

	PlaylistRequests int64 // playlist requests answered
	PlaylistWaits    int64 // playlist requests that had to wait for the first segment
	PlaylistTimeouts int64 // ... and got none in time (503)
	SegmentRequests  int64 // segment and init requests
	SegmentsServed   int64 // segment and init requests answered with data
	BytesServed      int64 // HTTP response body bytes written (playlists included)
	// Requests for segments the player could not get: not delivered yet (the player is
	// ahead of us, a stall), or already evicted (the player fell behind the window).
	MissingAhead   int64
	MissingEvicted int64

	StreamSegments int64 // segments written to byte-stream outputs
	StreamBytes    int64 // bytes written to byte-stream outputs (init segments included)
	StreamDropped  int64 // segments dropped because a stream's reader was too slow
}

// Output receives segments from the engine and serves them to players. Create it with
// NewOutput; it is safe for concurrent use.
type Output struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	win     window
	started bool
	nextSeq uint64 // local sequence of the next accepted segment
	disc    uint64 // local discontinuity sequence of the last accepted segment
	prev    prevSegment
	lost    int // losses since the last accepted segment
	longest time.Duration
	// target is EXT-X-TARGETDURATION, fixed by the first playlist rendered: RFC 8216 §6.2.1
	// forbids changing it (0 until then).
	target int
	// spareInit is the last init segment delivered; it is usually also in the window.
	spareInit *initSegment
	ended     bool // the FlagEnd segment was accepted
	closed    bool
	changed   chan struct{} // closed and replaced on every change
	version   uint64        // bumped on every change to the playlist
	cache     []byte        // the playlist rendered at version cacheAt
	cacheOK   bool
	cacheAt   uint64
	streams   map[*Stream]struct{}
	dstats    Stats // the fields guarded by mu

	// Counted by request handlers without the lock.
	playlistRequests, playlistWaits, playlistTimeouts atomic.Int64
	segmentRequests, segmentsServed, bytesServed      atomic.Int64
	missingAhead, missingEvicted                      atomic.Int64
	streamSegments, streamBytes, streamDropped        atomic.Int64
}

// prevSegment is what the next segment is compared with to find discontinuities.
type prevSegment struct {
	mediaSeq  uint64
	dseq      uint32
	piece     uint64
	rendition uint8
	kind      mediaKind
}

// NewOutput returns an Output with no segments.
func NewOutput(cfg Config) *Output {
	cfg.defaults()
	return &Output{
		cfg:     cfg,
		log:     cfg.Logger,
		win:     newWindow(cfg.KeepSegments, cfg.MaxBytes),
		changed: make(chan struct{}),
		streams: make(map[*Stream]struct{}),
	}
}

// SetTargetDuration raises the declared target duration once the stream's descriptor is
// known. RFC 8216 forbids changing EXT-X-TARGETDURATION, so it never lowers it.
func (o *Output) SetTargetDuration(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d > o.cfg.TargetDuration {
		o.cfg.TargetDuration = d
		o.bumpLocked()
	}
}

// Deliver hands the outputs the next segment in playback order. It never blocks on a
// player: byte streams that fall behind drop whole segments. Segments after the stream's
// end or after Close, and inconsistent ones, are refused and logged.
func (o *Output) Deliver(seg Segment) {
	rec := &seg.Record
	o.mu.Lock()
	o.lost += max(0, seg.Skipped)
	o.dstats.SegmentsLost += int64(max(0, seg.Skipped))
	o.noteInitLocked(&seg)
	if reason := o.refuseLocked(&seg); reason != "" {
		o.lost++
		o.dstats.SegmentsLost++
		o.dstats.SegmentsRejected++
		o.mu.Unlock()
		o.log.Warn("segment refused", "media_seq", rec.MediaSeq, "piece", rec.FirstPiece, "reason", reason)
		return
	}
	var in *initSegment
	if rec.InitPiece != protocol.NoPiece {
		in = o.lookupInitLocked(rec.InitPiece)
	}
	e := &entry{
		mediaSeq: rec.MediaSeq,
		piece:    rec.FirstPiece,
		duration: rec.Duration,
		pdt:      rec.ProgramDateTime,
		end:      rec.Flags&protocol.FlagEnd != 0,
		kind:     kindOf(rec, in != nil),
		init:     in,
		data:     seg.Data,
		lost:     o.lost,
	}
	if o.started {
		p := &o.prev
		e.discTag = rec.Flags&protocol.FlagDiscontinuity != 0 || o.lost > 0 ||
			rec.MediaSeq != p.mediaSeq+1 || rec.DiscontinuitySeq != p.dseq ||
			rec.Rendition != p.rendition || e.kind != p.kind
	} else {
		o.started = true
		o.nextSeq = rec.MediaSeq
	}
	if e.discTag {
		o.disc++
	}
	e.seq, e.disc = o.nextSeq, o.disc
	o.nextSeq++
	o.prev = prevSegment{mediaSeq: rec.MediaSeq, dseq: rec.DiscontinuitySeq, piece: rec.FirstPiece,
		rendition: rec.Rendition, kind: e.kind}
	o.lost = 0
	o.longest = max(o.longest, rec.Duration)
	o.ended = e.end
	o.win.push(e)
	o.dstats.SegmentsDelivered++
	o.dstats.BytesDelivered += int64(len(e.data))
	var drops []streamDrop
	for s := range o.streams {
		if d, ok := s.enqueueLocked(e); ok {
			drops = append(drops, d)
		}
	}
	o.bumpLocked()
	o.mu.Unlock()
	if e.lost > 0 {
		o.log.Warn("segments lost before this one", "media_seq", e.mediaSeq, "lost", e.lost)
	}
	for _, d := range drops {
		o.log.Warn("player too slow: dropped whole segments from the stream",
			"segments", d.segments, "first_media_seq", d.first, "last_media_seq", d.last)
	}
}

// refuseLocked says why seg cannot be played, or "" when it can.
func (o *Output) refuseLocked(seg *Segment) string {
	rec := &seg.Record
	switch {
	case o.closed:
		return "output closed"
	case o.ended:
		return "after the stream's last segment"
	case rec.IsInit():
		return "an init segment delivered as a media segment"
	case rec.Flags&protocol.FlagGap != 0:
		return "marked as a gap at the origin"
	case len(seg.Data) == 0 || uint64(len(seg.Data)) != rec.Length:
		return "data length differs from the record"
	case rec.Duration <= 0 || rec.Duration > protocol.MaxSegmentDuration:
		return "duration out of range"
	case o.started && rec.Rendition == o.prev.rendition && rec.FirstPiece <= o.prev.piece:
		// The publisher allocates pieces in increasing order within a stream.
		return "out of order or repeated (pieces do not advance)"
	case rec.InitPiece != protocol.NoPiece && o.lookupInitLocked(rec.InitPiece) == nil:
		return "its init segment is missing or inconsistent"
	}
	return ""
}

// noteInitLocked remembers the init segment a delivery carries, even when the delivery
// itself is refused: the engine hands each init segment over only once, and the segments
// after a refused one still need it.
func (o *Output) noteInitLocked(seg *Segment) {
	in := seg.Init
	if in == nil || seg.Record.InitPiece != in.FirstPiece || !in.IsInit() ||
		len(seg.InitData) == 0 || uint64(len(seg.InitData)) != in.Length {
		return
	}
	if o.spareInit == nil || o.spareInit.id != in.FirstPiece {
		o.spareInit = &initSegment{id: in.FirstPiece, data: seg.InitData}
	}
}

// lookupInitLocked finds an init segment among those the window holds and the last one
// delivered.
func (o *Output) lookupInitLocked(id uint64) *initSegment {
	if in := o.win.lookupInit(id); in != nil {
		return in
	}
	if o.spareInit != nil && o.spareInit.id == id {
		return o.spareInit
	}
	return nil
}

// Skip records that count segments (at least 1) from the record media sequence mediaSeq
// will never be delivered. The next delivered segment is preceded by a discontinuity.
func (o *Output) Skip(mediaSeq, count uint64, reason string) {
	count = max(count, 1)
	o.mu.Lock()
	if o.ended || o.closed {
		o.mu.Unlock()
		return
	}
	o.lost += int(min(count, 1<<30))
	o.dstats.SegmentsLost += int64(min(count, 1<<62))
	o.mu.Unlock()
	if count == 1 {
		o.log.Warn("segment lost", "media_seq", mediaSeq, "reason", reason)
	} else {
		o.log.Warn("segments lost", "media_seq", mediaSeq, "count", count, "reason", reason)
	}
}

// Close ends the output: the playlist gets EXT-X-ENDLIST so players finish what they have,
// waiting requests return, and streams return once their queue is written.
func (o *Output) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		o.bumpLocked()
	}
}

// Ready waits until the first segment is held (or the output ended), so a launcher can
// start a player that would give up on an empty playlist.
func (o *Output) Ready(ctx context.Context) error {
	for {
		o.mu.Lock()
		ready := len(o.win.entries) > 0 || o.closed || o.ended
		ch := o.changed
		o.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stats returns the counters so far.
func (o *Output) Stats() Stats {
	o.mu.Lock()
	s := o.dstats
	s.WindowSegments = len(o.win.entries)
	s.WindowBytes = o.win.bytes
	o.mu.Unlock()
	s.PlaylistRequests = o.playlistRequests.Load()
	s.PlaylistWaits = o.playlistWaits.Load()
	s.PlaylistTimeouts = o.playlistTimeouts.Load()
	s.SegmentRequests = o.segmentRequests.Load()
	s.SegmentsServed = o.segmentsServed.Load()
	s.BytesServed = o.bytesServed.Load()
	s.MissingAhead = o.missingAhead.Load()
	s.MissingEvicted = o.missingEvicted.Load()
	s.StreamSegments = o.streamSegments.Load()
	s.StreamBytes = o.streamBytes.Load()
	s.StreamDropped = o.streamDropped.Load()
	return s
}

// bumpLocked wakes everything waiting for a change.
func (o *Output) bumpLocked() {
	o.version++
	close(o.changed)
	o.changed = make(chan struct{})
}

// listedLocked returns the newest segments the playlist lists: by default PlaylistSegments
// of them, or more if those last less than three target durations, which RFC 8216 §6.2.2
// asks a live playlist to hold (players start that far behind the edge); the window then
// keeps twice as many, so that segments stay fetchable for a playlist's duration after
// they leave it. A configured PlaylistSegments is taken as it is.
func (o *Output) listedLocked() []*entry {
	return afterLastMapEnd(o.listableLocked())
}

// afterLastMapEnd drops the listed segments before the last switch from fMP4 to MPEG-TS: an
// EXT-X-MAP applies to every segment after it (RFC 8216 §4.3.2.5) and no tag ends it, so
// MPEG-TS segments listed after fMP4 ones would be read with the fMP4 init segment.
func afterLastMapEnd(listed []*entry) []*entry {
	for i := len(listed) - 1; i > 0; i-- {
		if listed[i].init == nil && listed[i-1].init != nil {
			return listed[i:]
		}
	}
	return listed
}

func (o *Output) listableLocked() []*entry {
	es := o.win.entries
	if !o.cfg.autoList {
		return es[max(0, len(es)-o.cfg.PlaylistSegments):]
	}
	need := 3 * time.Duration(o.target) * time.Second
	n, total := 0, time.Duration(0)
	for n < len(es) && (n < o.cfg.PlaylistSegments || total < need) {
		n++
		total += es[len(es)-n].duration
	}
	if n > 0 && total < need && total > 0 {
		// Too few held: estimate the count from the listed segments' mean duration.
		n = int(min(int64(need/(total/time.Duration(n)))+1, maxListedSegments))
	}
	o.win.maxSegments = max(o.win.maxSegments, min(2*n+1, 2*maxListedSegments+1))
	return es[len(es)-min(n, len(es)):]
}

// maxListedSegments bounds the listing (and so what the window keeps for it), whatever a
// stream's target duration is against its segments'.
const maxListedSegments = 100

// playlistLocked renders the current playlist, from the cache when nothing changed.
// ok is false while there is nothing to list and the stream has not ended.
func (o *Output) playlistLocked() (body []byte, ok bool, err error) {
	if len(o.win.entries) == 0 && !o.closed && !o.ended {
		return nil, false, nil
	}
	if o.cacheOK && o.cacheAt == o.version {
		return o.cache, true, nil
	}
	if o.target == 0 {
		o.target = targetSeconds(o.cfg.TargetDuration, o.longest)
	}
	body, err = renderPlaylist(playlistInput{
		segments:       o.listedLocked(),
		targetDuration: o.target,
		ended:          o.ended || o.closed,
	})
	if err != nil {
		return nil, false, err
	}
	o.cache, o.cacheOK, o.cacheAt = body, true, o.version
	return body, true, nil
}
