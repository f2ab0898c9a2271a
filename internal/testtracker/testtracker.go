// Package testtracker runs BitTorrent trackers in the test process, on loopback: the HTTP
// and UDP (BEP 15) servers of anacrolix/torrent over a small in-memory swarm table.
package testtracker

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/generics"
	"github.com/anacrolix/torrent/tracker"
	httpServer "github.com/anacrolix/torrent/tracker/http/server"
	trackerServer "github.com/anacrolix/torrent/tracker/server"
	"github.com/anacrolix/torrent/tracker/udp"
	udpServer "github.com/anacrolix/torrent/tracker/udp/server"
)

// Swarms is the tracker's table: info-hash -> announced address -> bytes left.
type Swarms struct {
	mu     sync.Mutex
	peers  map[trackerServer.InfoHash]map[netip.AddrPort]int64
	counts int
}

func (s *Swarms) TrackAnnounce(_ context.Context, req udp.AnnounceRequest, addr netip.AddrPort) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts++
	if s.peers == nil {
		s.peers = map[trackerServer.InfoHash]map[netip.AddrPort]int64{}
	}
	sw := s.peers[req.InfoHash]
	if sw == nil {
		sw = map[netip.AddrPort]int64{}
		s.peers[req.InfoHash] = sw
	}
	if req.Event == tracker.Stopped {
		delete(sw, addr)
	} else {
		sw[addr] = req.Left
	}
	return nil
}

func (s *Swarms) Scrape(context.Context, []trackerServer.InfoHash) ([]udp.ScrapeInfohashResult, error) {
	return nil, nil
}

func (s *Swarms) GetPeers(_ context.Context, ih trackerServer.InfoHash, opts trackerServer.GetPeersOpts,
	remote netip.AddrPort) (res trackerServer.ServerAnnounceResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var seeders, leechers int32
	for ap, left := range s.peers[ih] {
		if left == 0 {
			seeders++
		} else {
			leechers++
		}
		if ap == remote || (opts.MaxCount.Ok && uint(len(res.Peers)) >= opts.MaxCount.Value) {
			continue
		}
		res.Peers = append(res.Peers, trackerServer.PeerInfo{AnnounceAddr: ap})
	}
	res.Interval = generics.Some[int32](1)
	res.Seeders, res.Leechers = generics.Some(seeders), generics.Some(leechers)
	return
}

// Announced returns the addresses the tracker holds for an info-hash.
func (s *Swarms) Announced(ih [20]byte) []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []netip.AddrPort
	for ap := range s.peers[ih] {
		out = append(out, ap)
	}
	return out
}

// Announces counts the announces received.
func (s *Swarms) Announces() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// HTTP starts an HTTP tracker on 127.0.0.1 and returns its announce URL.
func HTTP(t testing.TB, s *Swarms) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: httpServer.Handler{Announce: &trackerServer.AnnounceHandler{AnnounceTracker: s}},
		ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/announce"
}

// UDP starts a BEP 15 tracker on 127.0.0.1 and returns its announce URL.
func UDP(t testing.TB, s *Swarms) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &udpServer.Server{
		ConnTracker:  &connIDs{ids: map[string]udp.ConnectionId{}},
		SendResponse: func(_ context.Context, b []byte, a net.Addr) (int, error) { return pc.WriteTo(b, a) },
		Announce:     &trackerServer.AnnounceHandler{AnnounceTracker: s},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); udpServer.RunSimple(ctx, srv, pc, udp.AddrFamilyIpv4) }()
	t.Cleanup(func() { cancel(); pc.Close(); <-done })
	return "udp://" + pc.LocalAddr().String() + "/announce"
}

type connIDs struct {
	mu  sync.Mutex
	ids map[string]udp.ConnectionId
}

func (c *connIDs) Add(_ context.Context, addr string, id udp.ConnectionId) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) > 1<<16 {
		clear(c.ids)
	}
	c.ids[addr] = id
	return nil
}

func (c *connIDs) Check(_ context.Context, addr string, id udp.ConnectionId) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ids[addr] == id, nil
}
