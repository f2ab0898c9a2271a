package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/status"
	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// sampleSwarm runs a seeder looping the bundled sample from a loopback origin until the test
// ends; it returns the seeder and the origin's base URL.
func sampleSwarm(t *testing.T, ctx context.Context, wg *sync.WaitGroup, cfg SeederConfig) (*Seeder, string) {
	t.Helper()
	originURL := sampleOrigin(t)
	sd, done := runSeeder(t, ctx, originURL, cfg)
	wg.Add(1)
	go func() { defer wg.Done(); <-done }()
	return sd, originURL
}

// sampleOrigin serves the bundled sample over loopback HTTP until the test ends.
func sampleOrigin(t *testing.T) string {
	t.Helper()
	originURL, stop, err := serveDir(filepath.Join("..", "..", "testdata", "sample"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return originURL
}

// runSeeder runs a seeder of the sample at originURL, looped, until ctx ends (cfg.Listen
// defaults to a free loopback port); done is closed once it has stopped.
func runSeeder(t *testing.T, ctx context.Context, originURL string, cfg SeederConfig) (sd *Seeder, done chan struct{}) {
	t.Helper()
	cfg.Source, cfg.Loop = originURL+"index.m3u8", true
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	cfg.HTTP, cfg.Dial = testmedia.LoopbackHTTP(), testmedia.LoopbackDial
	sd, err := NewSeeder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done = make(chan struct{})
	go func() { defer close(done); sd.Run(ctx) }()
	return sd, done
}

// startLeecher starts a viewer of link until ctx ends.
func startLeecher(t *testing.T, ctx context.Context, wg *sync.WaitGroup, cfg LeecherConfig) *Leecher {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.HTTP == nil {
		cfg.HTTP = testmedia.LoopbackHTTP()
	}
	if cfg.Dial == nil {
		cfg.Dial = testmedia.LoopbackDial
	}
	l, err := NewLeecher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); l.Run(ctx) }()
	return l
}

// snapshot reads a viewer's status (the figures the metrics show).
func snapshot(t *testing.T, ctx context.Context, x interface {
	Snapshot(context.Context) (status.Snapshot, error)
}) status.Snapshot {
	t.Helper()
	s, err := x.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Peers too slow: the seeder and the viewers upload at a quarter of the stream's bitrate.
// The viewers fetch what peers cannot deliver in time from the origin, and play every
// segment on time: no stall, no skip.
func TestSlowPeersUseOrigin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	const quarter = 8_000 // bytes/s: the sample is about 31 kB/s
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("slow peers"), UploadRate: quarter})
	var ls []*Leecher
	var viewers []string
	for range 2 {
		l := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String(), Peers: slices.Clone(viewers), UploadRate: quarter})
		viewers = append(viewers, l.Node.Addr().String())
		ls = append(ls, l)
	}
	time.Sleep(20 * time.Second)
	for i, l := range ls {
		s := snapshot(t, ctx, l)
		t.Logf("viewer %d: %d segments, %d stalls, %d skipped; bytes from peers %d, seeder %d, origin %d; buffer %v, behind live %v",
			i, s.SegmentsPlayed, s.Stalls, s.SegmentsSkipped, s.BytesFromPeers, s.BytesFromSeeder, s.BytesFromOrigin,
			s.BufferAhead.Round(time.Millisecond), s.BehindLive.Round(time.Millisecond))
		if s.SegmentsPlayed < 5 || s.Stalls != 0 || s.SegmentsSkipped != 0 || s.MissingRequests != 0 {
			t.Errorf("viewer %d: %d segments played, %d stalls, %d skipped, %d missing requests",
				i, s.SegmentsPlayed, s.Stalls, s.SegmentsSkipped, s.MissingRequests)
		}
		if s.BytesFromOrigin == 0 {
			t.Errorf("viewer %d never used the origin", i)
		}
	}
}

// cutRoutes makes a viewer's routes to the given TCP addresses fail: refused at once, or
// black-holed (the dial hangs until its deadline), as a broken network does.
func cutRoutes(blackhole bool, cut ...string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		for _, c := range cut {
			if addr == c {
				if blackhole {
					<-ctx.Done()
					return nil, ctx.Err()
				}
				return nil, errors.New("test: connection refused (route cut)")
			}
		}
		return testmedia.LoopbackDial(ctx, network, addr)
	}
}

// A viewer whose routes to the seeder and to the origin are cut (refused, or black-holed)
// plays from the other viewers with no stall.
func TestRouteCutPlaysFromPeers(t *testing.T) {
	for _, blackhole := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused", true: "blackholed"}[blackhole], func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			sd, originURL := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("route cut")})
			link := sd.Link()
			var relays []string
			for range 2 {
				l := startLeecher(t, ctx, &wg, LeecherConfig{Link: link.String()})
				relays = append(relays, l.Node.Addr().String())
			}
			origin := originURL[len("http://") : len(originURL)-1]
			dial := cutRoutes(blackhole, sd.Node.Addr().String(), origin)
			cut := startLeecher(t, ctx, &wg, LeecherConfig{Link: link.String(), Peers: relays, Dial: dial,
				HTTP: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: dial}}})
			time.Sleep(15 * time.Second)
			s := snapshot(t, ctx, cut)
			t.Logf("cut viewer: %d segments, %d stalls, %d peers; bytes from peers %d, seeder %d, origin %d",
				s.SegmentsPlayed, s.Stalls, s.Peers, s.BytesFromPeers, s.BytesFromSeeder, s.BytesFromOrigin)
			if s.SegmentsPlayed < 4 || s.Stalls != 0 || s.SegmentsSkipped != 0 {
				t.Fatalf("cut viewer: %d segments, %d stalls, %d skipped", s.SegmentsPlayed, s.Stalls, s.SegmentsSkipped)
			}
			if s.BytesFromSeeder != 0 || s.BytesFromOrigin != 0 || s.BytesFromPeers == 0 {
				t.Fatalf("bytes: peers %d, seeder %d, origin %d; want all from peers", s.BytesFromPeers, s.BytesFromSeeder, s.BytesFromOrigin)
			}
		})
	}
}

// Cold start, side by side in one run against the same live origin: a plain HLS client
// (playlist, then the segment three from the end, as players start) and a new viewer joining
// a running swarm (time until its local playlist lists a segment and that segment is read).
// The figures are logged; only the relation is asserted, with a generous margin.
func TestColdStartAgainstPlainHLS(t *testing.T) {
	dir := t.TempDir()
	testmedia.StartLive(t, dir, testmedia.Options{Segment: time.Second, Duration: 40 * time.Second, ListSize: 8})
	origin := testmedia.Serve(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, err := NewSeeder(SeederConfig{Source: origin.URL + "index.m3u8", Key: prototest.Key("cold start"),
		Listen: "127.0.0.1:0", HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); sd.Run(ctx) }()
	warm := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String()})
	waitPlayed(ctx, warm, 3)

	client := testmedia.LoopbackHTTP()
	var plain, p2p []time.Duration
	for round := range 3 {
		link := sd.Link()
		link.Peers = append(link.Peers, warm.Node.Addr().String())
		var pd, ld time.Duration
		var perr, lerr error
		var rwg sync.WaitGroup
		rwg.Add(2)
		start := time.Now()
		go func() {
			defer rwg.Done()
			perr = plainHLSStart(client, origin.URL+"index.m3u8")
			pd = time.Since(start)
		}()
		go func() {
			defer rwg.Done()
			lctx, lcancel := context.WithCancel(ctx)
			defer lcancel()
			var lwg sync.WaitGroup
			defer lwg.Wait()
			defer lcancel()
			l := startLeecher(t, lctx, &lwg, LeecherConfig{Link: link.String(), HTTPListen: "127.0.0.1:0"})
			lerr = plainHLSStart(client, l.PlaylistURL())
			ld = time.Since(start)
		}()
		rwg.Wait()
		if perr != nil || lerr != nil {
			t.Fatalf("round %d: plain HLS: %v; viewer: %v", round, perr, lerr)
		}
		plain, p2p = append(plain, pd), append(p2p, ld)
	}
	t.Logf("time to the first segment: plain HLS %v, LiveTorrent viewer %v", plain, p2p)
	for i := range plain {
		if p2p[i] > plain[i]+3*time.Second {
			t.Errorf("round %d: the viewer took %v, plain HLS %v", i, p2p[i], plain[i])
		}
	}
}

// plainHLSStart does what an HLS player does to start: fetch the playlist (retrying while
// it is not there yet) and then the whole segment three from its end.
func plainHLSStart(c *http.Client, playlistURL string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		segs, err := fetchPlaylist(c, playlistURL)
		if err != nil || len(segs) == 0 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		u := segs[max(0, len(segs)-3)]
		resp, err := c.Get(u)
		if err != nil {
			return err
		}
		n, err := discard(resp)
		if err != nil || n == 0 {
			return fmt.Errorf("segment %s: %d bytes, %v", u, n, err)
		}
		return nil
	}
	return errors.New("no playlist in 20 s")
}

// fetchPlaylist returns the absolute segment URLs of a media playlist.
func fetchPlaylist(c *http.Client, playlistURL string) ([]string, error) {
	resp, err := c.Get(playlistURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", playlistURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(playlistURL)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, err := base.Parse(line)
		if err != nil {
			return nil, err
		}
		out = append(out, u.String())
	}
	return out, nil
}

// discard reads a whole 200 response body and returns its length.
func discard(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, errors.New(resp.Status)
	}
	return io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
}
