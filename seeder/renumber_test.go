package seeder

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// scriptedOrigin serves the playlist its script returns for each load (counted from 1), or
// HTTP 503 when it returns "", and any other name as a segment whose bytes derive from the
// name.
type scriptedOrigin struct {
	srv    *httptest.Server
	mu     sync.Mutex
	loads  int
	script func(load int) string
	loaded []time.Time // the ingest's clock at each playlist load
	clock  Clock
}

func newScriptedOrigin(t *testing.T, clock Clock, script func(load int) string) *scriptedOrigin {
	o := &scriptedOrigin{script: script, clock: clock}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "index.m3u8" {
			o.mu.Lock()
			o.loads++
			o.loaded = append(o.loaded, o.clock.Now())
			n := o.loads
			o.mu.Unlock()
			body := o.script(n)
			if body == "" {
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte(body))
			return
		}
		w.Write(scriptedSegment(name))
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *scriptedOrigin) URL() string { return o.srv.URL + "/index.m3u8" }

func (o *scriptedOrigin) loadCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.loads
}

func (o *scriptedOrigin) loadTimes() []time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Time(nil), o.loaded...)
}

func scriptedSegment(name string) []byte { return segmentBytes(name, uint64(len(name))) }

// playlistText is a live playlist of target-second segments first..first+n-1, named
// prefix<seq>.ts.
func playlistText(target int, first uint64, n int, prefix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", target, first)
	for seq := first; seq < first+uint64(n); seq++ {
		fmt.Fprintf(&b, "#EXTINF:%d,\n%s%d.ts\n", target, prefix, seq)
	}
	return b.String()
}

// withPrefix returns the published media records whose URI starts with prefix.
func withPrefix(ps []published, prefix string) []published {
	var out []published
	for _, p := range ps {
		if strings.HasPrefix(p.rec.URI, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// The origin's media sequence jumps from ~100 to ~10^12 between two loads 2 s apart: far
// more than three listed segments and 2 s of media can explain. The seeder rebases: the
// published numbering stays continuous and the first segment of the new numbering starts a
// discontinuity, instead of publishing a jump of 10^12 numbers for viewers to skip.
func TestMediaSequenceJumpRebased(t *testing.T) {
	clk := newStepClock()
	const far = 1_000_000_000_000
	o := newScriptedOrigin(t, clk, func(n int) string {
		if n <= 3 {
			return playlistText(2, uint64(100+n), 3, "a")
		}
		return playlistText(2, uint64(far+n), 3, "b")
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	rec.waitFor(t, func() bool { return len(withPrefix(rec.media(), "b")) >= 4 }, "4 segments after the jump")
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	requireContiguous(t, ms)
	for i, p := range ms {
		if !strings.HasPrefix(p.rec.URI, "b") {
			continue
		}
		prev := ms[i-1].rec
		if p.rec.Flags&protocol.FlagDiscontinuity == 0 || p.rec.DiscontinuitySeq != prev.DiscontinuitySeq+1 {
			t.Fatalf("first segment after the jump: flags %#x disc %d (previous %d)", p.rec.Flags, p.rec.DiscontinuitySeq, prev.DiscontinuitySeq)
		}
		break
	}
	if st := in.Stats(); st.Skipped != 0 || st.LastMediaSeq > 1000 {
		t.Errorf("stats %+v: want nothing skipped and the numbering kept near 100", st)
	}
	if !lb.has("media sequence jumped") {
		t.Error("the jump was not logged")
	}
}

// A few segments fall out of the playlist between two loads: a gap the listed window
// explains. The published numbers skip them, as before, without a discontinuity.
func TestMediaSequenceSmallGapKept(t *testing.T) {
	clk := newStepClock()
	o := newScriptedOrigin(t, clk, func(n int) string {
		first := uint64(100 + n)
		if n > 3 {
			first += 5 // the window slides by six: 106..108 are never listed
		}
		return playlistText(2, first, 3, "a")
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	waitForSeq(t, rec, 112)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	var got []uint64
	for _, p := range rec.media() {
		got = append(got, p.rec.MediaSeq)
		if p.rec.Flags&protocol.FlagDiscontinuity != 0 {
			t.Errorf("segment %d flagged as a discontinuity", p.rec.MediaSeq)
		}
	}
	want := []uint64{101, 102, 103, 104, 105, 109, 110, 111, 112}
	if fmt.Sprint(got[:len(want)]) != fmt.Sprint(want) {
		t.Fatalf("published %v, want %v...", got, want)
	}
	if st := in.Stats(); st.Skipped != 3 || !lb.has("media sequence gap") || lb.has("media sequence jumped") {
		t.Errorf("stats %+v: want three skipped and a logged gap, no rebase", st)
	}
}

// The origin is unreachable for about two minutes while its encoder goes on: sixty-odd
// segments are lost, far more than the playlist lists, but no more than the time that passed
// explains. They are published as a gap, not as a new numbering.
func TestLongOutageGapKept(t *testing.T) {
	clk := newStepClock()
	o := newScriptedOrigin(t, clk, func(n int) string {
		if n >= 4 && n <= 10 {
			return ""
		}
		// One 2 s segment completes every 2 s; the playlist lists the newest three.
		return playlistText(2, 100+uint64(clk.Now().Sub(testStart)/(2*time.Second)), 3, "a")
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	rec.waitFor(t, func() bool { return o.loadCount() > 12 && len(rec.media()) >= 8 }, "records after the outage")
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	var hole uint64
	for i := 1; i < len(ms); i++ {
		hole = max(hole, ms[i].rec.MediaSeq-ms[i-1].rec.MediaSeq-1)
		if ms[i].rec.Flags&protocol.FlagDiscontinuity != 0 {
			t.Errorf("segment %d flagged as a discontinuity", ms[i].rec.MediaSeq)
		}
	}
	if hole < 40 || lb.has("media sequence jumped") || in.Stats().Skipped != int64(hole) {
		t.Fatalf("published %v (stats %+v): want a gap of over 40 segments kept as a gap", seqs(ms), in.Stats())
	}
}

// requireOnce fails unless every published media URI is distinct.
func requireOnce(t *testing.T, ps []published) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.rec.URI] {
			t.Fatalf("%s published twice: %v", p.rec.URI, seqs(ps))
		}
		seen[p.rec.URI] = true
	}
}

// One load is served from a stale cache a whole window behind (numbered below the previous
// playlist's first segment). RFC 8216 §6.2.1 forbids a decreasing media sequence, so a
// single such load is not an encoder restart: it is ignored, and when the fresh playlist
// returns nothing is published twice, nothing counted as skipped, no discontinuity flagged.
func TestStalePlaylistOnceIgnored(t *testing.T) {
	clk := newStepClock()
	o := newScriptedOrigin(t, clk, func(n int) string {
		if n == 5 {
			return playlistText(2, 50, 3, "a")
		}
		return playlistText(2, uint64(100+n), 3, "a")
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	waitForSeq(t, rec, 115)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	requireContiguous(t, ms)
	requireOnce(t, ms)
	for _, p := range ms {
		if p.rec.URI != fmt.Sprintf("a%d.ts", p.rec.MediaSeq) || p.rec.Flags&protocol.FlagDiscontinuity != 0 {
			t.Fatalf("published %s as %d, flags %#x", p.rec.URI, p.rec.MediaSeq, p.rec.Flags)
		}
	}
	if st := in.Stats(); st.Skipped != 0 || lb.has("media sequence restarted") || !lb.has("numbered as before again") {
		t.Errorf("stats %+v: want nothing skipped, no restart assumed and the stale load logged", st)
	}
}

// Likewise one load numbered far ahead (a glitching origin) is ignored when the numbering
// comes back.
func TestMediaSequenceJumpOnceIgnored(t *testing.T) {
	clk := newStepClock()
	o := newScriptedOrigin(t, clk, func(n int) string {
		if n == 5 {
			return playlistText(2, 1_000_000_000_000, 3, "b")
		}
		return playlistText(2, uint64(100+n), 3, "a")
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	waitForSeq(t, rec, 115)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	requireContiguous(t, ms)
	requireOnce(t, ms)
	if b := withPrefix(ms, "b"); len(b) > 0 {
		t.Fatalf("the glitched playlist's segments were published: %v", seqs(b))
	}
	if st := in.Stats(); st.Skipped != 0 || lb.has("media sequence jumped") {
		t.Errorf("stats %+v: want nothing skipped and no rebase", st)
	}
}

// An origin whose encoder restarts at 0: the lower numbering persists, and after the loads
// that confirm it the seeder rebases, publishing the new encoder's segments from its first
// (still in the backlog), each once, after a discontinuity.
func TestEncoderRestartConfirmed(t *testing.T) {
	clk := newStepClock()
	o := newScriptedOrigin(t, clk, func(n int) string {
		if n <= 4 {
			return playlistText(2, uint64(100+n), 3, "a")
		}
		// The new encoder's playlist grows from segment 0, one segment per load.
		k := uint64(n - 4)
		return playlistText(2, max(k, 3)-3, int(min(k, 3)), "b")
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	rec.waitFor(t, func() bool { return len(withPrefix(rec.media(), "b")) >= 6 }, "6 segments after the restart")
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	requireContiguous(t, ms)
	requireOnce(t, ms)
	b := withPrefix(ms, "b")
	if b[0].rec.URI != "b0.ts" || b[0].rec.Flags&protocol.FlagDiscontinuity == 0 {
		t.Fatalf("first segment after the restart: %s flags %#x; want b0.ts with a discontinuity", b[0].rec.URI, b[0].rec.Flags)
	}
	if st := in.Stats(); st.Skipped != 0 || !lb.has("media sequence restarted") {
		t.Errorf("stats %+v: want nothing skipped and the restart logged", st)
	}
}

// One load says EXT-X-TARGETDURATION:600 (a glitch; the descriptor published 2 s). The
// reload schedule follows the published target: no reload waits more than 2 s.
func TestTargetDurationGlitchKeepsReloading(t *testing.T) {
	clk := newStepClock()
	o := newScriptedOrigin(t, clk, func(n int) string {
		target := 2
		if n == 3 {
			target = 600
		}
		return playlistText(target, uint64(100+n), 1, "a")
	})
	rec := newRecorder()
	in, _ := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	waitForSeq(t, rec, 107)
	run.stop(t)
	loads := o.loadTimes()
	for i := 1; i < len(loads); i++ {
		if d := loads[i].Sub(loads[i-1]); d > 2*time.Second {
			t.Fatalf("load %d came %v after the previous one; want at most the published 2 s target", i+1, d)
		}
	}
}
