package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/node"
)

// DemoConfig configures the one-machine demo.
type DemoConfig struct {
	SampleDir     string        // a finished HLS stream (index.m3u8), looped as live
	Leechers      int           // viewers, default 4
	HTTPListen    string        // the first viewer's player address
	SeederUpload  int           // bytes/s, 0 = unlimited
	LeecherUpload int           // bytes/s, 0 = unlimited
	Duration      time.Duration // 0 = until ctx ends
	Every         time.Duration // figures interval, default 2 s
	// Metrics, when set, is the seeder's metrics and status address; each viewer then serves
	// its own on a free loopback port, printed at start.
	Metrics string
	Out     io.Writer // figures and instructions
	Logger  *slog.Logger
}

// DemoFigures is one line of the demo's live figures.
type DemoFigures struct {
	Elapsed       time.Duration
	Peers         float64 // average connections per viewer
	Segments      int64   // segments played, all viewers
	BytesPlayed   int64   // bytes received by viewers (peers + origin)
	FromOrigin    int64
	SeederSent    int64
	BitrateBps    float64
	SeederEgressX float64 // seeder bytes sent / (bitrate x elapsed)
}

// MaxDemoLeechers bounds the demo's viewers: each is a whole leecher in this process, and
// all of them connect to each other, so both ends of n² connections count against this
// process's open files (the benchmark measures larger swarms).
const MaxDemoLeechers = 32

// RunDemo serves the sample from a loopback origin, publishes it as a live stream through a
// seeder and lets viewers swarm it, printing figures until ctx ends or Duration passes. It
// sends nothing off the machine: every address is loopback.
func RunDemo(ctx context.Context, cfg DemoConfig) ([]DemoFigures, error) {
	switch {
	case cfg.Leechers < 0 || cfg.Leechers > MaxDemoLeechers:
		return nil, fmt.Errorf("leechers %d: want 1 to %d", cfg.Leechers, MaxDemoLeechers)
	case cfg.Duration < 0:
		return nil, fmt.Errorf("duration %v: want a positive duration, or none to run until stopped", cfg.Duration)
	}
	if cfg.Leechers == 0 {
		cfg.Leechers = 4
	}
	if cfg.Every <= 0 {
		cfg.Every = 2 * time.Second
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(filepath.Join(cfg.SampleDir, "index.m3u8")); err != nil {
		return nil, fmt.Errorf("sample: %w (run from the repository root, or give --sample)", err)
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	originURL, stopOrigin, err := serveDir(cfg.SampleDir)
	if err != nil {
		return nil, err
	}
	defer stopOrigin()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	sd, err := NewSeeder(SeederConfig{Source: originURL + "index.m3u8", Loop: true, Key: key, Name: "LiveTorrent demo",
		Listen: "127.0.0.1:0", UploadRate: cfg.SeederUpload, PieceSize: 16384, Logger: cfg.Logger.With("node", "seeder"),
		Status: StatusOptions{Metrics: cfg.Metrics}})
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	var runErr error
	var errOnce sync.Once
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				errOnce.Do(func() { runErr = err })
				cancel()
			}
		}()
	}
	run(sd.Run)
	link := sd.Link()
	fmt.Fprintf(cfg.Out, "origin:  %sindex.m3u8 (the sample, looped as a live stream)\nlink:    %s\n", originURL, link)
	if a := sd.StatusAddr(); a != nil {
		fmt.Fprintf(cfg.Out, "seeder:  http://%s/  (metrics: /metrics, /status.json)\n", a)
	}
	viewerMetrics := ""
	if cfg.Metrics != "" {
		viewerMetrics = "127.0.0.1:0"
	}
	var ls []*Leecher
	var viewers []string
	for i := range cfg.Leechers {
		httpAddr := ""
		if i == 0 {
			httpAddr = cfg.HTTPListen
		}
		l, err := NewLeecher(LeecherConfig{Link: link.String(), Peers: slices.Clone(viewers), Listen: "127.0.0.1:0", HTTPListen: httpAddr,
			UploadRate: cfg.LeecherUpload, Logger: cfg.Logger.With("node", fmt.Sprint("leecher", i)),
			Status: StatusOptions{Metrics: viewerMetrics}})
		if err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
		viewers = append(viewers, l.Node.Addr().String()) // later viewers know the earlier ones
		if a := l.StatusAddr(); a != nil {
			fmt.Fprintf(cfg.Out, "viewer %d: http://%s/\n", i, a)
		}
		ls = append(ls, l)
		run(l.Run)
	}
	if u := ls[0].PlaylistURL(); u != "" {
		fmt.Fprintf(cfg.Out, "watch:   mpv %s   (or ffplay, VLC)\n", u)
	}
	fmt.Fprintf(cfg.Out, "%d viewers on loopback; Ctrl-C stops.\n", len(ls))
	var figs []DemoFigures
	start := time.Now()
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			continue // the nodes are stopping: nothing left to measure
		case <-t.C:
		}
		f := demoFigures(context.Background(), sd, ls, time.Since(start))
		if ctx.Err() != nil {
			continue // the nodes began stopping while they were asked: the figures may be partial
		}
		figs = append(figs, f)
		fmt.Fprintf(cfg.Out, "%5.0fs  peers/viewer %.1f  segments played %d  from peers %5.1f%%  seeder egress %.2fx bitrate (%.0f kbit/s)\n",
			f.Elapsed.Seconds(), f.Peers, f.Segments, 100*sharePeers(f), f.SeederEgressX, f.BitrateBps/1000)
	}
	cancel()
	wg.Wait()
	return figs, runErr
}

func sharePeers(f DemoFigures) float64 {
	if f.BytesPlayed == 0 {
		return 0
	}
	return 1 - float64(f.FromOrigin)/float64(f.BytesPlayed)
}

func demoFigures(ctx context.Context, sd *Seeder, ls []*Leecher, elapsed time.Duration) DemoFigures {
	f := DemoFigures{Elapsed: elapsed, BitrateBps: sd.Bitrate()}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	sd.Node.Do(ctx, func(_ *livetorrent.Swarm, s node.Stats) { f.SeederSent = s.BytesSent })
	for _, l := range ls {
		l.Node.Do(ctx, func(c *livetorrent.Swarm, s node.Stats) {
			st := c.Stats()
			f.Peers += float64(s.Connected) / float64(len(ls))
			f.Segments += s.Delivered
			f.BytesPlayed += st.BytesDownloaded + st.BytesFromOrigin
			f.FromOrigin += st.BytesFromOrigin
		})
	}
	if f.BitrateBps > 0 && elapsed > 0 {
		f.SeederEgressX = float64(f.SeederSent) * 8 / (f.BitrateBps * elapsed.Seconds())
	}
	return f
}

// serveDir serves a folder over HTTP on loopback: the demo's origin.
func serveDir(dir string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/", func() { srv.Close() }, nil
}
