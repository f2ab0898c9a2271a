package leecher

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/hls-m3u8/m3u8"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

func data(label string) []byte { return prototest.SegmentData(label, 1000) }

func playlistText(t *testing.T, out *Output) string {
	t.Helper()
	out.mu.Lock()
	body, ok, err := out.playlistLocked()
	out.mu.Unlock()
	if err != nil || !ok {
		t.Fatalf("playlist: ok=%v err=%v", ok, err)
	}
	return string(body)
}

// decodePlaylist parses a rendered playlist back with hls-m3u8 in strict mode.
func decodePlaylist(t *testing.T, text string) *m3u8.MediaPlaylist {
	t.Helper()
	p, err := m3u8.NewMediaPlaylist(0, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.DecodeFrom(strings.NewReader(text), true); err != nil {
		t.Fatalf("hls-m3u8 cannot parse the playlist: %v\n%s", err, text)
	}
	return p
}

func checkGolden(t *testing.T, out *Output, want string) *m3u8.MediaPlaylist {
	t.Helper()
	got := playlistText(t, out)
	if got != want {
		t.Fatalf("playlist:\n%s\nwant:\n%s", got, want)
	}
	return decodePlaylist(t, got)
}

type wantSeg struct {
	uri   string
	disc  bool
	pdt   string // RFC 3339, "" = none
	mapTo string // EXT-X-MAP URI in effect, "" = none
}

func checkDecoded(t *testing.T, p *m3u8.MediaPlaylist, seqNo uint64, dseq uint64, closed bool, want []wantSeg) {
	t.Helper()
	if p.SeqNo != seqNo || p.DiscontinuitySeq != dseq || p.Closed != closed {
		t.Fatalf("decoded SeqNo %d DiscontinuitySeq %d Closed %v, want %d %d %v",
			p.SeqNo, p.DiscontinuitySeq, p.Closed, seqNo, dseq, closed)
	}
	segs := p.GetAllSegments()
	if len(segs) != len(want) {
		t.Fatalf("decoded %d segments, want %d", len(segs), len(want))
	}
	mapURI := ""
	if p.Map != nil {
		mapURI = p.Map.URI
	}
	for i, s := range segs {
		if s.Map != nil {
			mapURI = s.Map.URI
		}
		pdt := ""
		if !s.ProgramDateTime.IsZero() {
			pdt = s.ProgramDateTime.UTC().Format(time.RFC3339Nano)
		}
		got := wantSeg{uri: s.URI, disc: s.Discontinuity, pdt: pdt, mapTo: mapURI}
		if got != want[i] || s.SeqId != seqNo+uint64(i) {
			t.Fatalf("segment %d: %+v seq %d, want %+v seq %d", i, got, s.SeqId, want[i], seqNo+uint64(i))
		}
	}
}

// MPEG-TS: the window slides (MEDIA-SEQUENCE follows), a flagged discontinuity and a lost
// segment both become EXT-X-DISCONTINUITY, DISCONTINUITY-SEQUENCE counts the tags that
// slid out, PROGRAM-DATE-TIME is written per segment, and ENDLIST follows the last one.
func TestPlaylistGoldenSlidingDiscontinuityEnd(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{PlaylistSegments: 3, KeepSegments: 4, Logger: testLogger(t)})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	deliver := func(seq uint64, dur time.Duration, flags uint8, pdt time.Time) {
		r := protocol.Record{MediaSeq: seq, Flags: flags, Duration: dur, ProgramDateTime: pdt,
			InitPiece: protocol.NoPiece, URI: "a/seg" + strconv.FormatUint(seq, 10) + ".ts"}
		d := data("ts" + strconv.FormatUint(seq, 10))
		out.Deliver(Segment{Record: pub.sign(r, d), Data: d})
	}
	deliver(10, 2*time.Second, 0, t0)
	deliver(11, 2500*time.Millisecond, 0, t0.Add(2*time.Second))
	deliver(12, 2*time.Second, protocol.FlagDiscontinuity, t0.Add(4500*time.Millisecond))

	p := checkGolden(t, out, `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-TARGETDURATION:3
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:05Z
#EXTINF:2.000,
seg/10.ts
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:07Z
#EXTINF:2.500,
seg/11.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:09.5Z
#EXTINF:2.000,
seg/12.ts
`)
	checkDecoded(t, p, 10, 0, false, []wantSeg{
		{"seg/10.ts", false, "2026-01-02T03:04:05Z", ""},
		{"seg/11.ts", false, "2026-01-02T03:04:07Z", ""},
		{"seg/12.ts", true, "2026-01-02T03:04:09.5Z", ""},
	})

	// Segment 13 is lost: 14 becomes local sequence 13, after a discontinuity. No date.
	out.Skip(13, 1, "evicted before it completed")
	deliver(14, 2*time.Second, 0, time.Time{})
	p = checkGolden(t, out, `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:11
#EXT-X-TARGETDURATION:3
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:07Z
#EXTINF:2.500,
seg/11.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:09.5Z
#EXTINF:2.000,
seg/12.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.000,
seg/13.ts
`)
	checkDecoded(t, p, 11, 0, false, []wantSeg{
		{"seg/11.ts", false, "2026-01-02T03:04:07Z", ""},
		{"seg/12.ts", true, "2026-01-02T03:04:09.5Z", ""},
		{"seg/13.ts", true, "", ""},
	})

	// Two more slide both tags' segments towards the front: the first listed segment
	// keeps its own tag (it counts from the sequence before it), then the tag slides out.
	deliver(15, 2*time.Second, 0, time.Time{})
	p = checkGolden(t, out, `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:12
#EXT-X-TARGETDURATION:3
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-02T03:04:09.5Z
#EXTINF:2.000,
seg/12.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.000,
seg/13.ts
#EXTINF:2.000,
seg/14.ts
`)
	checkDecoded(t, p, 12, 0, false, []wantSeg{
		{"seg/12.ts", true, "2026-01-02T03:04:09.5Z", ""},
		{"seg/13.ts", true, "", ""},
		{"seg/14.ts", false, "", ""},
	})
	deliver(16, 1500*time.Millisecond, protocol.FlagEnd, time.Time{})
	p = checkGolden(t, out, `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:13
#EXT-X-TARGETDURATION:3
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-DISCONTINUITY
#EXTINF:2.000,
seg/13.ts
#EXTINF:2.000,
seg/14.ts
#EXTINF:1.500,
seg/15.ts
#EXT-X-ENDLIST
`)
	checkDecoded(t, p, 13, 1, true, []wantSeg{
		{"seg/13.ts", true, "", ""},
		{"seg/14.ts", false, "", ""},
		{"seg/15.ts", false, "", ""},
	})

	// After the end nothing more is listed.
	deliver(17, 2*time.Second, 0, time.Time{})
	if st := out.Stats(); st.SegmentsDelivered != 6 || st.SegmentsLost != 2 || st.SegmentsRejected != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// fMP4: EXT-X-MAP before the first segment and again where the init segment changes,
// VERSION 7, and the init is found by the segment that does not repeat it.
func TestPlaylistGoldenMapChange(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{TargetDuration: 4 * time.Second, Logger: testLogger(t)})
	initA, initAData := pub.initSeg(data("initA")), data("initA")
	s0 := pub.segment(0, 2*time.Second, 0, initA, data("f0"))
	s1 := pub.segment(1, 2*time.Second, 0, initA, data("f1"))
	initB, initBData := pub.initSeg(data("initB")), data("initB")
	s2 := pub.segment(2, 2*time.Second, protocol.FlagDiscontinuity, initB, data("f2"))
	s3 := pub.segment(3, 2*time.Second, 0, initB, data("f3"))
	out.Deliver(Segment{Record: s0, Data: data("f0"), Init: initA, InitData: initAData})
	out.Deliver(Segment{Record: s1, Data: data("f1")}) // the engine gives an init only when it changes
	out.Deliver(Segment{Record: s2, Data: data("f2"), Init: initB, InitData: initBData})
	out.Deliver(Segment{Record: s3, Data: data("f3")})
	if initA.FirstPiece != 100 || initB.FirstPiece != 112 {
		t.Fatalf("piece allocation changed: %d %d", initA.FirstPiece, initB.FirstPiece)
	}
	p := checkGolden(t, out, `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-TARGETDURATION:4
#EXT-X-MAP:URI="init/100.mp4"
#EXTINF:2.000,
seg/0.m4s
#EXTINF:2.000,
seg/1.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init/112.mp4"
#EXTINF:2.000,
seg/2.m4s
#EXTINF:2.000,
seg/3.m4s
`)
	checkDecoded(t, p, 0, 0, false, []wantSeg{
		{"seg/0.m4s", false, "", "init/100.mp4"},
		{"seg/1.m4s", false, "", "init/100.mp4"},
		{"seg/2.m4s", true, "", "init/112.mp4"},
		{"seg/3.m4s", false, "", "init/112.mp4"},
	})

	// Every listed URI resolves against the playlist URL to what was delivered.
	srv := httptest.NewServer(out)
	defer srv.Close()
	for uri, want := range map[string][]byte{
		"init/100.mp4": initAData, "init/112.mp4": initBData, "seg/1.m4s": data("f1"), "seg/3.m4s": data("f3"),
	} {
		resp, err := http.Get(srv.URL + "/" + uri)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != string(want) {
			t.Fatalf("%s: %d, %d bytes", uri, resp.StatusCode, len(body))
		}
	}

	// A segment naming an init segment that was never delivered cannot be played.
	bad := pub.segment(4, 2*time.Second, 0, &protocol.Record{FirstPiece: 7}, data("f4"))
	out.Deliver(Segment{Record: bad, Data: data("f4")})
	if st := out.Stats(); st.SegmentsRejected != 1 || st.SegmentsDelivered != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// Before any segment the playlist is not rendered; Close without segments gives an empty
// ended playlist.
func TestPlaylistEmptyThenClosed(t *testing.T) {
	out := NewOutput(Config{Logger: testLogger(t)})
	out.mu.Lock()
	_, ok, _ := out.playlistLocked()
	out.mu.Unlock()
	if ok {
		t.Fatal("a playlist without segments was rendered")
	}
	out.Close()
	p := checkGolden(t, out, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:1\n#EXT-X-ENDLIST\n")
	if !p.Closed || p.Count() != 0 {
		t.Fatalf("closed %v count %d", p.Closed, p.Count())
	}
}

func TestTargetSeconds(t *testing.T) {
	for _, c := range []struct {
		declared, longest time.Duration
		want              int
	}{
		{0, 0, 1},
		{2 * time.Second, 0, 2},
		{2 * time.Second, 2002 * time.Millisecond, 2}, // rounds to 2 (RFC 8216 §4.3.3.1)
		{2 * time.Second, 2600 * time.Millisecond, 3},
		{6 * time.Second, 2 * time.Second, 6},
		{0, 1500 * time.Millisecond, 2},
		{1500 * time.Millisecond, 900 * time.Millisecond, 2},
	} {
		if got := targetSeconds(c.declared, c.longest); got != c.want {
			t.Errorf("targetSeconds(%v, %v) = %d, want %d", c.declared, c.longest, got, c.want)
		}
	}
}

// The engine hands an init segment over once; if the segment carrying it is refused, the
// segments after it still find it.
func TestInitSurvivesRefusedSegment(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{Logger: testLogger(t)})
	in := pub.initSeg(data("init"))
	s0 := pub.segment(0, 2*time.Second, 0, in, data("f0"))
	s1 := pub.segment(1, 2*time.Second, 0, in, data("f1"))
	out.Deliver(Segment{Record: s0, Data: data("f0")[:10], Init: in, InitData: data("init")}) // truncated data
	out.Deliver(Segment{Record: s1, Data: data("f1")})
	p := decodePlaylist(t, playlistText(t, out))
	segs := p.GetAllSegments()
	if len(segs) != 1 || p.Map == nil || p.Map.URI != "init/"+strconv.FormatUint(in.FirstPiece, 10)+".mp4" {
		t.Fatalf("playlist:\n%s", playlistText(t, out))
	}
	if st := out.Stats(); st.SegmentsRejected != 1 || st.SegmentsLost != 1 || st.SegmentsDelivered != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPlaylistHoldsThreeTargetDurations: by default the playlist lists at least three target
// durations (RFC 8216 §6.2.2), here 15 segments of 2 s under a 10 s target rather than 6, and
// a segment that left it stays fetchable.
func TestPlaylistHoldsThreeTargetDurations(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{TargetDuration: 10 * time.Second, Logger: testLogger(t)})
	deliver := func(seq uint64) {
		d := data("seg" + strconv.FormatUint(seq, 10))
		out.Deliver(Segment{Record: pub.segment(seq, 2*time.Second, 0, nil, d), Data: d})
	}
	deliver(0)
	playlistText(t, out) // the first playlist fixes the target: 10 s
	for seq := uint64(1); seq < 40; seq++ {
		deliver(seq)
	}
	p := decodePlaylist(t, playlistText(t, out))
	var listed time.Duration
	for _, s := range p.GetAllSegments() {
		listed += time.Duration(s.Duration * float64(time.Second))
	}
	if p.TargetDuration != 10 || listed < 30*time.Second {
		t.Fatalf("target %v s, %v listed; want 10 s and at least 30 s", p.TargetDuration, listed)
	}
	oldest := p.SeqNo - 1 // left the playlist
	out.mu.Lock()
	e, _ := out.win.find(oldest)
	out.mu.Unlock()
	if e == nil {
		t.Fatalf("segment %d left the playlist and is no longer held", oldest)
	}
}

// TestPlaylistTargetFixed: EXT-X-TARGETDURATION is fixed by the first playlist (RFC 8216
// §6.2.1): a later 6.4 s segment (6 when rounded, §4.3.3.1), a later declared target, or a
// publisher's overlong segment do not change it.
func TestPlaylistTargetFixed(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{TargetDuration: 6 * time.Second, Logger: testLogger(t)})
	deliver := func(seq uint64, dur time.Duration) {
		d := data("seg" + strconv.FormatUint(seq, 10))
		out.Deliver(Segment{Record: pub.segment(seq, dur, 0, nil, d), Data: d})
	}
	deliver(0, 6*time.Second)
	// The text, not a decoder's view: decoders raise the target to fit long segments.
	const fixed = "#EXT-X-TARGETDURATION:6\n"
	if pl := playlistText(t, out); !strings.Contains(pl, fixed) {
		t.Fatalf("want a target of 6:\n%s", pl)
	}
	deliver(1, 6400*time.Millisecond)
	out.SetTargetDuration(8 * time.Second)
	deliver(2, 7600*time.Millisecond)
	if pl := playlistText(t, out); !strings.Contains(pl, fixed) {
		t.Fatalf("target changed:\n%s", pl)
	}
}

// TestPlaylistMapEndsAtSwitchToTS: after a switch from fMP4 to MPEG-TS the playlist lists
// only the MPEG-TS segments: no tag ends an EXT-X-MAP (RFC 8216 §4.3.2.5), so listed after
// fMP4 ones they would be read with the fMP4 init segment.
func TestPlaylistMapEndsAtSwitchToTS(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{TargetDuration: 2 * time.Second, Logger: testLogger(t)})
	initA := pub.initSeg(data("initA"))
	out.Deliver(Segment{Record: pub.segment(0, 2*time.Second, 0, initA, data("f0")), Data: data("f0"), Init: initA, InitData: data("initA")})
	out.Deliver(Segment{Record: pub.segment(1, 2*time.Second, 0, initA, data("f1")), Data: data("f1")})
	for seq := uint64(2); seq < 4; seq++ {
		out.Deliver(Segment{Record: pub.segment(seq, 2*time.Second, protocol.FlagDiscontinuity*uint8(3-seq), nil, data("t")), Data: data("t")})
	}
	pl := playlistText(t, out)
	if strings.Contains(pl, "EXT-X-MAP") || strings.Contains(pl, ".m4s") || !strings.Contains(pl, "seg/3.ts") {
		t.Fatalf("fMP4 segments or their map listed before MPEG-TS ones:\n%s", pl)
	}
}
