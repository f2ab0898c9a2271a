package seeder

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// folderEncoder imitates an encoder writing a live HLS stream into a folder, driven by the
// stepped clock: a 2 s segment completes every 2 s; the playlist lists the newest five.
// With inPlace it writes the playlist in two steps, leaving a half-written version on disk
// in between, as an encoder without temp files would.
type folderEncoder struct {
	t       *testing.T
	dir     string
	start   time.Time
	inPlace bool

	mu      sync.Mutex
	written uint64 // segments on disk
	pending string // the rest of a half-written playlist
}

func (e *folderEncoder) data(seq uint64) []byte { return segmentBytes("F", seq) }

// advance writes what is complete at now.
func (e *folderEncoder) advance(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending != "" {
		e.write("index.m3u8", []byte(e.pending))
		e.pending = ""
	}
	k := uint64(now.Sub(e.start) / (2 * time.Second))
	if k == e.written {
		return
	}
	for seq := e.written; seq < k; seq++ {
		e.write(fmt.Sprintf("seg%d.ts", seq), e.data(seq))
	}
	e.written = k
	first := uint64(0)
	if k > 5 {
		first = k - 5
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	for seq := first; seq < k; seq++ {
		fmt.Fprintf(&b, "#EXTINF:2.000,\nseg%d.ts\n", seq)
	}
	full := b.String()
	if e.inPlace && k%3 == 0 {
		// Half-written: the last URI line is cut short and has no newline yet. The
		// next advance completes it.
		e.write("index.m3u8", []byte(full[:len(full)-4]))
		e.pending = full
		return
	}
	e.write("index.m3u8", []byte(full))
}

func (e *folderEncoder) write(name string, b []byte) {
	tmp := filepath.Join(e.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		e.t.Error(err)
	}
	if err := os.Rename(tmp, filepath.Join(e.dir, name)); err != nil {
		e.t.Error(err)
	}
}

func TestLocalFolderSource(t *testing.T) {
	for _, inPlace := range []bool{false, true} {
		t.Run(fmt.Sprintf("in place %v", inPlace), func(t *testing.T) {
			dir := t.TempDir()
			clk := newStepClock()
			enc := &folderEncoder{t: t, dir: dir, start: testStart.Add(-6 * time.Second), inPlace: inPlace}
			enc.advance(clk.Now())
			clk.onSleep = enc.advance
			rec := newRecorder()
			in, lb := newTestIngest(t, filepath.Join(dir, "index.m3u8"), clk, rec, nil)
			run := runIngest(t, in)
			rec.waitMedia(t, 10)
			run.stop(t)
			checkPublished(t, rec, testKey(1))
			ms := rec.media()
			requireContiguous(t, ms)
			for _, p := range ms {
				if !bytes.Equal(p.data, enc.data(p.rec.MediaSeq)) || p.rec.URI != fmt.Sprintf("seg%d.ts", p.rec.MediaSeq) {
					t.Fatalf("segment %d: wrong data or URI %q", p.rec.MediaSeq, p.rec.URI)
				}
			}
			d := rec.descriptor(t)
			if d.Origin != "" || d.Renditions[0].URI != "index.m3u8" {
				t.Errorf("descriptor of a local source: origin %q, rendition URI %q", d.Origin, d.Renditions[0].URI)
			}
			if st := in.Stats(); st.SegmentErrors != 0 || st.PlaylistErrors != 0 || lb.has("giving up") {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestLocalFolderRefusesOutsideFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "hls")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "secret.ts"), []byte("secret"), 0o600)
	os.WriteFile(filepath.Join(dir, "a.ts"), segmentBytes("a", 0), 0o644)
	os.WriteFile(filepath.Join(dir, "index.m3u8"), []byte(vodPlaylist(2, "a.ts", "../secret.ts", "/etc/hostname", "http://127.0.0.1:1/x.ts")), 0o644)
	rec := newRecorder()
	in, lb := newTestIngest(t, "file://"+filepath.ToSlash(filepath.Join(dir, "index.m3u8")), newStepClock(), rec, func(c *Config) { c.Backlog = time.Minute })
	if err := runIngest(t, in).wait(t); err != nil {
		t.Fatal(err)
	}
	ms := rec.media()
	if len(ms) != 1 || ms[0].rec.URI != "a.ts" || !lb.has("outside the playlist's folder") || !lb.has("only refer to files beside it") {
		t.Fatalf("published %d records; want only a.ts and the others refused", len(ms))
	}
	if st := in.Stats(); st.Skipped != 3 {
		t.Errorf("stats %+v", st)
	}
}

// writeVOD writes a finished playlist of segments with the given durations into dir.
func writeVOD(t *testing.T, dir string, fmp4 bool, durs ...float64) {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	if fmp4 {
		b.WriteString("#EXT-X-MAP:URI=\"init.mp4\"\n")
		os.WriteFile(filepath.Join(dir, "init.mp4"), []byte("init version 1"), 0o644)
	}
	for i, d := range durs {
		name := fmt.Sprintf("seg%d.ts", i)
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", d, name)
		if err := os.WriteFile(filepath.Join(dir, name), segmentBytes("L", uint64(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	if err := os.WriteFile(filepath.Join(dir, "index.m3u8"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoopMode(t *testing.T) {
	dir := t.TempDir()
	durs := []time.Duration{2 * time.Second, 2 * time.Second, 1500 * time.Millisecond}
	writeVOD(t, dir, true, 2, 2, 1.5)
	clk := newStepClock()
	var once sync.Once
	// Halfway through, the init segment changes on disk: the next wrap (a discontinuity,
	// where the ingest re-reads it) must publish the new one.
	clk.onSleep = func(now time.Time) {
		if now.After(testStart.Add(12 * time.Second)) {
			once.Do(func() { os.WriteFile(filepath.Join(dir, "init.mp4"), []byte("init version 2"), 0o644) })
		}
	}
	rec := newRecorder()
	configure := func(c *Config) {
		c.Loop = true
		c.Backlog = -1
		c.InitRefresh = time.Hour
	}
	in, lb := newTestIngest(t, filepath.Join(dir, "index.m3u8"), clk, rec, configure)
	run := runIngest(t, in)
	rec.waitMedia(t, 14)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	if !lb.has("loop mode: replaying a finished playlist") {
		t.Error("loop mode not logged")
	}
	ms := rec.media()
	requireContiguous(t, ms)
	var inits []published
	for _, p := range rec.all() {
		if p.rec.IsInit() {
			inits = append(inits, p)
		}
	}
	if len(inits) != 2 || string(inits[0].data) != "init version 1" || string(inits[1].data) != "init version 2" {
		t.Fatalf("%d init records; want version 1, then version 2 after the change", len(inits))
	}
	if inits[1].rec.Flags&protocol.FlagDiscontinuity != 0 || inits[1].rec.MediaSeq%3 != 0 {
		t.Errorf("the new init segment was not published at a wrap: %+v", inits[1].rec)
	}
	for k, p := range ms {
		r := p.rec
		v := r.MediaSeq // the playlist starts at media sequence 0
		i := v % 3
		if !bytes.Equal(p.data, segmentBytes("L", i)) || r.URI != fmt.Sprintf("seg%d.ts", i) || r.Duration != durs[i] {
			t.Fatalf("virtual segment %d: not segment %d of the playlist", v, i)
		}
		if wantDisc := i == 0; (r.Flags&protocol.FlagDiscontinuity != 0) != wantDisc || r.DiscontinuitySeq != uint32(v/3) {
			t.Fatalf("virtual segment %d: flags %#x, discontinuity sequence %d", v, r.Flags, r.DiscontinuitySeq)
		}
		// Published when a live encoder would have finished it (the first one, from the
		// backlog, was finished before the start), and stamped with its start.
		if done := r.ProgramDateTime.Add(r.Duration); (k > 0 && !r.Published.Equal(done)) || r.Published.Before(done) {
			t.Fatalf("virtual segment %d: published %v, program date-time %v", v, r.Published, r.ProgramDateTime)
		}
		if k > 0 && !r.ProgramDateTime.Equal(ms[k-1].rec.ProgramDateTime.Add(ms[k-1].rec.Duration)) {
			t.Fatalf("virtual segment %d does not start where %d ended", v, v-1)
		}
		if r.Flags&protocol.FlagEnd != 0 {
			t.Fatal("a looped stream never ends")
		}
	}
	// The timeline is anchored to the wall clock: the position follows from the time.
	pass := 5500 * time.Millisecond
	if want := uint64(testStart.Sub(time.UnixMilli(loopEpochMs))/pass) * 3; ms[0].rec.MediaSeq/3*3 != want {
		t.Errorf("first media sequence %d, want in the pass starting at %d", ms[0].rec.MediaSeq, want)
	}

	// A restart with the same key continues later in the media sequence (here with no
	// backlog, three seconds later: past at least one more segment) and in the piece
	// space, never reusing either.
	last := rec.all()[len(rec.all())-1].rec
	clk.Sleep(t.Context(), 3*time.Second)
	rec2 := newRecorder()
	in2, _ := newTestIngest(t, filepath.Join(dir, "index.m3u8"), clk, rec2, configure)
	run2 := runIngest(t, in2)
	rec2.waitMedia(t, 2)
	run2.stop(t)
	checkPublished(t, rec2, testKey(1))
	first := rec2.all()[0].rec
	if first2 := rec2.media()[0].rec; first2.MediaSeq <= last.MediaSeq || first.FirstPiece < last.EndPiece() {
		t.Fatalf("restart: media sequence %d after %d, first piece %d after end %d", first2.MediaSeq, last.MediaSeq, first.FirstPiece, last.EndPiece())
	}
	if d1, d2 := rec.descriptor(t), rec2.descriptor(t); d2.Seq <= d1.Seq {
		t.Errorf("restart: descriptor sequence %d after %d", d2.Seq, d1.Seq)
	}
}

func TestLoopModeSkipsAheadAfterAPause(t *testing.T) {
	dir := t.TempDir()
	writeVOD(t, dir, false, 2, 2, 2)
	clk := newStepClock()
	rec := newRecorder()
	paused := false
	clk.onSleep = func(time.Time) {
		if !paused && len(rec.media()) >= 3 {
			paused = true
			clk.mu.Lock()
			clk.now = clk.now.Add(time.Minute) // the process was suspended
			clk.mu.Unlock()
		}
	}
	in, lb := newTestIngest(t, filepath.Join(dir, "index.m3u8"), clk, rec, func(c *Config) { c.Loop = true })
	run := runIngest(t, in)
	rec.waitMedia(t, 8)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	if !lb.has("loop mode fell behind real time; skipping to the live edge") {
		t.Error("the skip was not logged")
	}
	ms := rec.media()
	jump := false
	for i := 1; i < len(ms); i++ {
		jump = jump || ms[i].rec.MediaSeq > ms[i-1].rec.MediaSeq+20
	}
	if !jump {
		t.Errorf("published %v: the minute of pause was replayed instead of skipped", seqs(ms))
	}
}

// TestLoopBundledSample loops the demo sample shipped in testdata/sample (real ffmpeg
// output) across a wrap.
func TestLoopBundledSample(t *testing.T) {
	pl := filepath.Join("..", "testdata", "sample", "index.m3u8")
	if _, err := os.Stat(pl); err != nil {
		t.Fatalf("the demo sample is missing (testdata/sample/make.sh makes it): %v", err)
	}
	rec := newRecorder()
	in, _ := newTestIngest(t, pl, newStepClock(), rec, func(c *Config) { c.Loop = true })
	run := runIngest(t, in)
	rec.waitMedia(t, 9)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	requireContiguous(t, ms)
	wraps := 0
	for _, p := range ms {
		want, err := os.ReadFile(filepath.Join(filepath.Dir(pl), p.rec.URI))
		if err != nil || !bytes.Equal(p.data, want) {
			t.Fatalf("segment %d (%s) differs from the file", p.rec.MediaSeq, p.rec.URI)
		}
		if p.rec.Flags&protocol.FlagDiscontinuity != 0 {
			wraps++
		}
	}
	if wraps == 0 {
		t.Error("no wrap in 9 segments of a 6-segment sample")
	}
}
