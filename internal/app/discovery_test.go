package app

import (
	"context"
	"net"
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
		var st node.Stats
		for st.Delivered < 3 && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			l.Node.Do(ctx, func(_ *livetorrent.Swarm, s node.Stats) { st = s })
		}
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
	bootAddr := make(chan net.Addr, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		discovery.RunDHT(ctx, discovery.DHTConfig{Listen: "127.0.0.1:0", InfoHash: [20]byte{1}, Every: time.Hour,
			OnReady: func(a net.Addr) { bootAddr <- a }})
	}()
	dhtOpts := DHTOptions{Enabled: true, Listen: "127.0.0.1:0", Bootstrap: []string{(<-bootAddr).String()}, Every: 500 * time.Millisecond}
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
	var st node.Stats
	for st.Delivered < 3 && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		l.Node.Do(ctx, func(_ *livetorrent.Swarm, s node.Stats) { st = s })
	}
	if st.Delivered < 3 {
		t.Fatalf("played %d segments with %d peers", st.Delivered, st.Connected)
	}
}
