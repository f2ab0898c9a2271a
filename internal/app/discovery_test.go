package app

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/internal/testtracker"
	"github.com/livetorrent/livetorrent/livetorrent"
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
