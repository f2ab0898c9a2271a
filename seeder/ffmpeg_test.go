package seeder

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/protocol"
)

// TestFFmpegOutput ingests real ffmpeg HLS (MPEG-TS and fMP4, 6 s in 2 s segments) from a
// folder and over HTTP, on the system clock, and checks that every record verifies
// against the descriptor and that the pieces, taken one by one as a peer receives them,
// reassemble to the exact bytes of the files ffmpeg wrote.
func TestFFmpegOutput(t *testing.T) {
	testmedia.RequireFFmpeg(t)
	for _, fmp4 := range []bool{false, true} {
		dir := t.TempDir()
		pl := testmedia.EncodeVOD(t, dir, testmedia.Options{Segment: 2 * time.Second, Duration: 6 * time.Second, FMP4: fmp4})
		text, err := os.ReadFile(pl)
		if err != nil {
			t.Fatal(err)
		}
		nSegs := strings.Count(string(text), "#EXTINF:")
		srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
		t.Cleanup(srv.Close)
		for kind, src := range map[string]string{"folder": pl, "http": srv.URL + "/" + filepath.Base(pl)} {
			t.Run(fmt.Sprintf("fmp4=%v %s", fmp4, kind), func(t *testing.T) {
				rec := newRecorder()
				log, _ := newTestLogger(t)
				in, err := New(Config{Source: src, Key: testKey(2), Name: "ffmpeg", Backlog: time.Minute, Logger: log}, rec)
				if err != nil {
					t.Fatal(err)
				}
				if err := runIngest(t, in).wait(t); err != nil {
					t.Fatalf("Run: %v", err)
				}
				checkPublished(t, rec, testKey(2))
				d := rec.descriptor(t)
				ms := rec.media()
				if len(ms) != nSegs || nSegs < 3 {
					t.Fatalf("%d media records for %d segments", len(ms), nSegs)
				}
				if ms[len(ms)-1].rec.Flags&protocol.FlagEnd == 0 {
					t.Error("the last record lacks FlagEnd")
				}
				// Hand the pieces over one at a time, as peers would.
				pieces := map[uint64][]byte{}
				for _, p := range rec.all() {
					r := p.rec
					for i := range r.Hashes {
						piece := r.FirstPiece + uint64(i)
						off := r.PieceOffset(piece, d.PieceSize)
						pieces[piece] = bytes.Clone(p.data[off : off+uint64(r.PieceLen(piece, d.PieceSize))])
					}
				}
				var initPiece uint64 = protocol.NoPiece
				for _, p := range rec.all() {
					r := p.rec
					var got []byte
					for i := range r.Hashes {
						piece := r.FirstPiece + uint64(i)
						if err := r.VerifyPiece(piece, pieces[piece]); err != nil {
							t.Fatal(err)
						}
						got = append(got, pieces[piece]...)
					}
					want, err := os.ReadFile(filepath.Join(dir, r.URI))
					if err != nil {
						t.Fatalf("record %d names %q: %v", r.MediaSeq, r.URI, err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("record %d (%s): reassembled %d bytes differ from the file's %d", r.MediaSeq, r.URI, len(got), len(want))
					}
					switch {
					case r.IsInit():
						initPiece = r.FirstPiece
					case fmp4 && r.InitPiece != initPiece:
						t.Fatalf("segment %d does not refer to the init segment", r.MediaSeq)
					case !fmp4 && r.InitPiece != protocol.NoPiece:
						t.Fatalf("MPEG-TS segment %d refers to an init segment", r.MediaSeq)
					}
					if !r.IsInit() && (r.ProgramDateTime.IsZero() || r.Duration < time.Second || r.Duration > 3*time.Second) {
						t.Fatalf("segment %d: date-time %v, duration %v", r.MediaSeq, r.ProgramDateTime, r.Duration)
					}
				}
				if fmp4 != (initPiece != protocol.NoPiece) {
					t.Fatalf("init segment published: %v, fMP4: %v", initPiece != protocol.NoPiece, fmp4)
				}
			})
		}
	}
}
