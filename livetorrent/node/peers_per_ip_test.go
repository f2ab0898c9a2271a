package node

import (
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
)

// One IP (127.0.0.2; loopback is limited here as if it were a remote host) completes as
// many handshakes as the publisher has slots and keeps the connections open. Only
// MaxPeersPerIP of them are kept, the others are closed without a ban, and an honest viewer
// from another IP still joins.
func TestOneIPCannotTakeEverySlot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	const slots = 8
	pub := newTestNode(t, Config{Swarm: livetorrent.Config{Role: livetorrent.RolePublisher, MaxPeers: slots}})
	pub.limitLoopback = true
	runNode(ctx, &wg, pub)

	var attackers []net.Conn
	for range slots {
		var id [20]byte
		rand.Read(id[:])
		c, _ := rawDial(t, net.IPv4(127, 0, 0, 2), pub.Addr().String(), rawHello(id, 0))
		attackers = append(attackers, c)
	}
	s := waitStats(t, ctx, pub, 5*time.Second, func(s Stats) bool { return s.Accepted+s.Refused >= slots })
	if s.Connected != DefaultMaxPeersPerIP || s.Refused != slots-DefaultMaxPeersPerIP || s.Banned != 0 {
		t.Fatalf("after %d connections from one IP: %d connected, %d refused, %d banned (want %d, %d, 0)",
			slots, s.Connected, s.Refused, s.Banned, DefaultMaxPeersPerIP, slots-DefaultMaxPeersPerIP)
	}
	closed := 0
	for _, c := range attackers {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1<<16)); err != nil && !isTimeout(err) {
			closed++
		}
	}
	if closed != slots-DefaultMaxPeersPerIP {
		t.Fatalf("%d of the attacker's connections closed, want %d", closed, slots-DefaultMaxPeersPerIP)
	}

	viewer := startNodes(t, ctx, &wg, Config{Peers: []string{pub.Addr().String()}})[0]
	if vs := waitStats(t, ctx, viewer, 5*time.Second, func(s Stats) bool { return s.Connected > 0 }); vs.Connected == 0 {
		t.Fatal("an honest viewer cannot join a publisher one IP has filled")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// Peer exchange lists many ports of one host: the node dials only MaxPeersPerIP of them
// (here 2), and a configured peer on that host is dialled anyway.
func TestDiscoveredAddressesOfOneIPAreNotAllDialled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var listeners []*rawListener
	for range 7 {
		var id [20]byte
		rand.Read(id[:])
		listeners = append(listeners, listenRaw(t, net.IPv4(127, 0, 0, 3), rawHello(id, 0)))
	}
	pinned := listeners[6]
	n := newTestNode(t, Config{MaxPeersPerIP: 2, Peers: []string{pinned.addr()}})
	n.limitLoopback = true
	runNode(ctx, &wg, n)
	if s := waitStats(t, ctx, n, 5*time.Second, func(s Stats) bool { return s.Connected == 1 }); s.Connected != 1 {
		t.Fatalf("the configured peer did not connect: %+v", s)
	}
	var addrs []string
	for _, l := range listeners[:6] {
		addrs = append(addrs, l.addr())
	}
	n.AddPeers(addrs)
	time.Sleep(time.Second) // four dial ticks
	var dialled int64
	for _, l := range listeners[:6] {
		dialled += l.accepted.Load()
	}
	if s := nodeStats(t, ctx, n); dialled != 1 || s.Connected != 2 {
		t.Fatalf("with a limit of 2 per IP and one configured peer there: %d discovered addresses dialled, %d connected", dialled, s.Connected)
	}
}

// By default loopback peers are not limited: a one-machine swarm shares 127.0.0.1.
func TestLoopbackPeersAreNotLimited(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	n := startNodes(t, ctx, &wg, Config{})[0]
	const peers = DefaultMaxPeersPerIP + 2
	for range peers {
		var id [20]byte
		rand.Read(id[:])
		rawDial(t, net.IPv4(127, 0, 0, 1), n.Addr().String(), rawHello(id, 0))
	}
	if s := waitStats(t, ctx, n, 5*time.Second, func(s Stats) bool { return s.Connected == peers }); s.Connected != peers {
		t.Fatalf("%d of %d loopback peers connected (refused %d)", s.Connected, peers, s.Refused)
	}
}

// The limit counts IPv4 addresses one by one and IPv6 ones by /64.
func TestIPGroups(t *testing.T) {
	n := &Node{}
	group := func(s string) netip.Prefix {
		g, ok := n.groupOf(netip.MustParseAddr(s))
		if !ok {
			t.Fatalf("%s is not limited", s)
		}
		return g
	}
	if group("2001:db8::1") != group("2001:db8::ffff:1") {
		t.Error("two addresses of one /64 are counted apart")
	}
	if group("2001:db8::1") == group("2001:db8:0:1::1") || group("198.51.100.1") == group("198.51.100.2") {
		t.Error("different networks are counted together")
	}
	if group("::ffff:198.51.100.1") != group("198.51.100.1") {
		t.Error("an IPv4-mapped address is counted apart from its IPv4 address")
	}
	if _, ok := n.groupOf(netip.MustParseAddr("::1")); ok {
		t.Error("loopback is limited")
	}
}
