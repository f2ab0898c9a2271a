package app

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
	joinThroughTrackers(t, prototest.Key("tracker test"), trackers, func(ih [20]byte) bool { return len(sw.Announced(ih)) > 0 })
}

// The same with opentracker, the tracker Debian ships, run on loopback by the test.
func TestLeecherJoinsThroughOpentracker(t *testing.T) {
	key := prototest.Key("opentracker test")
	ih := protocol.StreamOf(key, nil).InfoHash()
	httpURL, udpURL := testtracker.Opentracker(t, ih)
	joinThroughTrackers(t, key, []string{httpURL, udpURL}, func(ih [20]byte) bool {
		n, err := testtracker.Seeds(httpURL, ih)
		return err == nil && n > 0
	})
}

// joinThroughTrackers runs a seeder announcing to trackers[0] and one leecher per tracker
// whose link names only that tracker; each must play.
func joinThroughTrackers(t *testing.T, key ed25519.PrivateKey, trackers []string, seeded func(ih [20]byte) bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: key, Trackers: trackers[:1]})
	ih := [20]byte(sd.Link().Stream.InfoHash())
	for !seeded(ih) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	var ls []*Leecher
	for _, tr := range trackers {
		link := protocol.Link{Stream: sd.Link().Stream, Trackers: []string{tr}}
		ls = append(ls, startLeecher(t, ctx, &wg, LeecherConfig{Link: link.String()}))
	}
	for i, l := range ls {
		st := waitPlayed(ctx, l, 3)
		if st.Delivered < 3 {
			t.Fatalf("leecher %d (tracker %s) played %d segments, %d peers", i, trackers[i], st.Delivered, st.Connected)
		}
		t.Logf("leecher %d via %s: %d segments, %d peers", i, trackers[i][:4], st.Delivered, st.Connected)
	}
}

// Leechers given only the key (magnet:?xs=urn:btpk:...&s=...) and a private DHT of several
// loopback nodes resolve the seeder's signed DHT item (the current descriptor's seq and
// hash), find the seeder and each other through the DHT alone (peer exchange is off), and
// play.
func TestKeyOnlyLinkThroughDHT(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	dhtOpts := privateDHT(ctx, &wg)
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("dht test"), Salt: []byte("ch"), DHT: dhtOpts})
	keyOnly := protocol.Link{Stream: sd.Link().Stream}.String()
	if strings.Contains(keyOnly, "x.pe") || strings.Contains(keyOnly, "tr=") {
		t.Fatalf("not a key-only link: %s", keyOnly)
	}
	const viewers = 3
	var ls []*Leecher
	for range viewers {
		ls = append(ls, startLeecher(t, ctx, &wg, LeecherConfig{Link: keyOnly, DHT: dhtOpts, NoPex: true}))
	}
	for i, l := range ls {
		var st node.Stats
		var ptr livetorrent.DescriptorPointer
		var desc *protocol.Descriptor
		for ctx.Err() == nil {
			st = waitPlayed(ctx, l, 3)
			l.Node.Do(ctx, func(c *livetorrent.Swarm, s node.Stats) { st, ptr, desc = s, c.Pointer(), c.Descriptor() })
			if st.Delivered >= 3 && ptr.Seq > 0 && st.Connected >= viewers {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if st.Delivered < 3 || ptr.Seq == 0 || st.Connected < viewers {
			t.Fatalf("viewer %d: played %d segments, %d peers (want the seeder and %d viewers), item seq %d",
				i, st.Delivered, st.Connected, viewers-1, ptr.Seq)
		}
		if desc == nil || desc.Seq != ptr.Seq || sha256.Sum256(desc.Append(nil)) != ptr.Hash {
			t.Fatalf("viewer %d: the DHT item names descriptor %d, it holds %+v", i, ptr.Seq, desc)
		}
		t.Logf("viewer %d: %d segments, %d peers, descriptor seq %d resolved through the DHT", i, st.Delivered, st.Connected, ptr.Seq)
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

	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("failover"), Trackers: []string{goodTracker}, DHT: goodDHT})
	for _, c := range []struct {
		name     string
		trackers []string
		dht      DHTOptions
	}{
		{"tracker down and garbage, DHT works", []string{deadTracker, garbage.URL + "/announce"}, goodDHT},
		{"DHT bootstrap gone, tracker works", []string{goodTracker}, deadDHT},
	} {
		link := protocol.Link{Stream: sd.Link().Stream, Trackers: c.trackers}
		l := startLeecher(t, ctx, &wg, LeecherConfig{Link: link.String(), DHT: c.dht})
		if st := waitPlayed(ctx, l, 3); st.Delivered < 3 {
			t.Fatalf("%s: played %d segments with %d peers", c.name, st.Delivered, st.Connected)
		}
	}
}

// privateDHT starts four routing DHT nodes on loopback, joined to one another, and returns
// the options that join them: no test ever reaches the public DHT.
func privateDHT(ctx context.Context, wg *sync.WaitGroup) DHTOptions {
	var boot []string
	for range 4 {
		addr := make(chan net.Addr, 1)
		join := slices.Clone(boot)
		wg.Add(1)
		go func() {
			defer wg.Done()
			discovery.RunDHT(ctx, discovery.DHTConfig{Listen: "127.0.0.1:0", Bootstrap: join, InfoHash: [20]byte{1},
				Every: time.Hour, OnReady: func(a net.Addr) { addr <- a }})
		}()
		boot = append(boot, (<-addr).String())
	}
	return DHTOptions{Enabled: true, Listen: "127.0.0.1:0", Bootstrap: boot, Every: 500 * time.Millisecond}
}

// waitPlayed polls the leecher until it has played n segments or ctx ends.
func waitPlayed(ctx context.Context, l *Leecher, n int64) node.Stats {
	var st node.Stats
	for st.Delivered < n && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		st = nodeStats(ctx, l.Node)
	}
	return st
}

// nodeStats reads a node's counters.
func nodeStats(ctx context.Context, n *node.Node) node.Stats {
	var st node.Stats
	n.Do(ctx, func(_ *livetorrent.Swarm, s node.Stats) { st = s })
	return st
}

// coreStats reads the counters of a node's engine core.
func coreStats(ctx context.Context, n *node.Node) livetorrent.Stats {
	var st livetorrent.Stats
	n.Do(ctx, func(c *livetorrent.Swarm, _ node.Stats) { st = c.Stats() })
	return st
}
