package node

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// An attacker that learned the publisher's peer id connects to a viewer under it, from
// another IP, and sends a descriptor signed by another key. The viewer bans the attacker,
// and still connects to the real publisher when it learns its address.
func TestSpoofedPeerIDDoesNotBanTheHonestPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	nodes := startNodes(t, ctx, &wg, Config{Swarm: livetorrent.Config{Role: livetorrent.RolePublisher}}, Config{})
	pub, viewer := nodes[0], nodes[1]

	forged := prototest.Descriptor()
	if err := forged.Sign(prototest.Key("attacker")); err != nil {
		t.Fatal(err)
	}
	c, r := rawDial(t, net.IPv4(127, 0, 0, 2), viewer.Addr().String(), rawHello(pub.PeerID(), 0))
	if _, err := c.Write(protocol.AppendLive(nil, r.Ext.LiveID, protocol.DescriptorMsg{Raw: forged.Append(nil)})); err != nil {
		t.Fatal(err)
	}
	if s := waitStats(t, ctx, viewer, 5*time.Second, func(s Stats) bool { return s.Banned > 0 }); s.Banned != 1 {
		t.Fatalf("the forger was not banned (%+v)", s)
	}

	viewer.AddPeers([]string{pub.Addr().String()})
	if s := waitStats(t, ctx, viewer, 5*time.Second, func(s Stats) bool { return s.Connected > 0 }); s.Connected == 0 {
		t.Fatalf("the viewer refuses the honest publisher after a spoof of its peer id (refused %d)", s.Refused)
	}
}

// Off loopback a peer is banned by its IP address alone, whatever its peer id; on loopback
// by its whole address and its id from that loopback IP only.
func TestPeerBanKeys(t *testing.T) {
	var id [20]byte
	copy(id[:], "the seeder's id.....")
	b := newBans(time.Hour)
	now := time.Now()
	for _, k := range peerBanKeys(&net.TCPAddr{IP: net.ParseIP("203.0.113.5"), Port: 6881}, id) {
		b.add(k, now)
	}
	for _, c := range []struct {
		addr   *net.TCPAddr
		banned bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("203.0.113.5"), Port: 50000}, true}, // same IP, any port
		{&net.TCPAddr{IP: net.ParseIP("203.0.113.6"), Port: 6881}, false}, // the same id elsewhere
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 6881}, false},
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 6881}, false},
	} {
		if got := b.bannedAny(peerBanKeys(c.addr, id), now); got != c.banned {
			t.Errorf("%v with the banned peer's id: banned %v, want %v", c.addr, got, c.banned)
		}
	}

	for _, k := range peerBanKeys(&net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 40000}, id) {
		b.add(k, now)
	}
	if !b.bannedAny(peerBanKeys(&net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 40001}, id), now) {
		t.Error("a loopback peer back from a new port with its banned id is not refused")
	}
	if b.bannedAny(peerBanKeys(&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 40001}, id), now) {
		t.Error("an id banned from 127.0.0.2 is refused from 127.0.0.1")
	}
}

// A full ban table makes room by dropping expired bans, else the oldest one: the other
// bans stay.
func TestFullBanTableEvictsTheOldest(t *testing.T) {
	b := newBans(time.Hour)
	b.max = 4
	start := time.Now()
	at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Second) }
	for i := range 6 {
		b.add(fmt.Sprint("peer", i), at(i))
	}
	now := at(6)
	for i := range 6 {
		if want := i >= 2; b.banned(fmt.Sprint("peer", i), now) != want {
			t.Errorf("peer%d banned: %v, want %v", i, !want, want)
		}
	}
	if len(b.until) != 4 {
		t.Fatalf("%d bans kept, want 4", len(b.until))
	}
	// Once the oldest have expired, a new ban takes their room and keeps the others.
	later := at(2).Add(time.Hour + time.Second/2) // peer2 has expired, peer3 not yet
	b.add("peer6", later)
	if b.banned("peer2", later) || !b.banned("peer3", later) || !b.banned("peer6", later) || len(b.until) != 4 {
		t.Fatalf("after an expiry: %d bans kept, peer3 banned %v, peer6 banned %v",
			len(b.until), b.banned("peer3", later), b.banned("peer6", later))
	}
}
