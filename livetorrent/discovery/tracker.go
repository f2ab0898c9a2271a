// Package discovery finds the peers of a swarm through infrastructure BitTorrent already has.
// This file announces to trackers (BEP 3 HTTP, BEP 15 UDP): one loop per tracker, started and
// stopped events, re-announces at the interval the tracker asks within bounds, backoff on
// failure, and every peer list checked and bounded before it reaches the dialer.
package discovery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/torrent/tracker"
	trHttp "github.com/anacrolix/torrent/tracker/http"

	"github.com/livetorrent/livetorrent/protocol"
)

// TrackerConfig describes the announces of one swarm member.
type TrackerConfig struct {
	Trackers []string // http, https or udp announce URLs
	InfoHash protocol.InfoHash
	PeerID   [20]byte
	Port     uint16 // our listen port; 0 = we do not accept peers (announced as a leech-only peer)
	Seeder   bool   // the publisher announces left=0, viewers left=1 (a live stream never completes)

	NumWant     int           // peers asked for per announce (default 50)
	MinInterval time.Duration // re-announce no sooner than this (default 30 s), whatever the tracker says
	MaxInterval time.Duration // and no later than this (default 30 min)
	Timeout     time.Duration // one announce (default 15 s)
	MaxPeers    int           // peers taken from one response (default 200)
	EmptyRetry  time.Duration // re-announce this soon after a response with no peers (default 15 s)

	// Dial and ListenPacket let tests keep traffic on loopback; nil = the system's.
	Dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	ListenPacket func(network, addr string) (net.PacketConn, error)
	Logger       *slog.Logger
	// OnPeers receives the peers of each successful announce (already checked).
	OnPeers func(tracker string, peers []netip.AddrPort)
}

func (c *TrackerConfig) defaults() {
	if c.NumWant <= 0 {
		c.NumWant = 50
	}
	if c.MinInterval <= 0 {
		c.MinInterval = 30 * time.Second
	}
	if c.MaxInterval <= 0 {
		c.MaxInterval = 30 * time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = 200
	}
	if c.EmptyRetry <= 0 {
		c.EmptyRetry = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// RunTrackers announces to every tracker until ctx ends, then sends a stopped event to each
// (bounded by the announce timeout). Trackers whose URL cannot be used are logged and skipped.
func RunTrackers(ctx context.Context, cfg TrackerConfig) {
	cfg.defaults()
	var wg sync.WaitGroup
	for _, u := range cfg.Trackers {
		cl, err := newTrackerClient(u, cfg)
		if err != nil {
			cfg.Logger.Warn("tracker unusable", "tracker", u, "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			announceLoop(ctx, cfg, u, cl)
		}()
	}
	wg.Wait()
}

// newTrackerClient returns the client for tracker u; its HTTP answers are bounded.
func newTrackerClient(u string, cfg TrackerConfig) (tracker.Client, error) {
	return tracker.NewClient(u, tracker.NewClientOpts{
		Http:         trHttp.NewClientOpts{DialContext: boundedDial(cfg.Dial, maxTrackerAnswer)},
		ListenPacket: cfg.ListenPacket,
	})
}

func announceLoop(ctx context.Context, cfg TrackerConfig, u string, cl tracker.Client) {
	event := tracker.Started
	backoff := 15 * time.Second
	for {
		resp, err := announce(ctx, cfg, cl, event)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
		case err != nil:
			cfg.Logger.Warn("tracker announce failed", "tracker", u, "err", clip(err.Error(), 300), "retry in", backoff)
			wait = backoff
			backoff = min(2*backoff, cfg.MaxInterval)
		default:
			event = tracker.None
			backoff = 15 * time.Second
			peers := checkPeers(resp.Peers, cfg.MaxPeers)
			cfg.Logger.Debug("tracker announce", "tracker", u, "peers", len(peers), "interval", resp.Interval)
			if cfg.OnPeers != nil && len(peers) > 0 {
				cfg.OnPeers(u, peers)
			}
			wait = min(max(time.Duration(resp.Interval)*time.Second, cfg.MinInterval), cfg.MaxInterval)
			if len(peers) == 0 {
				// Nobody yet (the first viewers of a stream): ask again soon.
				wait = min(wait, cfg.EmptyRetry)
			}
		}
		// Jitter keeps a crowd that started together from announcing together.
		wait += time.Duration(rand.Int64N(int64(wait)/10 + 1))
		select {
		case <-ctx.Done():
			if event == tracker.None { // we announced started: say goodbye
				stop, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
				announce(stop, cfg, cl, tracker.Stopped)
				cancel()
			}
			return
		case <-time.After(wait):
		}
	}
}

func announce(ctx context.Context, cfg TrackerConfig, cl tracker.Client, ev tracker.AnnounceEvent) (tracker.AnnounceResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req := tracker.AnnounceRequest{InfoHash: [20]byte(cfg.InfoHash), PeerId: cfg.PeerID, Port: cfg.Port,
		NumWant: int32(cfg.NumWant), Event: ev, Left: 1, Key: int32(rand.Uint32())}
	if cfg.Seeder {
		req.Left = 0
	}
	resp, err := cl.Announce(ctx, req, tracker.AnnounceOpt{UserAgent: "LiveTorrent/0.1"})
	if err == nil && resp.Interval < 0 {
		err = errors.New("negative interval")
	}
	return resp, err
}

// checkPeers keeps usable unicast addresses with a port, without duplicates, at most max.
func checkPeers(in []tracker.Peer, max int) []netip.AddrPort {
	seen := make(map[netip.AddrPort]bool, min(len(in), max))
	var out []netip.AddrPort
	for _, p := range in {
		if len(out) >= max {
			break
		}
		ap, ok := p.ToNetipAddrPort()
		if !ok {
			continue
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) // one form per address
		if !protocol.UsableAddr(ap) || seen[ap] {
			continue
		}
		seen[ap] = true
		out = append(out, ap)
	}
	return out
}

// clip shortens s to at most n bytes for a log line: the tracker library quotes a whole
// answer it cannot decode into its error.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
