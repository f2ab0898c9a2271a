package seeder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// testStart is the stepped clock's start: a fixed instant, so runs are reproducible.
var testStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// stepClock is a Clock whose Sleep advances the time at once. The ingest's schedule
// (reload waits, backoffs, loop pacing) thus runs in simulated time as fast as the HTTP
// round trips allow, and origins that derive their state from the same clock see exactly
// the times the ingest sees.
type stepClock struct {
	mu      sync.Mutex
	now     time.Time
	onSleep func(now time.Time) // runs after each advance, in the sleeper's goroutine
}

func newStepClock() *stepClock { return &stepClock{now: testStart} }

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	now, hook := c.now, c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(now)
	}
	runtime.Gosched()
	return ctx.Err()
}

// published is one PublishSegment call.
type published struct {
	rec  protocol.Record
	raw  []byte
	data []byte
}

// recorder is a Publisher that keeps everything and lets tests wait for conditions.
type recorder struct {
	mu     sync.Mutex
	descs  []*protocol.Descriptor
	raws   [][]byte
	recs   []published
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) PublishDescriptor(d *protocol.Descriptor, raw []byte) {
	r.mu.Lock()
	r.descs = append(r.descs, d)
	r.raws = append(r.raws, raw)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) PublishSegment(rec protocol.Record, raw, data []byte) {
	r.mu.Lock()
	r.recs = append(r.recs, published{rec, raw, data})
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]published(nil), r.recs...)
}

func (r *recorder) media() []published {
	var out []published
	for _, p := range r.all() {
		if !p.rec.IsInit() {
			out = append(out, p)
		}
	}
	return out
}

func (r *recorder) descriptor(t *testing.T) *protocol.Descriptor {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.descs) == 0 {
		t.Fatal("no descriptor published")
	}
	return r.descs[len(r.descs)-1]
}

// waitMedia waits until at least n media records were published.
func (r *recorder) waitMedia(t *testing.T, n int) []published {
	t.Helper()
	r.waitFor(t, func() bool { return len(r.media()) >= n }, "%d media records", n)
	return r.media()
}

func (r *recorder) waitFor(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-r.notify:
		case <-deadline.C:
			t.Fatalf("timed out waiting for "+what+" (have %d records)", append(args, len(r.all()))...)
		case <-time.After(20 * time.Millisecond): // conditions on logs and stats, too
		}
	}
}

// checkPublished verifies everything a publisher received: the descriptor's signature,
// every record's signature and geometry against it, the raw bytes, the piece hashes of
// the data, strictly increasing non-overlapping pieces, increasing media sequence, and
// that every InitPiece names an init record published before.
func checkPublished(t *testing.T, r *recorder, key ed25519.PrivateKey) {
	t.Helper()
	r.mu.Lock()
	descs, raws := append([]*protocol.Descriptor(nil), r.descs...), append([][]byte(nil), r.raws...)
	r.mu.Unlock()
	if len(descs) == 0 {
		t.Fatal("no descriptor published")
	}
	stream := protocol.StreamOf(key, nil)
	for i, d := range descs {
		if err := d.VerifyFor(protocol.Stream{Key: stream.Key, Salt: d.Stream.Salt}); err != nil {
			t.Fatalf("descriptor %d: %v", i, err)
		}
		if !bytes.Equal(raws[i], d.Append(nil)) {
			t.Fatalf("descriptor %d: raw bytes differ from its encoding", i)
		}
		if parsed, err := protocol.ParseDescriptor(raws[i]); err != nil || parsed.Seq != d.Seq {
			t.Fatalf("descriptor %d does not parse back: %v", i, err)
		}
	}
	d := descs[len(descs)-1]
	inits := map[uint64]bool{}
	var end uint64
	var lastSeq uint64
	seenMedia := false
	for i, p := range r.all() {
		rec := p.rec
		if err := rec.Verify(d); err != nil {
			t.Fatalf("record %d (seq %d): %v", i, rec.MediaSeq, err)
		}
		if !bytes.Equal(p.raw, rec.Append(nil)) {
			t.Fatalf("record %d: raw bytes differ from its encoding", i)
		}
		back, err := protocol.ParseRecord(p.raw)
		if err != nil || back.FirstPiece != rec.FirstPiece || back.MediaSeq != rec.MediaSeq {
			t.Fatalf("record %d does not parse back: %v", i, err)
		}
		if uint64(len(p.data)) != rec.Length {
			t.Fatalf("record %d: %d data bytes, length %d", i, len(p.data), rec.Length)
		}
		for k := range rec.Hashes {
			piece := rec.FirstPiece + uint64(k)
			off := rec.PieceOffset(piece, d.PieceSize)
			if err := rec.VerifyPiece(piece, p.data[off:off+uint64(rec.PieceLen(piece, d.PieceSize))]); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
		if i > 0 && rec.FirstPiece < end {
			t.Fatalf("record %d: first piece %d overlaps or precedes earlier pieces (next free %d)", i, rec.FirstPiece, end)
		}
		end = rec.EndPiece()
		if rec.IsInit() {
			inits[rec.FirstPiece] = true
			continue
		}
		if seenMedia && rec.MediaSeq <= lastSeq {
			t.Fatalf("record %d: media sequence %d after %d", i, rec.MediaSeq, lastSeq)
		}
		seenMedia, lastSeq = true, rec.MediaSeq
		if rec.InitPiece != protocol.NoPiece && !inits[rec.InitPiece] {
			t.Fatalf("record %d: init piece %d is not a published init record", i, rec.InitPiece)
		}
	}
}

// testKey returns a fixed key so failures are reproducible.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// segmentBytes returns deterministic content for a segment: 1 to 3 pieces of 32 KiB.
func segmentBytes(tag string, seq uint64) []byte {
	rng := rand.New(rand.NewPCG(seq, uint64(len(tag))*7919+uint64(tag[0])))
	b := make([]byte, 20000+int(seq*7919%60000))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	copy(b, tag)
	return b
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) has(s string) bool { return strings.Contains(l.String(), s) }

func newTestLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ingest log:\n%s", lb.String())
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// running is an Ingest.Run in its own goroutine.
type running struct {
	cancel   context.CancelFunc
	finished chan struct{}
	err      error
}

// runIngest starts in.Run; the test's cleanup stops it.
func runIngest(t *testing.T, in *Ingest) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, finished: make(chan struct{})}
	go func() {
		r.err = in.Run(ctx)
		close(r.finished)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// wait waits for Run to return by itself.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.finished:
		return r.err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// stop cancels Run and returns its result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

// seqs returns the media sequence numbers of records.
func seqs(ps []published) []uint64 {
	out := make([]uint64, len(ps))
	for i, p := range ps {
		out[i] = p.rec.MediaSeq
	}
	return out
}

// requireContiguous fails unless the media sequence numbers increase by one.
func requireContiguous(t *testing.T, ps []published) {
	t.Helper()
	for i := 1; i < len(ps); i++ {
		if ps[i].rec.MediaSeq != ps[i-1].rec.MediaSeq+1 {
			t.Fatalf("media sequence not contiguous: %v", seqs(ps))
		}
	}
}
