package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/livetorrent/livetorrent/leecher"
	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/discovery"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/protocol"
)

// MaxStartupDelay bounds LeecherConfig.StartupDelay: a viewer that plans to wait longer than
// a few segments before its first one is better served by a longer --latency.
const MaxStartupDelay = 10 * time.Second

// MaxLatency bounds LeecherConfig.TargetLatency. The stream's window bounds it further
// once known (livetorrent.Config.TargetLatency); this only refuses what no live window holds.
const MaxLatency = 10 * time.Minute

// CheckStartupDelay rejects a LeecherConfig.StartupDelay out of its bounds (0 is the
// default, 1 s).
func CheckStartupDelay(d time.Duration) error {
	if d < 0 || d > MaxStartupDelay {
		return fmt.Errorf("startup delay %v: want 0 (the default, 1s) to %v", d, MaxStartupDelay)
	}
	return nil
}

// LeecherConfig configures a viewer.
type LeecherConfig struct {
	Link           string
	Listen         string        // peer port, e.g. "0.0.0.0:0"; empty = do not accept peers
	HTTPListen     string        // local player address, e.g. "127.0.0.1:8765"; empty = no HTTP output
	AllowOrigin    string        // web origin allowed to read the HTTP output by script (CORS); empty = none
	Stdout         io.Writer     // continuous stream output, nil = none
	Player         string        // launch this player (mpv, ffplay) on the output; empty = none
	PlayerStderr   io.Writer     // where the player's messages go (nil: discarded)
	TargetLatency  time.Duration // 0 = 3 target durations, at least 8 s; at most MaxLatency, and the stream's window less a target duration
	StartupDelay   time.Duration // planned time from tune-in to the first segment's deadline; 0 = 1 s
	UploadRate     int           // bytes/s, 0 = unlimited
	DownloadRate   int
	Limits         Limits
	TargetPeers    int      // 0 = 50, or Limits.MaxPeers if lower; at most Limits.MaxPeers
	Trackers       []string // announced to besides the link's
	Peers          []string // kept connected besides the link's
	NoOrigin       bool     // never fetch from the origin
	MaxOriginShare float64  // cap on the origin's share of received bytes (0 = none)
	NoPex          bool     // do not exchange peers (BEP 11)
	DHT            DHTOptions
	Status         StatusOptions
	Logger         *slog.Logger
	Dial           func(ctx context.Context, network, addr string) (net.Conn, error)
	HTTP           *http.Client
	// OnReady is called with the playlist URL once the HTTP output listens.
	OnReady func(playlistURL string)
}

// Leecher is a viewer: a node in the swarm feeding the player outputs.
type Leecher struct {
	cfg     LeecherConfig
	link    protocol.Link
	log     *slog.Logger
	Node    *node.Node
	Out     *leecher.Output
	http    net.Listener
	metrics net.Listener   // the metrics listener it opened itself (nil: none, or the caller's)
	dht     net.PacketConn // the DHT socket, bound at construction (nil: DHT off)
	started time.Time
}

// NewLeecher parses the link and prepares the node and the outputs; listeners are bound
// here so their addresses are known before Run.
func NewLeecher(cfg LeecherConfig) (_ *Leecher, err error) {
	link, err := protocol.ParseLink(cfg.Link)
	if err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	if err := cfg.Limits.check(); err != nil {
		return nil, err
	}
	if cfg.Player != "" {
		if _, err := exec.LookPath(cfg.Player); err != nil { // before joining the swarm
			return nil, fmt.Errorf("player: %w", err)
		}
	}
	if err := CheckStartupDelay(cfg.StartupDelay); err != nil {
		return nil, err
	}
	if cfg.TargetLatency < 0 || cfg.TargetLatency > MaxLatency {
		return nil, fmt.Errorf("latency %v: want 0 (the default) to %v", cfg.TargetLatency, MaxLatency)
	}
	if cfg.TargetPeers < 0 { // above Limits.MaxPeers the engine refuses it
		return nil, fmt.Errorf("target peers %d: want 0 (the default) or more", cfg.TargetPeers)
	}
	if cfg.MaxOriginShare < 0 || cfg.MaxOriginShare > 1 {
		return nil, fmt.Errorf("max origin share %v: want a fraction from 0 to 1", cfg.MaxOriginShare)
	}
	if err := checkLinkAddrs(cfg.Peers, cfg.Trackers); err != nil {
		return nil, err
	}
	seeders := slices.Clone(link.Peers)
	link.Trackers = append(link.Trackers, cfg.Trackers...)
	link.Peers = append(link.Peers, cfg.Peers...)
	if len(link.Peers) == 0 && len(link.Trackers) == 0 && !cfg.DHT.Enabled {
		return nil, errors.New("link: no peers (x.pe) or trackers (tr) to join through, and the DHT is off")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Leecher{cfg: cfg, link: link, log: cfg.Logger, started: time.Now()}
	if l.cfg.Status, l.metrics, err = bindStatus(cfg.Status); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // a later step failed: release the ports bound so far
			releaseBound(l.Node, l.metrics, l.dht)
		}
	}()
	if l.dht, err = cfg.DHT.bind(); err != nil {
		return nil, err
	}
	l.Out = leecher.NewOutput(leecher.Config{AllowOrigin: cfg.AllowOrigin, Logger: cfg.Logger})
	nc := node.Config{
		Swarm: livetorrent.Config{Role: livetorrent.RoleViewer, Stream: link.Stream,
			TargetLatency: cfg.TargetLatency, StartupDelay: cfg.StartupDelay, TargetPeers: cfg.TargetPeers, DisableOrigin: cfg.NoOrigin, MaxOriginShare: cfg.MaxOriginShare,
			UploadHint: uint64(max(cfg.UploadRate, 0))},
		Listen: cfg.Listen, Peers: link.Peers, Seeders: seeders, UploadRate: cfg.UploadRate, DownloadRate: cfg.DownloadRate,
		Dial: cfg.Dial, HTTP: cfg.HTTP, Logger: cfg.Logger, OnDeliver: l.Out.OnDelivery, NoPex: cfg.NoPex,
	}
	cfg.Limits.apply(&nc)
	l.Node, err = node.New(nc)
	if err != nil {
		return nil, err
	}
	if cfg.HTTPListen != "" {
		if l.http, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
			return nil, fmt.Errorf("http listen: %w", err)
		}
	}
	return l, nil
}

// Close releases the ports of a leecher that will not be run: its peer port, its HTTP
// output's and a metrics port it opened (a listener passed in StatusOptions stays open).
// Run releases them itself when it ends.
func (l *Leecher) Close() error { return releaseBound(l.Node, l.http, l.metrics, l.dht) }

// StatusAddr is the address of the metrics and status server, or nil.
func (l *Leecher) StatusAddr() net.Addr { return listenerAddr(l.cfg.Status.Listener) }

// Link is the parsed link the viewer joined.
func (l *Leecher) Link() protocol.Link { return l.link }

// PlaylistURL is the local playlist address, or "" without an HTTP output.
func (l *Leecher) PlaylistURL() string {
	if l.http == nil {
		return ""
	}
	return leecher.PlaylistURL(l.http.Addr())
}

// Run joins the swarm and feeds the outputs until ctx ends or the stream ends. A stream
// that ends (EXT-X-ENDLIST) returns nil once the stdout output has written it all.
func (l *Leecher) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	goRun := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	goRun(func() error { return l.Node.Run(ctx) })
	goRun(func() error { l.watchDescriptor(ctx); return nil })
	goRun(func() error { serveStatus(ctx, l.cfg.Status, l.Snapshot, l.log); return nil })
	goRun(func() error {
		runTrackers(ctx, l.Node, l.link.Trackers, l.link.Stream, false, l.cfg.Dial, l.log)
		return nil
	})
	goRun(func() error {
		runDHT(ctx, l.Node, l.cfg.DHT, l.dht, discovery.DHTConfig{Stream: l.link.Stream, OnItem: func(it protocol.DHTItem) {
			l.Node.Post(ctx, livetorrent.DescriptorPointer{Seq: it.DescriptorSeq, Hash: it.DescriptorHash})
		}}, l.log)
		return nil
	})
	if l.http != nil {
		goRun(func() error { return leecher.Serve(ctx, l.http, l.Out) })
		if l.cfg.OnReady != nil {
			l.cfg.OnReady(l.PlaylistURL())
		}
	}
	var sp sessionPlayer
	if l.cfg.Player != "" {
		pc := leecher.PlayerConfig{Program: l.cfg.Player, URL: l.PlaylistURL(), Title: l.link.Name, Stderr: l.cfg.PlayerStderr}
		if l.http == nil { // it reads the byte stream from its stdin: start it now
			if err := sp.start(ctx, pc, cancel); err != nil {
				cancel()
				wg.Wait()
				return err
			}
		} else {
			// A player given a playlist that has no segment yet gives up (mpv after a few
			// 503s) and its exit would end the session: start it with the first segment.
			goRun(func() error {
				if l.Out.Ready(ctx) != nil || ctx.Err() != nil {
					return nil
				}
				return sp.start(ctx, pc, cancel)
			})
		}
	}
	var streamErr error
	if w := l.streamWriter(sp.get()); w != nil {
		streamErr = l.Out.NewStream(w, leecher.StreamConfig{}).Run(ctx)
		if errors.Is(streamErr, syscall.EPIPE) {
			streamErr = nil // the reader went away (the player quit, `| head`): a stop
		}
		if p := sp.get(); p != nil && l.http == nil && streamErr == nil && ctx.Err() == nil {
			// The stream ended (ENDLIST): let the player play what it holds, until it exits
			// or we are stopped, rather than cut it off.
			p.Stdin().Close()
			select {
			case <-p.Done():
			case <-ctx.Done():
			}
		}
		cancel() // the stream ended or broke: stop
	} else {
		<-ctx.Done()
	}
	l.Out.Close()
	if p := sp.get(); p != nil {
		p.Stop()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	if streamErr != nil && !errors.Is(streamErr, context.Canceled) {
		return streamErr
	}
	return nil
}

// streamWriter is where the continuous stream goes: stdout, or the player's stdin when a
// player runs without an HTTP output.
func (l *Leecher) streamWriter(p *leecher.Player) io.Writer {
	if p != nil && l.http == nil {
		return p.Stdin()
	}
	return l.cfg.Stdout
}

// watchDescriptor tells the outputs the stream's target duration once it is known.
func (l *Leecher) watchDescriptor(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		var target time.Duration
		l.Node.Do(ctx, func(c *livetorrent.Swarm, _ node.Stats) {
			if d := c.Descriptor(); d != nil {
				target = d.TargetDuration
			}
		})
		if target > 0 {
			l.Out.SetTargetDuration(target)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
