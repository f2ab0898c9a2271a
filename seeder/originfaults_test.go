package seeder

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An origin behind a flapping CDN serves every third playlist load from an edge that is
// three segments behind: the media sequence goes backwards and forwards again. Nothing is
// published twice, nothing is skipped, no restart is assumed.
func TestMediaSequenceGoesBackwards(t *testing.T) {
	clk := newStepClock()
	o := newLiveOrigin(t, clk, func(o *liveOrigin) { o.window = 6 })
	o.setFault(func(w http.ResponseWriter, r *http.Request, name string, hit int) bool {
		if name != "index.m3u8" || hit%3 != 0 {
			return false
		}
		o.mu.Lock()
		body := o.playlist(clk.Now().Add(-3 * o.segDur))
		o.mu.Unlock()
		w.Write(body)
		return true
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	rec.waitFor(t, func() bool { return o.hitCount("index.m3u8") >= 12 && len(rec.media()) >= 10 }, "10 records over stale loads")
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	requireContiguous(t, rec.media())
	for _, p := range rec.media() {
		if !bytes.Equal(p.data, o.segData(0, p.rec.MediaSeq)) {
			t.Fatalf("segment %d differs from the origin's", p.rec.MediaSeq)
		}
	}
	if lb.has("media sequence restarted") {
		t.Error("a stale playlist was taken for an encoder restart")
	}
	if st := in.Stats(); st.Skipped != 0 {
		t.Errorf("stats %+v: nothing should be skipped", st)
	}
}

// The origin replaces a segment's bytes under the same URI after the seeder fetched it. The
// published record keeps the first bytes (records are immutable), the replacement is never
// published, and later segments continue normally. A viewer that fetches the replaced bytes
// from the origin fails to verify them against the record and never plays them (engine
// tests cover origin data that fails its hash).
func TestSegmentReplacedUnderSameURI(t *testing.T) {
	clk := newStepClock()
	o := newLiveOrigin(t, clk, func(o *liveOrigin) { o.window = 10 })
	const seg = "e0-seg5.ts"
	replaced := bytes.Repeat([]byte("REPLACED"), 1000)
	o.setFault(func(w http.ResponseWriter, r *http.Request, name string, hit int) bool {
		if name != seg || hit < 2 {
			return false
		}
		w.Write(replaced)
		return true
	})
	rec := newRecorder()
	in, _ := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	waitForSeq(t, rec, 9)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	requireContiguous(t, rec.media())
	n5 := 0
	for _, p := range rec.media() {
		if p.rec.MediaSeq == 5 {
			n5++
		}
		if !bytes.Equal(p.data, o.segData(0, p.rec.MediaSeq)) {
			t.Fatalf("segment %d: published bytes are not the origin's first version", p.rec.MediaSeq)
		}
	}
	if n5 != 1 || o.hitCount(seg) != 1 {
		t.Fatalf("segment 5 published %d times, fetched %d times; want once each", n5, o.hitCount(seg))
	}
}

// A playlist that suddenly lists hundreds of new segments (an origin stuck and then
// flushed, or a faulty one): the seeder publishes only the newest window of them, records
// the rest as skipped, and does not fetch them.
func TestPlaylistGrowsByHundreds(t *testing.T) {
	clk := newStepClock()
	const jump = 600
	o := newLiveOrigin(t, clk, func(o *liveOrigin) { o.window = jump + 10 })
	var jumped bool
	o.setFault(func(w http.ResponseWriter, r *http.Request, name string, hit int) bool {
		if name != "index.m3u8" || hit < 4 {
			return false
		}
		o.mu.Lock()
		jumped = true
		body := o.playlist(clk.Now().Add(jump * o.segDur))
		o.mu.Unlock()
		w.Write(body)
		return true
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, func(c *Config) { c.WindowDuration = 30 * time.Second })
	run := runIngest(t, in)
	waitForSeq(t, rec, jump+8)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	if !jumped {
		t.Fatal("the origin never jumped")
	}
	ms := rec.media()
	fetched := 0
	for seq := uint64(0); seq < jump+20; seq++ {
		fetched += o.hitCount(o.segName(0, seq))
	}
	st := in.Stats()
	t.Logf("published %d segments (last %d), fetched %d, skipped %d", len(ms), ms[len(ms)-1].rec.MediaSeq, fetched, st.Skipped)
	if fetched > 40 || len(ms) > 40 {
		t.Fatalf("fetched %d and published %d segments: the jump was not cut to the window", fetched, len(ms))
	}
	if st.Skipped < jump-40 || !lb.has("media sequence gap") {
		t.Fatalf("stats %+v: want the segments beyond the window counted as skipped and a logged gap", st)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].rec.MediaSeq <= ms[i-1].rec.MediaSeq {
			t.Fatalf("media sequence %d after %d", ms[i].rec.MediaSeq, ms[i-1].rec.MediaSeq)
		}
	}
}

// A slow-drip origin sends its playlist and a segment a few bytes at a time, never stalling
// long enough for an idle timeout. The per-request deadline cuts both off; the ingest
// retries, skips the segment after its attempts, and goes on once the origin is healthy.
func TestSlowDripOrigin(t *testing.T) {
	clk := newStepClock()
	o := newLiveOrigin(t, clk, func(o *liveOrigin) { o.window = 10 })
	const seg = "e0-seg5.ts"
	drip := func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		for i := range body {
			if _, err := w.Write(body[i : i+1]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	o.setFault(func(w http.ResponseWriter, r *http.Request, name string, hit int) bool {
		switch {
		case name == seg:
			drip(w, r, o.segData(0, 5))
			return true
		case name == "index.m3u8" && (hit == 2 || hit == 3):
			o.mu.Lock()
			body := o.playlist(clk.Now())
			o.mu.Unlock()
			drip(w, r, body)
			return true
		}
		return false
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	run := runIngest(t, in)
	waitForSeq(t, rec, 9)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	st := in.Stats()
	var got []string
	for _, p := range rec.media() {
		got = append(got, strconv.FormatUint(p.rec.MediaSeq, 10))
		if p.rec.MediaSeq == 5 {
			t.Fatal("the dripped segment was published")
		}
	}
	t.Logf("published %s; stats %+v", strings.Join(got, ","), st)
	if st.Skipped != 1 || st.SegmentErrors != 3 || st.PlaylistErrors != 2 || !lb.has("timed out") {
		t.Fatalf("stats %+v: want 2 playlist errors, 3 failed attempts at segment 5 and it skipped", st)
	}
}

// waitForSeq waits until a media record with sequence seq or later is published.
func waitForSeq(t *testing.T, rec *recorder, seq uint64) {
	t.Helper()
	rec.waitFor(t, func() bool {
		ms := rec.media()
		return len(ms) > 0 && ms[len(ms)-1].rec.MediaSeq >= seq
	}, "media sequence %d", seq)
}
