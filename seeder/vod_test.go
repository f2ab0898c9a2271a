package seeder

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// staticOrigin serves fixed playlists and resources over HTTP with Range support, and
// counts requests.
type staticOrigin struct {
	files       map[string][]byte
	ignoreRange bool
	srv         *httptest.Server
}

func newStaticOrigin(t *testing.T, files map[string][]byte) *staticOrigin {
	o := &staticOrigin{files: files}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := o.files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if o.ignoreRange {
			w.Write(b)
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func vodPlaylist(target int, segs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n", target)
	for _, s := range segs {
		fmt.Fprintf(&b, "#EXTINF:2.000,\n%s\n", s)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.String()
}

func TestMasterPlaylist(t *testing.T) {
	const master = `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
lo/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.64001f, mp4a.40.2"
hi/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=9000000,URI="iframe.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1200000,RESOLUTION=960x540,CODECS="avc1.4d401f,mp4a.40.2"
mid/index.m3u8
`
	files := map[string][]byte{"master.m3u8": []byte(master)}
	for _, v := range []string{"lo", "mid", "hi"} {
		files[v+"/index.m3u8"] = []byte(vodPlaylist(2, "a.ts", "b.ts", "c.ts"))
		for i, s := range []string{"a", "b", "c"} {
			files[v+"/"+s+".ts"] = segmentBytes(v, uint64(i))
		}
	}
	o := newStaticOrigin(t, files)
	cases := []struct {
		variant   int
		dir       string
		bandwidth uint32
		w, h      uint16
		codecs    string
	}{
		{0, "hi", 2500000, 1280, 720, "avc1.64001f,mp4a.40.2"},
		{1, "lo", 800000, 640, 360, "avc1.4d401e,mp4a.40.2"},
		{3, "mid", 1200000, 960, 540, "avc1.4d401f,mp4a.40.2"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("variant %d", tc.variant), func(t *testing.T) {
			rec := newRecorder()
			in, lb := newTestIngest(t, o.srv.URL+"/master.m3u8", newStepClock(), rec, func(c *Config) {
				c.Variant = tc.variant
				c.Backlog = time.Minute
			})
			if err := runIngest(t, in).wait(t); err != nil {
				t.Fatal(err)
			}
			checkPublished(t, rec, testKey(1))
			d := rec.descriptor(t)
			want := o.srv.URL + "/" + tc.dir + "/index.m3u8"
			r := d.Renditions[0]
			if d.Origin != want || r.URI != want || r.Bandwidth != tc.bandwidth || r.Width != tc.w || r.Height != tc.h || r.Codecs != tc.codecs {
				t.Fatalf("descriptor origin %q rendition %+v", d.Origin, r)
			}
			ms := rec.media()
			if len(ms) != 3 {
				t.Fatalf("%d media records, want 3", len(ms))
			}
			for i, p := range ms {
				if !bytes.Equal(p.data, segmentBytes(tc.dir, uint64(i))) {
					t.Fatalf("segment %d is not from the %s variant", i, tc.dir)
				}
			}
			if !lb.has("master playlist: chose a variant") || !lb.has("playlist="+want) {
				t.Error("the chosen variant is not logged")
			}
		})
	}
	t.Run("variant out of range", func(t *testing.T) {
		rec := newRecorder()
		in, lb := newTestIngest(t, o.srv.URL+"/master.m3u8", newStepClock(), rec, func(c *Config) { c.Variant = 4 })
		run := runIngest(t, in)
		rec.waitFor(t, func() bool { return in.Stats().PlaylistErrors >= 3 }, "retries")
		run.stop(t)
		if !lb.has("variant 4 requested, the master playlist has 3") || len(rec.all()) != 0 {
			t.Fatal("want a logged, retried error and nothing published")
		}
	})
}

// TestByteRanges follows a single-file fMP4 playlist: EXT-X-MAP with BYTERANGE, segments
// with explicit and implicit (continuing) byte ranges, from origins with and without
// Range support.
func TestByteRanges(t *testing.T) {
	init := segmentBytes("init", 1)[:700]
	parts := [][]byte{segmentBytes("s", 0), segmentBytes("s", 1), segmentBytes("s", 2), segmentBytes("s", 3)}
	all := bytes.Join(append([][]byte{init}, parts...), nil)
	var pl strings.Builder
	pl.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:40\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	pl.WriteString("#EXT-X-MAP:URI=\"all.mp4\",BYTERANGE=\"700@0\"\n")
	offsets := []uint64{}
	off := uint64(len(init))
	for i, p := range parts {
		offsets = append(offsets, off)
		if i%2 == 0 {
			fmt.Fprintf(&pl, "#EXTINF:2.000,\n#EXT-X-BYTERANGE:%d@%d\nall.mp4\n", len(p), off)
		} else {
			fmt.Fprintf(&pl, "#EXTINF:2.000,\n#EXT-X-BYTERANGE:%d\nall.mp4\n", len(p))
		}
		off += uint64(len(p))
	}
	pl.WriteString("#EXT-X-ENDLIST\n")
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("origin ignores Range=%v", ignore), func(t *testing.T) {
			o := newStaticOrigin(t, map[string][]byte{"v/index.m3u8": []byte(pl.String()), "v/all.mp4": all})
			o.ignoreRange = ignore
			rec := newRecorder()
			in, _ := newTestIngest(t, o.srv.URL+"/v/index.m3u8", newStepClock(), rec, func(c *Config) { c.Backlog = time.Minute })
			if err := runIngest(t, in).wait(t); err != nil {
				t.Fatal(err)
			}
			checkPublished(t, rec, testKey(1))
			recs := rec.all()
			if len(recs) != 5 || !recs[0].rec.IsInit() {
				t.Fatalf("%d records, want the init segment and 4 media segments", len(recs))
			}
			if r := recs[0].rec; r.URI != "all.mp4" || r.OriginOffset != 0 || r.MediaSeq != 40 || !bytes.Equal(recs[0].data, init) {
				t.Fatalf("init record %+v", r)
			}
			for i, p := range recs[1:] {
				r := p.rec
				if r.MediaSeq != 40+uint64(i) || r.URI != "all.mp4" || r.OriginOffset != offsets[i] || !bytes.Equal(p.data, parts[i]) ||
					r.InitPiece != recs[0].rec.FirstPiece {
					t.Fatalf("segment %d: record %+v", i, r)
				}
			}
			if recs[4].rec.Flags&protocol.FlagEnd == 0 {
				t.Error("last record lacks FlagEnd")
			}
		})
	}
}

// TestRefusedReferences: a playlist must not make the seeder publish local files.
func TestRefusedReferences(t *testing.T) {
	o := newStaticOrigin(t, map[string][]byte{
		"v/index.m3u8": []byte(vodPlaylist(2, "a.ts", "file:///etc/passwd", "b.ts")),
		"v/a.ts":       segmentBytes("a", 0),
		"v/b.ts":       segmentBytes("b", 0),
	})
	rec := newRecorder()
	in, lb := newTestIngest(t, o.srv.URL+"/v/index.m3u8", newStepClock(), rec, func(c *Config) { c.Backlog = time.Minute })
	if err := runIngest(t, in).wait(t); err != nil {
		t.Fatal(err)
	}
	checkPublished(t, rec, testKey(1))
	ms := rec.media()
	if len(ms) != 2 || ms[0].rec.URI != "a.ts" || ms[1].rec.URI != "b.ts" || !lb.has("reference not allowed") {
		t.Fatalf("published %v; want a.ts and b.ts only, the file URL refused", seqs(ms))
	}
	if st := in.Stats(); st.Skipped != 1 || st.SegmentErrors != 1 {
		t.Errorf("stats %+v: the refusal must not be retried", st)
	}
}
