package app

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/internal/testtracker"
	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/discovery"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// Leechers whose links carry only a tracker (HTTP for one, UDP for the other) and no peer
// address find the seeder and each other through it, and play.
func TestLeecherJoinsThroughTrackerOnly(t *testing.T) {
	sw := &testtracker.Swarms{}
	trackers := []string{testtracker.HTTP(t, sw), testtracker.UDP(t, sw)}
	originURL, stop, err := serveDir(filepath.Join("..", "..", "testdata", "sample"))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	sd, err := NewSeeder(SeederConfig{Source: originURL + "index.m3u8", Loop: true, Key: prototest.Key("tracker test"),
		Listen: "127.0.0.1:0", Trackers: trackers[:1], HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); sd.Run(ctx) }()
	ih := [20]byte(sd.Link().Stream.InfoHash())
	for len(sw.Announced(ih)) == 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	var ls []*Leecher
	for _, tr := range trackers {
		link := protocol.Link{Stream: sd.Link().Stream, Trackers: []string{tr}}
		l, err := NewLeecher(LeecherConfig{Link: link.String(), Listen: "127.0.0.1:0",
			HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial})
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		wg.Add(1)
		go func() { defer wg.Done(); l.Run(ctx) }()
	}
	for i, l := range ls {
		st := waitPlayed(ctx, l, 3)
		if st.Delivered < 3 {
			t.Fatalf("leecher %d (tracker %s) played %d segments, %d peers", i, trackers[i], st.Delivered, st.Connected)
		}
		t.Logf("leecher %d via %s: %d segments, %d peers", i, trackers[i][:4], st.Delivered, st.Connected)
	}
}

// A leecher given only the key (magnet:?xs=urn:btpk:...&s=...) finds the seeder through a
// private DHT on loopback, gets the descriptor from it, and plays.
func TestKeyOnlyLinkThroughDHT(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	dhtOpts := privateDHT(ctx, &wg)
	originURL, stop, err := serveDir(filepath.Join("..", "..", "testdata", "sample"))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	sd, err := NewSeeder(SeederConfig{Source: originURL + "index.m3u8", Loop: true, Key: prototest.Key("dht test"),
		Salt: []byte("ch"), Listen: "127.0.0.1:0", DHT: dhtOpts, HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); sd.Run(ctx) }()
	keyOnly := protocol.Link{Stream: sd.Link().Stream}.String()
	if strings.Contains(keyOnly, "x.pe") || strings.Contains(keyOnly, "tr=") {
		t.Fatalf("not a key-only link: %s", keyOnly)
	}
	l, err := NewLeecher(LeecherConfig{Link: keyOnly, Listen: "127.0.0.1:0", DHT: dhtOpts,
		HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); l.Run(ctx) }()
	if st := waitPlayed(ctx, l, 3); st.Delivered < 3 {
		t.Fatalf("played %d segments with %d peers", st.Delivered, st.Connected)
	}
}

// One discovery source failing does not stop a leecher that has another: a tracker that is
// down or answers garbage with a working DHT, and a DHT whose bootstrap node is gone with a
// working tracker.
func TestDiscoveryFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	goodDHT := privateDHT(ctx, &wg)
	sw := &testtracker.Swarms{}
	goodTracker := testtracker.HTTP(t, sw)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("d8:intervali-5e5:peers3:xyze"))
	}))
	defer garbage.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadTracker := "http://" + ln.Addr().String() + "/announce"
	ln.Close()
	pc, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	deadDHT := DHTOptions{Enabled: true, Listen: "127.0.0.1:0", Bootstrap: []string{pc.LocalAddr().String()}, Every: 500 * time.Millisecond}
	pc.Close()

	originURL, stop, err := serveDir(filepath.Join("..", "..", "testdata", "sample"))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	sd, err := NewSeeder(SeederConfig{Source: originURL + "index.m3u8", Loop: true, Key: prototest.Key("failover"),
		Listen: "127.0.0.1:0", Trackers: []string{goodTracker}, DHT: goodDHT,
		HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); sd.Run(ctx) }()
	for _, c := range []struct {
		name     string
		trackers []string
		dht      DHTOptions
	}{
		{"tracker down and garbage, DHT works", []string{deadTracker, garbage.URL + "/announce"}, goodDHT},
		{"DHT bootstrap gone, tracker works", []string{goodTracker}, deadDHT},
	} {
		link := protocol.Link{Stream: sd.Link().Stream, Trackers: c.trackers}
		l, err := NewLeecher(LeecherConfig{Link: link.String(), Listen: "127.0.0.1:0", DHT: c.dht,
			HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); l.Run(ctx) }()
		if st := waitPlayed(ctx, l, 3); st.Delivered < 3 {
			t.Fatalf("%s: played %d segments with %d peers", c.name, st.Delivered, st.Connected)
		}
	}
}

// privateDHT starts a DHT node on loopback for the test to bootstrap from, and returns the
// options that join it: no test ever reaches the public DHT.
func privateDHT(ctx context.Context, wg *sync.WaitGroup) DHTOptions {
	bootAddr := make(chan net.Addr, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		discovery.RunDHT(ctx, discovery.DHTConfig{Listen: "127.0.0.1:0", InfoHash: [20]byte{1}, Every: time.Hour,
			OnReady: func(a net.Addr) { bootAddr <- a }})
	}()
	return DHTOptions{Enabled: true, Listen: "127.0.0.1:0", Bootstrap: []string{(<-bootAddr).String()}, Every: 500 * time.Millisecond}
}

// waitPlayed polls the leecher until it has played n segments or ctx ends.
func waitPlayed(ctx context.Context, l *Leecher, n int64) node.Stats {
	var st node.Stats
	for st.Delivered < n && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		l.Node.Do(ctx, func(_ *livetorrent.Swarm, s node.Stats) { st = s })
	}
	return st
}
