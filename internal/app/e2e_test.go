package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// lockedBuffer is a leecher's stdout.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func testLogger(t *testing.T, name string) *slog.Logger {
	if os.Getenv("LIVETORRENT_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", name)
}

// The whole path on one machine: ffmpeg encodes a live HLS stream served over HTTP, the
// seeder ingests it and publishes into the swarm with its upload capped at about twice the
// bitrate, and ten leechers capped at 1.5x swarm it over loopback TCP and write it to their
// stdout. Every leecher's output must be exactly the origin's segment files from its tune-in
// point on, and ffmpeg must decode it without an error.
func TestEndToEndLiveSwarm(t *testing.T) {
	testmedia.RequireFFmpeg(t)
	const (
		leechers  = 10
		bitrate   = 400_000 // bits/s: 300k video + 64k audio + MPEG-TS overhead
		runFor    = 30 * time.Second
		segLength = 2 * time.Second
	)
	dir := t.TempDir()
	testmedia.StartLive(t, dir, testmedia.Options{Segment: segLength, Duration: runFor + 10*time.Second, ListSize: 8})
	origin := testmedia.Serve(t, dir)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sd, err := NewSeeder(SeederConfig{
		Source: origin.URL + "index.m3u8", Key: prototest.Key("e2e publisher"), Name: "e2e",
		Listen: "127.0.0.1:0", UploadRate: 2 * bitrate / 8, Window: 20 * time.Second,
		Logger: testLogger(t, "seeder"), HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := sd.Run(ctx); err != nil {
			t.Errorf("seeder: %v", err)
		}
	}()

	outs := make([]*lockedBuffer, leechers)
	ls := make([]*Leecher, leechers)
	link := sd.Link()
	var viewers []string
	for i := range leechers {
		outs[i] = &lockedBuffer{}
		l, err := NewLeecher(LeecherConfig{
			Link: link.String(), Peers: slices.Clone(viewers), Listen: "127.0.0.1:0", Stdout: outs[i], UploadRate: 3 * bitrate / 16,
			Logger: testLogger(t, fmt.Sprint("leecher", i)), HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial,
		})
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = l
		// Later viewers also know the earlier ones: direct peers in the link.
		viewers = append(viewers, l.Node.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Run(ctx); err != nil {
				t.Errorf("leecher %d: %v", i, err)
			}
		}()
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(runFor - leechers*300*time.Millisecond)

	var seederStats node.Stats
	var core livetorrent.Stats
	sd.Node.Do(ctx, func(c *livetorrent.Swarm, s node.Stats) { seederStats, core = s, c.Stats() })
	published := sd.pub.bytes.Load()
	var leecherStats []livetorrent.Stats
	for _, l := range ls {
		l.Node.Do(ctx, func(c *livetorrent.Swarm, _ node.Stats) { leecherStats = append(leecherStats, c.Stats()) })
	}
	cancel()
	wg.Wait()

	files, _ := filepath.Glob(filepath.Join(dir, "seg*.ts"))
	sort.Strings(files)
	segs := make([][]byte, len(files))
	for i, f := range files {
		if segs[i], err = os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	var delivered, fromOrigin int64
	for i, o := range outs {
		b := o.Bytes()
		first, n := matchSegments(b, segs)
		if first < 0 {
			t.Errorf("leecher %d: %d output bytes do not start with an origin segment", i, len(b))
			continue
		}
		if n < 8 {
			t.Errorf("leecher %d: only %d segments (from %s)", i, n, filepath.Base(files[first]))
		}
		decodeClean(t, fmt.Sprint("leecher ", i), b)
		delivered += int64(len(b))
		fromOrigin += leecherStats[i].BytesFromOrigin
		ps := leecherStats[i]
		t.Logf("leecher %d: %d segments from %s, %d bytes, from origin %d, uploaded %d, wasted %d, duplicate requests %d, timeouts %d, rejects %d",
			i, n, filepath.Base(files[first]), len(b), ps.BytesFromOrigin, ps.BytesUploaded, ps.BytesWasted,
			ps.DuplicateRequests, ps.RequestTimeouts, ps.RejectsReceived)
	}
	egress := float64(seederStats.BytesSent) / float64(max(published, 1))
	t.Logf("seeder: published %d media bytes (%.0f kbit/s), sent %d bytes = %.2fx the stream; piece copies %d for %d pieces",
		published, sd.Bitrate()/1000, seederStats.BytesSent, egress, core.PublisherCopies, core.PiecesPublished)
	t.Logf("viewers: %d bytes played, %.1f%% from peers", delivered, 100*(1-float64(fromOrigin)/float64(max(delivered, 1))))
	// The caps leave the seeder short of serving everyone, so most bytes must come from
	// peers; the origin fallback only fills what peers would deliver too late.
	if share := 1 - float64(fromOrigin)/float64(max(delivered, 1)); share < 0.5 {
		t.Errorf("only %.0f%% of played bytes came from peers", 100*share)
	}
	if egress > 2.0 {
		t.Errorf("seeder egress %.2fx the stream, want at most 2x", egress)
	}
}

// matchSegments finds the origin segment the output starts with and counts the
// consecutive segments it is made of; the output must end on a segment boundary.
func matchSegments(out []byte, segs [][]byte) (first, n int) {
	for i, s := range segs {
		if len(s) == 0 || !bytes.HasPrefix(out, s) {
			continue
		}
		rest := out
		j := i
		for j < len(segs) && len(rest) > 0 && bytes.HasPrefix(rest, segs[j]) {
			rest = rest[len(segs[j]):]
			j++
		}
		if len(rest) == 0 {
			return i, j - i
		}
	}
	return -1, 0
}

// decodeClean decodes an MPEG-TS byte stream with ffmpeg and fails on any error output.
func decodeClean(t *testing.T, name string, ts []byte) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-i", "pipe:0", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(ts)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("%s: ffmpeg decode: %v\n%s", name, err, out)
	}
}
