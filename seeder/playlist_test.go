package seeder

import (
	"strings"
	"testing"
	"time"
)

func mustMedia(t *testing.T, text string) *mediaPlaylist {
	t.Helper()
	m, master, err := parsePlaylist([]byte(text))
	if err != nil || master != nil {
		t.Fatalf("parse: %v (master %v)", err, master != nil)
	}
	return m
}

func TestParseMediaPlaylist(t *testing.T) {
	m := mustMedia(t, `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-DISCONTINUITY-SEQUENCE:7
#EXT-X-MAP:URI="a/init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2025-06-01T12:00:00.000Z
#EXTINF:2.002,
s100.m4s
#EXTINF:1.5,title
s101.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="b/init.mp4",BYTERANGE="800@16"
#EXTINF:2,
s102.m4s
#EXT-X-GAP
#EXTINF:2,
s103.m4s
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2025-06-01T13:00:00Z
#EXTINF:2,
#EXT-X-BYTERANGE:1000@50
big.m4s
#EXTINF:2,
#EXT-X-BYTERANGE:500
big.m4s
`)
	// The parser would report 3 (max with the rounded-up 2.002 s EXTINF).
	if m.target != 2*time.Second || m.mediaSeq != 100 || m.discSeq != 7 || m.ended || len(m.segments) != 6 {
		t.Fatalf("playlist %+v", m)
	}
	type want struct {
		seq     uint64
		disc    uint64
		flag    bool
		dur     time.Duration
		pdt     string
		init    string
		initRng byteRange
		rng     byteRange
	}
	wants := []want{
		{100, 7, false, 2002 * time.Millisecond, "12:00:00", "a/init.mp4", wholeResource, wholeResource},
		{101, 7, false, 1500 * time.Millisecond, "12:00:02.002", "a/init.mp4", wholeResource, wholeResource},
		{102, 8, true, 2 * time.Second, "", "b/init.mp4", byteRange{16, 800}, wholeResource},
		{103, 8, false, 2 * time.Second, "", "b/init.mp4", byteRange{16, 800}, wholeResource},
		{104, 9, true, 2 * time.Second, "13:00:00", "b/init.mp4", byteRange{16, 800}, byteRange{50, 1000}},
		{105, 9, false, 2 * time.Second, "13:00:02", "b/init.mp4", byteRange{16, 800}, byteRange{1050, 500}},
	}
	for i, w := range wants {
		s := m.segments[i]
		pdt := ""
		if !s.pdt.IsZero() {
			pdt = strings.TrimSuffix(s.pdt.UTC().Format("15:04:05.999"), ".000")
		}
		if s.seq != w.seq || s.disc != w.disc || s.discontinuity != w.flag || s.duration != w.dur || pdt != w.pdt ||
			s.init == nil || s.init.uri != w.init || s.init.rng != w.initRng || s.rng != w.rng {
			t.Errorf("segment %d: %+v (init %+v)", i, s, s.init)
		}
	}
	if !m.segments[3].gap || m.segments[2].gap {
		t.Error("EXT-X-GAP not on the right segment")
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"not a playlist":       "hello",
		"no target":            "#EXTM3U\n#EXTINF:2,\na.ts\n",
		"zero target":          "#EXTM3U\n#EXT-X-TARGETDURATION:0\n#EXTINF:2,\na.ts\n",
		"huge target":          "#EXTM3U\n#EXT-X-TARGETDURATION:100000\n#EXTINF:2,\na.ts\n",
		"bad extinf":           "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:x,\na.ts\n",
		"implicit range first": "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100\na.ts\n",
		"map without uri":      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n#EXTINF:2,\na.ts\n",
		"bad map range":        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"i\",BYTERANGE=\"x\"\n#EXTINF:2,\na.ts\n",
		// Ranges whose end overflows: the seeder once panicked allocating them.
		"range beyond 2^63":          "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@9223372036854775800\na.ts\n",
		"map range beyond 2^63":      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"i\",BYTERANGE=\"100@9223372036854775800\"\n#EXTINF:2,\na.ts\n",
		"implicit range beyond 2^63": "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:9223372036854775000@0\na.ts\n#EXTINF:2,\n#EXT-X-BYTERANGE:1000\na.ts\n",
	}
	for name, text := range cases {
		if _, _, err := parsePlaylist([]byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Invalid durations parse but are marked for skipping.
	m := mustMedia(t, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:-1,\na.ts\n#EXTINF:700,\nb.ts\n#EXT-X-ENDLIST\n")
	if m.segments[0].duration != 0 || m.segments[1].duration != 0 || !m.ended {
		t.Errorf("%+v", m.segments)
	}
}

func TestPickVariant(t *testing.T) {
	_, master, err := parsePlaylist([]byte(`#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=500000,AUDIO="aud"
a.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=1920x1080
b.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=99999x1
c.m3u8
`))
	if err != nil || master == nil {
		t.Fatal(err)
	}
	v, err := pickVariant(master, 0)
	if err != nil || v.uri != "b.m3u8" || v.index != 2 || v.count != 3 || v.width != 1920 || v.height != 1080 {
		t.Errorf("highest bandwidth: %+v %v", v, err)
	}
	if v, _ := pickVariant(master, 1); v.uri != "a.m3u8" || v.audio != "aud" {
		t.Errorf("variant 1: %+v", v)
	}
	if v, _ := pickVariant(master, 3); v.width != 0 || v.height != 0 {
		t.Errorf("out-of-range resolution kept: %+v", v)
	}
	if _, err := pickVariant(master, 4); err == nil {
		t.Error("variant 4 of 3 accepted")
	}
	_, noURI, err := parsePlaylist([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n"))
	if err == nil {
		if _, err := pickVariant(noURI, 0); err == nil {
			t.Error("a variant without URI accepted")
		}
	}
}

func TestParseAttributes(t *testing.T) {
	a := parseAttributes(`URI="x,y.mp4",BYTERANGE="10@2", OTHER=abc,EMPTY=""`)
	if a["URI"] != "x,y.mp4" || a["BYTERANGE"] != "10@2" || a["OTHER"] != "abc" || a["EMPTY"] != "" {
		t.Errorf("%q", a)
	}
	if a := parseAttributes(`URI="unterminated`); a["URI"] != "unterminated" {
		t.Errorf("%q", a)
	}
}

// FuzzParsePlaylist: hostile playlists never panic, and what parses is consistent.
func FuzzParsePlaylist(f *testing.F) {
	f.Add([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"5@0\"\n#EXTINF:2,\n#EXT-X-BYTERANGE:10@5\na\n#EXTINF:2,\n#EXT-X-BYTERANGE:10\na\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1x1\nv.m3u8\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00Z\n#EXTINF:2,\na\n#EXT-X-ENDLIST\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, master, err := parsePlaylist(b)
		if err != nil {
			return
		}
		if (m == nil) == (master == nil) {
			t.Fatal("want exactly one of media and master")
		}
		if m == nil {
			return
		}
		for i, s := range m.segments {
			if s.seq != m.mediaSeq+uint64(i) || s.duration < 0 || (s.rng.ranged() && (s.rng.offset < 0 || s.rng.length <= 0)) {
				t.Fatalf("segment %d: %+v", i, s)
			}
		}
	})
}
