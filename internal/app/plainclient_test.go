package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/internal/testtracker"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// plainClient is a stock BitTorrent client (anacrolix/torrent) on loopback only: no DHT, no
// trackers, no uTP, no port mapping, plaintext handshakes.
type plainClient struct {
	cl         *torrent.Client
	handshakes atomic.Int64 // BitTorrent handshakes completed, either direction
	closed     atomic.Int64
	messages   atomic.Int64 // messages other than the extended handshake read from a peer
}

func startPlainClient(t *testing.T) *plainClient {
	t.Helper()
	pc := &plainClient{}
	cfg := torrent.NewDefaultClientConfig()
	cfg.DataDir = t.TempDir()
	cfg.ListenHost = func(string) string { return "127.0.0.1" }
	cfg.ListenPort = 0
	cfg.NoDHT, cfg.DisableTrackers, cfg.DisablePEX, cfg.DisableUTP, cfg.DisableIPv6 = true, true, true, true, true
	cfg.NoDefaultPortForwarding, cfg.DisableWebtorrent, cfg.DisableWebseeds = true, true, true
	cfg.HeaderObfuscationPolicy = torrent.HeaderObfuscationPolicy{}
	cfg.Slogger = slog.New(slog.DiscardHandler)
	cfg.Callbacks.CompletedHandshake = func(*torrent.PeerConn, torrent.InfoHash) { pc.handshakes.Add(1) }
	cfg.Callbacks.PeerConnClosed = func(*torrent.PeerConn) { pc.closed.Add(1) }
	cfg.Callbacks.ReadMessage = func(_ *torrent.PeerConn, m *pp.Message) {
		if !(m.Type == pp.Extended && m.ExtendedID == pp.HandshakeExtendedID) {
			pc.messages.Add(1)
		}
	}
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	pc.cl = cl
	return pc
}

func (pc *plainClient) addr(t *testing.T) string {
	for _, a := range pc.cl.ListenAddrs() {
		if ta, ok := a.(*net.TCPAddr); ok {
			return ta.String()
		}
	}
	t.Fatal("the plain client listens on no TCP address")
	return ""
}

// A stock BitTorrent client that knows a stream's info-hash is refused cleanly by a seeder
// and a viewer: it completes the BitTorrent handshake (the info-hash is right), the node
// closes the connection once the extended handshake offers no lt_live, no live message ever
// reaches the client, and the node keeps serving. The other way, a viewer told to dial the
// client gives up on it the same way and backs off.
func TestPlainBitTorrentClientIsRefused(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("plain client")})
	viewer := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String(), NoOrigin: true})
	waitPlayed(ctx, viewer, 2)

	pc := startPlainClient(t)
	tor, _ := pc.cl.AddTorrentInfoHash(metainfo.Hash(sd.Link().Stream.InfoHash()))
	for _, a := range []net.Addr{sd.Node.Addr(), viewer.Node.Addr()} {
		ta := a.(*net.TCPAddr)
		tor.AddPeers([]torrent.PeerInfo{{Addr: torrent.PeerRemoteAddr(ta), Trusted: true}})
	}
	// A viewer pointed at the plain client dials it.
	dialer := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String(), NoOrigin: true, Peers: []string{pc.addr(t)}})

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if nodeStats(ctx, sd.Node).NotLive > 0 && nodeStats(ctx, viewer.Node).NotLive > 0 && nodeStats(ctx, dialer.Node).NotLive > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // let any retry happen
	seederSt, viewerSt, dialerSt := nodeStats(ctx, sd.Node), nodeStats(ctx, viewer.Node), nodeStats(ctx, dialer.Node)
	t.Logf("plain client: %d handshakes, %d closed, %d messages, %d active peers; refused as not live: seeder %d, viewer %d, dialling viewer %d",
		pc.handshakes.Load(), pc.closed.Load(), pc.messages.Load(), tor.Stats().ActivePeers, seederSt.NotLive, viewerSt.NotLive, dialerSt.NotLive)
	if seederSt.NotLive == 0 || viewerSt.NotLive == 0 || dialerSt.NotLive == 0 {
		t.Fatal("a node did not refuse the plain client as not live")
	}
	if n := pc.messages.Load(); n != 0 {
		t.Fatalf("the plain client read %d messages after the handshakes", n)
	}
	if n := tor.Stats().ActivePeers; n != 0 {
		t.Fatalf("the plain client holds %d connections", n)
	}
	if dialerSt.NotLive > 5 {
		t.Fatalf("the viewer dialled the plain client %d times in a few seconds: no backoff", dialerSt.NotLive)
	}
	for _, l := range []*Leecher{viewer, dialer} {
		played := nodeStats(ctx, l.Node).Delivered
		waitPlayed(ctx, l, played+1)
		if s := snapshot(t, ctx, l); s.Stalls != 0 {
			t.Fatalf("a viewer stalled %d times", s.Stalls)
		}
	}
}

// aria2c from Debian, given a magnet with the stream's info-hash and a tracker that knows
// the seeder and a viewer, is refused by both. aria2 tries an encrypted handshake first
// (refused on its first bytes) and plaintext a few seconds later (refused as not live).
func TestAria2IsRefused(t *testing.T) {
	aria2 := testmedia.RequireTool(t, "aria2c", "aria2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	tr := testtracker.HTTP(t, &testtracker.Swarms{})
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("aria2"), Trackers: []string{tr}})
	viewer := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String(), NoOrigin: true})
	waitPlayed(ctx, viewer, 2)

	dir := t.TempDir()
	port := freePort(t)
	magnet := fmt.Sprintf("magnet:?xt=urn:btih:%s&tr=%s", sd.Link().Stream.InfoHash(), tr)
	cmd := exec.CommandContext(ctx, aria2, "--dir="+dir, "--enable-dht=false", "--enable-dht6=false",
		"--enable-peer-exchange=false", "--bt-enable-lpd=false", "--disable-ipv6=true",
		"--listen-port="+strconv.Itoa(port), "--seed-time=0", "--bt-stop-timeout=60",
		"--console-log-level=warn", "--summary-interval=0", "--log="+filepath.Join(dir, "aria2.log"), "--log-level=info", magnet)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()

	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) && (nodeStats(ctx, sd.Node).NotLive == 0 || nodeStats(ctx, viewer.Node).NotLive == 0) {
		time.Sleep(200 * time.Millisecond)
	}
	seederSt, viewerSt := nodeStats(ctx, sd.Node), nodeStats(ctx, viewer.Node)
	t.Logf("aria2c refused: seeder %d times (%d as not live), viewer %d times (%d as not live); peers: seeder %d, viewer %d",
		seederSt.Refused, seederSt.NotLive, viewerSt.Refused, viewerSt.NotLive, seederSt.Connected, viewerSt.Connected)
	if seederSt.NotLive == 0 || viewerSt.NotLive == 0 {
		if b, err := os.ReadFile(filepath.Join(dir, "aria2.log")); err == nil && len(b) > 4000 {
			t.Logf("aria2 log (end):\n%s", b[len(b)-4000:])
		}
		t.Fatal("aria2c was not refused as a client that does not speak the live extension")
	}
	if seederSt.Connected != 1 || viewerSt.Connected != 1 {
		t.Fatalf("connected peers: seeder %d, viewer %d; want only each other", seederSt.Connected, viewerSt.Connected)
	}
	played := nodeStats(ctx, viewer.Node).Delivered
	waitPlayed(ctx, viewer, played+1)
	if s := snapshot(t, ctx, viewer); s.Stalls != 0 {
		t.Fatalf("the viewer stalled %d times", s.Stalls)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
