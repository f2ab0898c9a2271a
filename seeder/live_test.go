package seeder

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// newTestIngest builds an ingest on a stepped clock with a logger the test can inspect.
func newTestIngest(t *testing.T, src string, clock Clock, pub Publisher, configure func(*Config)) (*Ingest, *logBuffer) {
	t.Helper()
	log, lb := newTestLogger(t)
	cfg := Config{Source: src, Key: testKey(1), Name: "test stream", Clock: clock, Logger: log,
		HTTPClient: &http.Client{}, RequestTimeout: 5 * time.Second}
	if configure != nil {
		configure(&cfg)
	}
	in, err := New(cfg, pub)
	if err != nil {
		t.Fatal(err)
	}
	return in, lb
}

func TestLiveFollowsOrigin(t *testing.T) {
	clk := newStepClock()
	o := newLiveOrigin(t, clk, nil)
	rec := newRecorder()
	in, _ := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	rec.waitMedia(t, 10)
	if err := run.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	checkPublished(t, rec, testKey(1))

	d := rec.descriptor(t)
	if d != in.Descriptor() {
		t.Error("Descriptor() is not the published descriptor")
	}
	if d.TargetDuration != 2*time.Second || d.WindowDuration != 30*time.Second || d.PieceSize != 32768 ||
		d.Origin != o.URL() || d.Name != "test stream" || len(d.Renditions) != 1 || d.Renditions[0].URI != o.URL() {
		t.Errorf("descriptor: %+v", d)
	}
	ms := rec.media()
	// Four segments are complete at the start; the backlog of three target durations
	// takes the newest three.
	if ms[0].rec.MediaSeq != 1 {
		t.Errorf("first published media sequence %d, want 1 (a backlog of 3 target durations)", ms[0].rec.MediaSeq)
	}
	requireContiguous(t, ms)
	for _, p := range ms {
		r := p.rec
		if !bytes.Equal(p.data, o.segData(0, r.MediaSeq)) {
			t.Fatalf("segment %d: data differs from the origin's", r.MediaSeq)
		}
		wantPDT := o.start.Add(time.Duration(r.MediaSeq) * 2 * time.Second)
		if r.URI != o.segName(0, r.MediaSeq) || r.Duration != 2*time.Second || !r.ProgramDateTime.Equal(wantPDT) ||
			r.Flags != 0 || r.InitPiece != protocol.NoPiece || r.OriginOffset != 0 {
			t.Fatalf("segment %d: record %+v", r.MediaSeq, r)
		}
		if r.Published.Before(testStart) || r.Published.After(clk.Now()) {
			t.Fatalf("segment %d: published %v outside the test's clock range", r.MediaSeq, r.Published)
		}
		if r.FirstPiece < uint64(testStart.UnixMilli()) {
			t.Fatalf("segment %d: first piece %d below the start time in ms", r.MediaSeq, r.FirstPiece)
		}
	}
	// RFC 8216 §6.3.4: at least half a target duration between reloads.
	elapsed := clk.Now().Sub(testStart)
	if hits := o.hitCount("index.m3u8"); hits > int(elapsed/time.Second)+2 {
		t.Errorf("%d playlist loads in %v of simulated time: reloading too often", hits, elapsed)
	}
	st := in.Stats()
	if st.Segments != int64(len(ms)) || st.LastMediaSeq != ms[len(ms)-1].rec.MediaSeq || st.Skipped != 0 || st.PlaylistErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestPlaylistFaults(t *testing.T) {
	const pl = "index.m3u8"
	cases := []struct {
		name    string
		fault   func(from, to int) faultFunc
		want    string
		timeout time.Duration
	}{
		{"404", func(a, b int) faultFunc { return statusFor(pl, a, b, http.StatusNotFound) }, "HTTP 404", 0},
		{"500", func(a, b int) faultFunc { return statusFor(pl, a, b, http.StatusInternalServerError) }, "HTTP 500", 0},
		{"timeout", func(a, b int) faultFunc { return hangFor(pl, a, b) }, "timed out", 150 * time.Millisecond},
		{"garbage", func(a, b int) faultFunc { return bodyFor(pl, a, b, []byte("<html>oops</html>")) }, "does not start with #EXTM3U", 0},
		{"binary", func(a, b int) faultFunc { return bodyFor(pl, a, b, []byte{0, 1, 2, 0xff, 0xfe}) }, "does not start with #EXTM3U", 0},
		{"malformed", func(a, b int) faultFunc {
			return bodyFor(pl, a, b, []byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:abc,\nx.ts\n"))
		}, "malformed playlist", 0},
		{"no target duration", func(a, b int) faultFunc {
			return bodyFor(pl, a, b, []byte("#EXTM3U\n#EXTINF:2,\nx.ts\n"))
		}, "without EXT-X-TARGETDURATION", 0},
		{"too large", func(a, b int) faultFunc {
			return bodyFor(pl, a, b, append([]byte("#EXTM3U\n"), bytes.Repeat([]byte("#X\n"), 3000)...))
		}, "response too large", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newStepClock()
			o := newLiveOrigin(t, clk, func(o *liveOrigin) { o.window = 10 })
			// Fail at start-up (before anything is known) and again mid-stream.
			o.setFault(faults(tc.fault(1, 2), tc.fault(5, 6)))
			rec := newRecorder()
			in, lb := newTestIngest(t, o.URL(), clk, rec, func(c *Config) {
				c.MaxPlaylistBytes = 4096
				if tc.timeout > 0 {
					c.RequestTimeout = tc.timeout
				}
			})
			run := runIngest(t, in)
			rec.waitFor(t, func() bool { return o.hitCount(pl) > 8 && len(rec.media()) >= 8 }, "8 records after the faults")
			run.stop(t)
			checkPublished(t, rec, testKey(1))
			requireContiguous(t, rec.media())
			for _, s := range []string{"playlist load failed; retrying", tc.want, "playlist loads again"} {
				if !lb.has(s) {
					t.Errorf("log lacks %q", s)
				}
			}
			if st := in.Stats(); st.PlaylistErrors != 4 || st.Skipped != 0 {
				t.Errorf("stats %+v, want 4 playlist errors and nothing skipped", st)
			}
		})
	}
}

func TestSegmentFaults(t *testing.T) {
	const seg = "e0-seg5.ts"
	o0 := &liveOrigin{}
	cases := []struct {
		name    string
		fault   faultFunc
		want    string
		skipped bool
		timeout time.Duration
		max     int64
	}{
		{"404 twice", statusFor(seg, 1, 2, http.StatusNotFound), "HTTP 404", false, 0, 0},
		{"404 for good", statusFor(seg, 1, 100, http.StatusNotFound), "giving up on a segment", true, 0, 0},
		{"500 once", statusFor(seg, 1, 1, http.StatusServiceUnavailable), "HTTP 503", false, 0, 0},
		{"timeout once", hangFor(seg, 1, 1), "timed out", false, 150 * time.Millisecond, 0},
		{"truncated once", truncateFor(seg, 1, 1, o0.segData(0, 5)), "truncated response", false, 0, 0},
		{"too large", bodyFor(seg, 1, 100, make([]byte, 120000)), "response too large", true, 0, 100000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newStepClock()
			o := newLiveOrigin(t, clk, func(o *liveOrigin) { o.window = 10 })
			o.setFault(tc.fault)
			rec := newRecorder()
			in, lb := newTestIngest(t, o.URL(), clk, rec, func(c *Config) {
				if tc.timeout > 0 {
					c.RequestTimeout = tc.timeout
				}
				if tc.max > 0 {
					c.MaxSegmentBytes = tc.max
				}
			})
			run := runIngest(t, in)
			waitForSeq(t, rec, 9)
			run.stop(t)
			checkPublished(t, rec, testKey(1))
			if !lb.has(tc.want) {
				t.Errorf("log lacks %q", tc.want)
			}
			var got []uint64
			for _, p := range rec.media() {
				if !bytes.Equal(p.data, o.segData(0, p.rec.MediaSeq)) {
					t.Fatalf("segment %d: data differs from the origin's", p.rec.MediaSeq)
				}
				got = append(got, p.rec.MediaSeq)
			}
			has5 := false
			for _, s := range got {
				has5 = has5 || s == 5
			}
			st := in.Stats()
			if tc.skipped {
				if has5 || st.Skipped != 1 || st.SegmentErrors != 3 {
					t.Errorf("published %v, stats %+v: want segment 5 skipped after 3 attempts", got, st)
				}
			} else {
				requireContiguous(t, rec.media())
				if !has5 || st.Skipped != 0 || st.SegmentErrors == 0 {
					t.Errorf("published %v, stats %+v: want segment 5 published after a retry", got, st)
				}
				if !lb.has("segment fetch failed; will retry") {
					t.Error("the failed attempt was not logged")
				}
			}
		})
	}
}

func TestPlaylistStopsUpdating(t *testing.T) {
	clk := newStepClock()
	freezeFrom, freezeTo := testStart.Add(6*time.Second), testStart.Add(26*time.Second)
	o := newLiveOrigin(t, clk, func(o *liveOrigin) {
		o.window = 20
		o.frozen = func(now time.Time) bool { return !now.Before(freezeFrom) && now.Before(freezeTo) }
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	var sawStall bool
	rec.waitFor(t, func() bool {
		sawStall = sawStall || in.Stats().Stalled
		return lb.has("playlist is updating again") && len(rec.media()) >= 16
	}, "the playlist to resume")
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	requireContiguous(t, rec.media())
	log := lb.String()
	stall, resume := strings.Index(log, "playlist stopped updating"), strings.Index(log, "playlist is updating again")
	if stall < 0 || resume < stall {
		t.Fatalf("want a stall warning followed by a resume notice")
	}
	if in.Stats().Stalled {
		t.Error("still marked stalled after the playlist resumed")
	}
	// Polling went on during the 20 s freeze, at half the target duration.
	if hits := o.hitCount("index.m3u8"); hits < 20 {
		t.Errorf("only %d playlist loads", hits)
	}
}

func TestMediaSequenceGap(t *testing.T) {
	clk := newStepClock()
	o := newLiveOrigin(t, clk, func(o *liveOrigin) { o.window = 3 })
	// The origin is unreachable for a while: the ingest backs off, and segments fall
	// out of the three-segment playlist before they can be fetched.
	o.setFault(statusFor("index.m3u8", 3, 7, http.StatusServiceUnavailable))
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	rec.waitFor(t, func() bool { return o.hitCount("index.m3u8") > 8 && len(rec.media()) >= 10 }, "records after the outage")
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	gap := false
	for i := 1; i < len(ms); i++ {
		gap = gap || ms[i].rec.MediaSeq > ms[i-1].rec.MediaSeq+1
	}
	if !gap || !lb.has("media sequence gap") {
		t.Fatalf("published %v: want a logged gap", seqs(ms))
	}
	if st := in.Stats(); st.Skipped == 0 {
		t.Errorf("stats %+v: skipped segments not counted", st)
	}
}

func TestEndlist(t *testing.T) {
	clk := newStepClock()
	o := newLiveOrigin(t, clk, func(o *liveOrigin) { o.endAfter = 9 })
	rec := newRecorder()
	in, _ := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	if err := run.wait(t); err != nil {
		t.Fatalf("Run returned %v after ENDLIST, want nil", err)
	}
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	requireContiguous(t, ms)
	last := ms[len(ms)-1].rec
	if last.MediaSeq != 8 || last.Flags&protocol.FlagEnd == 0 {
		t.Fatalf("last record: seq %d flags %#x, want seq 8 with FlagEnd", last.MediaSeq, last.Flags)
	}
	for _, p := range ms[:len(ms)-1] {
		if p.rec.Flags&protocol.FlagEnd != 0 {
			t.Fatalf("segment %d carries FlagEnd", p.rec.MediaSeq)
		}
	}
	if !in.Stats().Ended {
		t.Error("stats do not say ended")
	}
}

func TestEncoderRestart(t *testing.T) {
	clk := newStepClock()
	o := newLiveOrigin(t, clk, func(o *liveOrigin) {
		o.fmp4 = true
		o.restartAt = testStart.Add(10 * time.Second)
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.URL(), clk, rec, nil)
	run := runIngest(t, in)
	rec.waitFor(t, func() bool {
		n := 0
		for _, p := range rec.media() {
			if bytes.HasPrefix(p.data, []byte("E1")) {
				n++
			}
		}
		return n >= 4
	}, "4 segments after the restart")
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	requireContiguous(t, ms)
	if !lb.has("media sequence restarted at the origin") {
		t.Error("restart not logged")
	}
	for i, p := range ms {
		if !bytes.HasPrefix(p.data, []byte("E1")) {
			continue
		}
		prev := ms[i-1].rec
		if p.rec.Flags&protocol.FlagDiscontinuity == 0 || p.rec.DiscontinuitySeq != prev.DiscontinuitySeq+1 {
			t.Fatalf("first segment after the restart: flags %#x disc %d (previous %d)", p.rec.Flags, p.rec.DiscontinuitySeq, prev.DiscontinuitySeq)
		}
		if !bytes.Equal(p.data, o.segData(1, 0)) {
			t.Fatal("first segment after the restart is not the new encoder's first")
		}
		// The new encoder's init segment is published before it and referenced.
		var initRec *protocol.Record
		for _, q := range rec.all() {
			if q.rec.IsInit() && q.rec.FirstPiece < p.rec.FirstPiece && bytes.Equal(q.data, o.initData(1)) {
				initRec = &q.rec
			}
		}
		if initRec == nil || p.rec.InitPiece != initRec.FirstPiece || initRec.URI != o.initName(1) {
			t.Fatal("the new encoder's init segment was not published and referenced")
		}
		break
	}
}

func TestFMP4InitSegments(t *testing.T) {
	clk := newStepClock()
	o := newLiveOrigin(t, clk, func(o *liveOrigin) { o.fmp4 = true })
	rec := newRecorder()
	in, _ := newTestIngest(t, o.URL(), clk, rec, func(c *Config) { c.InitRefresh = 7 * time.Second })
	run := runIngest(t, in)
	rec.waitMedia(t, 12)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	all := rec.all()
	if !all[0].rec.IsInit() {
		t.Fatal("the first record is not the init segment")
	}
	var cur *protocol.Record
	inits, media := 0, 0
	for i := range all {
		r := &all[i].rec
		if r.IsInit() {
			if r.Duration != 0 || r.InitPiece != protocol.NoPiece || r.URI != "init-e0.mp4" || !bytes.Equal(all[i].data, o.initData(0)) {
				t.Fatalf("init record %+v", r)
			}
			if next := all[i+1].rec; next.IsInit() || r.MediaSeq != next.MediaSeq {
				t.Fatalf("init record seq %d not followed by its first media segment", r.MediaSeq)
			}
			cur = r
			inits++
			continue
		}
		media++
		if cur == nil || r.InitPiece != cur.FirstPiece {
			t.Fatalf("segment %d: init piece %d, want %d", r.MediaSeq, r.InitPiece, cur.FirstPiece)
		}
		if r.Published.Sub(cur.Published) >= 7*time.Second {
			t.Fatalf("segment %d refers to an init segment %v old, beyond the refresh age", r.MediaSeq, r.Published.Sub(cur.Published))
		}
	}
	// Refreshed every 7 s of 2 s segments: not once, not every segment.
	if inits < 3 || inits > media/2 {
		t.Errorf("%d init records for %d media records", inits, media)
	}
	if st := in.Stats(); st.InitSegments != int64(inits) {
		t.Errorf("stats %+v", st)
	}
}
