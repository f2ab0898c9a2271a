package leecher

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/hls-m3u8/m3u8"
	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// publisher signs records for segment data as the stream's publisher would, allocating
// piece numbers in order.
type publisher struct {
	t         testing.TB
	desc      protocol.Descriptor
	nextPiece uint64
}

func newPublisher(t testing.TB) *publisher {
	return &publisher{t: t, desc: prototest.Descriptor(), nextPiece: 100}
}

func (p *publisher) sign(r protocol.Record, data []byte) protocol.Record {
	p.t.Helper()
	r.InfoHash = p.desc.Stream.InfoHash()
	r.FirstPiece = p.nextPiece
	r.Length = uint64(len(data))
	r.Hashes = protocol.HashPieces(data, p.desc.PieceSize)
	if r.Published.IsZero() {
		r.Published = prototest.Epoch.Add(time.Duration(r.MediaSeq) * time.Second)
	}
	if err := r.Sign(&p.desc, prototest.PublisherKey()); err != nil {
		p.t.Fatal(err)
	}
	if err := r.Verify(&p.desc); err != nil {
		p.t.Fatal(err)
	}
	p.nextPiece = r.EndPiece() + 3 // publishers may leave holes in the piece space
	return r
}

// initSeg signs an init segment.
func (p *publisher) initSeg(data []byte) *protocol.Record {
	r := p.sign(protocol.Record{Flags: protocol.FlagInit, InitPiece: protocol.NoPiece}, data)
	return &r
}

// segment signs a media segment; init is nil for MPEG-TS.
func (p *publisher) segment(seq uint64, dur time.Duration, flags uint8, init *protocol.Record, data []byte) protocol.Record {
	r := protocol.Record{MediaSeq: seq, Flags: flags, Duration: dur, InitPiece: protocol.NoPiece,
		URI: "seg" + strconv.FormatUint(seq, 10) + ".ts"}
	if init != nil {
		r.InitPiece = init.FirstPiece
		r.URI = "seg" + strconv.FormatUint(seq, 10) + ".m4s"
	}
	return p.sign(r, data)
}

// media is an HLS stream ffmpeg made, turned into signed segments.
type media struct {
	dir      string
	playlist string
	segments []Segment // the last one carries FlagEnd
	frames   int       // video frames ffmpeg decodes from the original files
}

var (
	mediaMu    sync.Mutex
	mediaCache = map[bool]*media{}
	mediaDir   string // shared by the tests: encoding once keeps the package's tests fast
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "leecher-test-media-")
	if err != nil {
		panic(err)
	}
	mediaDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// testMedia encodes 8 s of 320x180 video with audio into 2 s HLS segments (MPEG-TS or
// fMP4) once per test binary, and signs a record for every segment.
func testMedia(t *testing.T, fmp4 bool) *media {
	t.Helper()
	testmedia.RequireFFmpeg(t)
	mediaMu.Lock()
	defer mediaMu.Unlock()
	if m := mediaCache[fmp4]; m != nil {
		return m
	}
	dir := filepath.Join(mediaDir, map[bool]string{false: "ts", true: "fmp4"}[fmp4])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pl := testmedia.EncodeVOD(t, dir, testmedia.Options{Segment: 2 * time.Second, Duration: 8 * time.Second, FMP4: fmp4})
	m := &media{dir: dir, playlist: pl}
	m.segments = signMedia(t, pl)
	m.frames = countFrames(t, pl)
	mediaCache[fmp4] = m
	return m
}

// signMedia reads an ffmpeg playlist and its files and signs them in order.
func signMedia(t *testing.T, pl string) []Segment {
	t.Helper()
	text, err := os.ReadFile(pl)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := m3u8.NewMediaPlaylist(0, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.DecodeFrom(bytes.NewReader(text), true); err != nil {
		t.Fatal(err)
	}
	pub := newPublisher(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(pl), name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var init *protocol.Record
	var initData []byte
	if mp.Map != nil {
		initData = read(mp.Map.URI)
		init = pub.initSeg(initData)
	}
	all := mp.GetAllSegments()
	var out []Segment
	for i, s := range all {
		if s.Map != nil && init == nil {
			initData = read(s.Map.URI)
			init = pub.initSeg(initData)
		}
		data := read(s.URI)
		flags := uint8(0)
		if i == len(all)-1 {
			flags |= protocol.FlagEnd
		}
		dur := time.Duration(math.Round(s.Duration*1e6)) * time.Microsecond
		r := pub.segment(mp.SeqNo+uint64(i), dur, flags, init, data)
		seg := Segment{Record: r, Data: data}
		if init != nil {
			seg.Init, seg.InitData = init, initData
		}
		out = append(out, seg)
	}
	if len(out) < 3 {
		t.Fatalf("ffmpeg made %d segments", len(out))
	}
	return out
}

var progressFrame = regexp.MustCompile(`(?m)^frame=(\d+)$`)

// decodeArgs are ffmpeg arguments that decode input (video and audio) to nothing, print
// errors only, and report progress (frame counts) on stdout.
func decodeArgs(input string) []string {
	return []string{"-v", "error", "-i", input, "-map", "0", "-f", "null", "-progress", "pipe:1", "-nostats", "-"}
}

// countFrames decodes input with ffmpeg and returns the number of video frames.
func countFrames(t *testing.T, input string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return runCountFrames(t, exec.CommandContext(ctx, "ffmpeg", append([]string{"-nostdin"}, decodeArgs(input)...)...))
}

// runCountFrames runs an ffmpeg decode, requires that it reports no error, and returns
// the number of video frames it decoded.
func runCountFrames(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Fatalf("%v reported errors:\n%s", cmd.Args, stderr.String())
	}
	m := progressFrame.FindAllStringSubmatch(stdout.String(), -1)
	if len(m) == 0 {
		t.Fatalf("%v: no progress output:\n%s", cmd.Args, stdout.String())
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
