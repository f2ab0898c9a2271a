package bench

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sampleDir = "../../testdata/sample"

func TestParsePlaylist(t *testing.T) {
	pl, err := parsePlaylist([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:41\n" +
		"#EXTINF:2.000,\nseg/41.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1.5,title\nseg/42.ts\n#EXT-X-ENDLIST\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pl.Target != 2*time.Second || !pl.Ended || len(pl.Entries) != 2 {
		t.Fatalf("%+v", pl)
	}
	if e := pl.Entries[1]; e.Seq != 42 || e.URI != "seg/42.ts" || e.Duration != 1500*time.Millisecond {
		t.Errorf("second entry %+v", e)
	}
	if _, err := parsePlaylist([]byte("<html>")); err == nil {
		t.Error("not a playlist: no error")
	}
}

func TestSampleBitrate(t *testing.T) {
	pl, sizes, err := readLocalPlaylist(filepath.Join(sampleDir, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	// The bundled sample is about 240 kbit/s.
	if b := measuredBitrate(pl.Entries, sizes); b < 200_000 || b > 300_000 {
		t.Errorf("sample bitrate %v", b)
	}
}

// The baseline's looped origin lists a sliding window ending at the newest complete segment
// and serves the listed segments with the sample's bytes.
func TestLoopedStream(t *testing.T) {
	s, err := newLoopedStream(filepath.Join(sampleDir, "index.m3u8"), 8)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	rec := get("/live.m3u8")
	pl, err := parsePlaylist(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Entries) != 8 || pl.Target != 2*time.Second || pl.Ended {
		t.Fatalf("playlist %+v", pl)
	}
	newest := pl.Entries[7]
	if end := s.end(newest.Seq); end.After(time.Now()) || time.Since(end) > 2*time.Second {
		t.Errorf("newest segment %d complete at %v, now %v", newest.Seq, end, time.Now())
	}
	seg := get("/" + newest.URI)
	if seg.Code != http.StatusOK || seg.Body.Len() != len(s.data[newest.Seq%s.n()]) {
		t.Errorf("segment %s: %d, %d bytes", newest.URI, seg.Code, seg.Body.Len())
	}
	future := strings.Replace(newest.URI, "seg/", "seg/1", 1)
	if rec := get("/" + future); rec.Code != http.StatusNotFound {
		t.Errorf("future segment %s: %d", future, rec.Code)
	}
}
