package leecher

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/livetorrent/livetorrent/protocol"
)

// StreamConfig bounds a Stream's queue. Zero values take the defaults.
type StreamConfig struct {
	// MaxSegments is how many segments may wait for the writer before the oldest waiting
	// ones are dropped (default 8).
	MaxSegments int
	// MaxBytes is how many bytes may wait before the oldest waiting segments are dropped
	// (default 64 MiB). The newest segment is kept even when it alone is larger.
	MaxBytes int64
}

const (
	defaultStreamSegments = 8
	defaultStreamBytes    = 64 << 20
)

// StreamStats counts what one Stream did.
type StreamStats struct {
	Segments int64 // media segments written
	Bytes    int64 // bytes written, init segments included
	Dropped  int64 // segments dropped because the writer was too slow
}

// Stream writes the delivered segments to an io.Writer as one continuous byte stream a
// player can read from a pipe: MPEG-TS (and packed audio) segments back to back; for fMP4
// the init segment, then media fragments, and the init segment again only when it
// changes. A writer that cannot keep up never slows the engine: once the queue is full the
// oldest waiting segments are dropped whole (a segment being written is always finished).
type Stream struct {
	o   *Output
	w   io.Writer
	cfg StreamConfig

	// Guarded by o.mu.
	queue  []*entry
	queued int64 // bytes in queue
	wake   chan struct{}

	lastInit uint64 // owned by Run: the init segment last written, or NoPiece

	segments, bytes, dropped atomic.Int64
}

// streamDrop describes segments dropped from one stream at one delivery, for the log.
type streamDrop struct {
	segments    int
	first, last uint64 // record media sequence numbers
}

// NewStream attaches a byte stream to w. It starts with the newest segment already held
// (so a late start plays at once) and then every segment delivered; call Run to write.
func (o *Output) NewStream(w io.Writer, cfg StreamConfig) *Stream {
	if cfg.MaxSegments <= 0 {
		cfg.MaxSegments = defaultStreamSegments
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = defaultStreamBytes
	}
	s := &Stream{o: o, w: w, cfg: cfg, wake: make(chan struct{}, 1), lastInit: protocol.NoPiece}
	o.mu.Lock()
	if e := o.win.newest(); e != nil {
		s.queue = append(s.queue, e)
		s.queued = int64(len(e.data))
	}
	o.streams[s] = struct{}{}
	o.mu.Unlock()
	return s
}

// enqueueLocked adds e to the queue, dropping the oldest waiting segments beyond the
// bounds, and wakes the writer. It reports what it dropped.
func (s *Stream) enqueueLocked(e *entry) (streamDrop, bool) {
	s.queue = append(s.queue, e)
	s.queued += int64(len(e.data))
	var d streamDrop
	for len(s.queue) > 1 && (len(s.queue) > s.cfg.MaxSegments || s.queued > s.cfg.MaxBytes) {
		old := s.queue[0]
		if d.segments == 0 {
			d.first = old.mediaSeq
		}
		d.last = old.mediaSeq
		d.segments++
		s.queued -= int64(len(old.data))
		s.queue[0] = nil
		s.queue = s.queue[1:]
	}
	if d.segments > 0 {
		s.dropped.Add(int64(d.segments))
		s.o.streamDropped.Add(int64(d.segments))
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return d, d.segments > 0
}

// Run writes segments until the stream's last segment is written (nil), the output is
// closed and the queue written (nil), ctx is done (its error) or a write fails. A write
// in progress is finished first, so a writer that blocks forever also blocks Run: players
// are expected to close their end (a killed player breaks the pipe). Call Run once.
func (s *Stream) Run(ctx context.Context) error {
	defer s.detach()
	for {
		e, err := s.next(ctx)
		if e == nil {
			return err
		}
		if err := s.write(e); err != nil {
			return fmt.Errorf("stream output: media sequence %d: %w", e.mediaSeq, err)
		}
		if e.end {
			return nil
		}
	}
}

// next waits for the next queued segment. It returns nil when there will be none.
func (s *Stream) next(ctx context.Context) (*entry, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.o.mu.Lock()
		if len(s.queue) > 0 {
			e := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.queued -= int64(len(e.data))
			s.o.mu.Unlock()
			return e, nil
		}
		finished := s.o.closed || s.o.ended
		s.o.mu.Unlock()
		if finished {
			return nil, nil
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Stream) write(e *entry) error {
	if e.init == nil {
		s.lastInit = protocol.NoPiece
	} else if e.init.id != s.lastInit {
		if s.lastInit != protocol.NoPiece {
			// A second moov in one fMP4 byte stream: ffmpeg's demuxer (ffplay, mpv) skips
			// it and decodes on with the first, garbled if the parameters changed. Only
			// the HTTP playlist, where EXT-X-MAP changes, carries such a change cleanly.
			s.o.log.Warn("fMP4 init segment changed within the byte stream; players reading it may not decode on (the HTTP playlist handles this)",
				"media_seq", e.mediaSeq)
		}
		if err := s.writeBytes(e.init.data); err != nil {
			return fmt.Errorf("init segment: %w", err)
		}
		s.lastInit = e.init.id
	}
	if err := s.writeBytes(e.data); err != nil {
		return err
	}
	s.segments.Add(1)
	s.o.streamSegments.Add(1)
	return nil
}

func (s *Stream) writeBytes(b []byte) error {
	n, err := s.w.Write(b)
	s.bytes.Add(int64(n))
	s.o.streamBytes.Add(int64(n))
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}

func (s *Stream) detach() {
	s.o.mu.Lock()
	delete(s.o.streams, s)
	s.queue, s.queued = nil, 0
	s.o.mu.Unlock()
}

// Stats returns the stream's counters so far.
func (s *Stream) Stats() StreamStats {
	return StreamStats{Segments: s.segments.Load(), Bytes: s.bytes.Load(), Dropped: s.dropped.Load()}
}
