package discovery

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent/tracker"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/internal/testtracker"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

type collected struct {
	mu    sync.Mutex
	peers map[netip.AddrPort]bool
	got   chan struct{}
}

func (c *collected) on(_ string, ps []netip.AddrPort) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		c.peers[p] = true
	}
	select {
	case c.got <- struct{}{}:
	default:
	}
}

func loopbackPacket(network, addr string) (net.PacketConn, error) {
	return net.ListenPacket("udp4", "127.0.0.1:0")
}

// Two swarm members announce to an HTTP and a UDP tracker: each learns the other's address,
// and the stopped event removes them when they leave.
func TestTrackersExchangePeers(t *testing.T) {
	for _, kind := range []string{"http", "udp"} {
		t.Run(kind, func(t *testing.T) {
			sw := &testtracker.Swarms{}
			url := testtracker.HTTP(t, sw)
			if kind == "udp" {
				url = testtracker.UDP(t, sw)
			}
			ih := prototest.Stream().InfoHash()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cols := []*collected{}
			var wg sync.WaitGroup
			for i, port := range []uint16{7001, 7002} {
				c := &collected{peers: map[netip.AddrPort]bool{}, got: make(chan struct{}, 1)}
				cols = append(cols, c)
				var id [20]byte
				copy(id[:], protocol.PeerIDPrefix)
				id[19] = byte(i)
				wg.Add(1)
				go func() {
					defer wg.Done()
					RunTrackers(ctx, TrackerConfig{Trackers: []string{url}, InfoHash: ih, PeerID: id, Port: port,
						Seeder: i == 0, MinInterval: 200 * time.Millisecond, Timeout: 5 * time.Second,
						Dial: testmedia.LoopbackDial, ListenPacket: loopbackPacket, OnPeers: c.on})
				}()
			}
			want := [2]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:7002"), netip.MustParseAddrPort("127.0.0.1:7001")}
			for i, c := range cols {
				deadline := time.After(10 * time.Second)
				for {
					c.mu.Lock()
					ok := c.peers[want[i]]
					c.mu.Unlock()
					if ok {
						break
					}
					select {
					case <-c.got:
					case <-deadline:
						t.Fatalf("member %d never learned %v", i, want[i])
					}
				}
			}
			cancel()
			wg.Wait()
			if left := sw.Announced([20]byte(ih)); len(left) != 0 {
				t.Fatalf("after stopped events the tracker still lists %v", left)
			}
		})
	}
}

// A tracker that is down is retried with backoff and does not block the others.
func TestDeadTrackerDoesNotBlock(t *testing.T) {
	sw := &testtracker.Swarms{}
	good := testtracker.HTTP(t, sw)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String() + "/announce"
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		RunTrackers(ctx, TrackerConfig{Trackers: []string{dead, "ftp://x/", good}, InfoHash: prototest.Stream().InfoHash(),
			Port: 7003, MinInterval: 100 * time.Millisecond, Dial: testmedia.LoopbackDial})
		close(done)
	}()
	for sw.Announces() < 2 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if sw.Announces() < 2 {
		t.Fatal("the working tracker was not re-announced to")
	}
	cancel()
	<-done
}

func TestCheckPeersBoundsAndFilters(t *testing.T) {
	var in []tracker.Peer
	for i := range 1000 {
		in = append(in, tracker.Peer{IP: net.IPv4(10, 0, byte(i>>8), byte(i)), Port: 6881})
	}
	in = append([]tracker.Peer{
		{IP: net.IPv4zero, Port: 1}, {IP: net.IPv4(224, 0, 0, 1), Port: 1}, {IP: net.IPv4bcast, Port: 1},
		{IP: net.IPv4(1, 2, 3, 4), Port: 0}, {IP: net.IPv4(10, 0, 0, 0), Port: 6881}, {IP: nil, Port: 5},
	}, in...)
	out := checkPeers(in, 200)
	if len(out) != 200 {
		t.Fatalf("%d peers kept, want the bound 200", len(out))
	}
	if out[0] != netip.MustParseAddrPort("10.0.0.0:6881") || slices.Contains(out[1:], out[0]) {
		t.Fatalf("junk or duplicates kept: %v", out[:3])
	}
}

// TestHugeTrackerAnswerRefused: an HTTP tracker answering with a 64 MB peer list is cut off
// after 256 KiB (the library would read it whole into memory, then decode every peer), and
// a normal answer afterwards still works.
func TestHugeTrackerAnswerRefused(t *testing.T) {
	var huge atomic.Bool
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !huge.Load() {
			io.WriteString(w, "d8:intervali60e5:peers6:\x7f\x00\x00\x01\x1b\x5be")
			return
		}
		const n = 64 << 20
		fmt.Fprintf(w, "d8:intervali60e5:peers%d:", n)
		chunk := make([]byte, 64<<10)
		for range n / len(chunk) {
			k, err := w.Write(chunk)
			written.Add(int64(k))
			if err != nil {
				return
			}
		}
		io.WriteString(w, "e")
	}))
	defer srv.Close()
	cfg := TrackerConfig{InfoHash: prototest.Stream().InfoHash(), Port: 7004, Dial: testmedia.LoopbackDial}
	cfg.defaults()
	cl, err := newTrackerClient(srv.URL+"/announce", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := announce(context.Background(), cfg, cl, tracker.Started); err != nil || len(resp.Peers) != 1 {
		t.Fatalf("normal answer: %v, %d peers", err, len(resp.Peers))
	}
	huge.Store(true)
	// The library decodes what it read before the cut and fails on it (quoting it all in
	// its error, which the announce loop clips before logging).
	if _, err = announce(context.Background(), cfg, cl, tracker.None); err == nil {
		t.Fatal("a 64 MB answer was accepted")
	}
	if w := written.Load(); w > 32<<20 {
		t.Fatalf("the client read on: the tracker wrote %d MB of its 64 MB", w>>20)
	}
	huge.Store(false)
	if _, err := announce(context.Background(), cfg, cl, tracker.None); err != nil {
		t.Fatalf("normal answer after the refused one: %v", err)
	}
	t.Logf("the tracker wrote %d kB of its 64 MB answer before the client stopped reading", written.Load()>>10)
}
