package node

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
)

// countingDial counts the dials to each address.
type countingDial struct {
	mu    sync.Mutex
	dials map[string]int
}

func (c *countingDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	c.dials[addr]++
	c.mu.Unlock()
	return testmedia.LoopbackDial(ctx, network, addr)
}

func (c *countingDial) count(addr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dials[addr]
}

// A dialled B; then B learns A's listen address from discovery. A announced that port in
// its extended handshake, so B knows it is connected to it and never dials it.
func TestNoDialToAPeerConnectedInbound(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	dials := &countingDial{dials: map[string]int{}}
	b := startNodes(t, ctx, &wg, Config{Dial: dials.dial})[0]
	a := startNodes(t, ctx, &wg, Config{Peers: []string{b.Addr().String()}})[0]
	if s := waitStats(t, ctx, b, 5*time.Second, func(s Stats) bool { return s.Accepted > 0 }); s.Accepted == 0 {
		t.Fatal("A never connected to B")
	}
	b.AddPeers([]string{a.Addr().String()})
	time.Sleep(2 * time.Second) // 8 dial ticks
	if n := dials.count(a.Addr().String()); n != 0 {
		t.Fatalf("B dialled A %d times while A was connected to it", n)
	}
	if as, bs := nodeStats(t, ctx, a), nodeStats(t, ctx, b); as.Connected != 1 || bs.Connected != 1 || as.Refused != 0 {
		t.Fatalf("A: %+v; B: %+v", as, bs)
	}
}

// A peer connected inbound without announcing a port is listed by discovery at an address
// where it also listens. The node dials it once, finds the peer id already connected, and
// takes that address as the peer's: no redial while the first connection lasts, one as soon
// as it ends.
func TestRefusedDuplicateDialIsNotRepeated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	n := startNodes(t, ctx, &wg, Config{})[0]
	var id [20]byte
	copy(id[:], "-XX0001-duplicate...")
	peer := listenRaw(t, net.IPv4(127, 0, 0, 1), rawHello(id, 0))
	first, _ := rawDial(t, net.IPv4(127, 0, 0, 1), n.Addr().String(), rawHello(id, 0))
	if s := waitStats(t, ctx, n, 5*time.Second, func(s Stats) bool { return s.Connected == 1 }); s.Connected != 1 {
		t.Fatalf("the peer did not connect: %+v", s)
	}
	n.AddPeers([]string{peer.addr()})
	time.Sleep(2 * time.Second)
	if got := peer.accepted.Load(); got != 1 {
		t.Fatalf("the node dialled the connected peer %d times in 2 s (want one dial, refused as a duplicate)", got)
	}
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for peer.accepted.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := nodeStats(t, ctx, n); peer.accepted.Load() != 2 || s.Connected != 1 {
		t.Fatalf("after the first connection ended: %d dials, %d connected", peer.accepted.Load(), s.Connected)
	}
}

// A dialled peer refused after the handshakes (here: its peer id is banned) is a failure:
// the address backs off rather than being dialled every tick.
func TestRefusedDialBacksOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	n := startNodes(t, ctx, &wg, Config{})[0]
	var id [20]byte
	copy(id[:], "-XX0001-banned......")
	peer := listenRaw(t, net.IPv4(127, 0, 0, 1), rawHello(id, 0))
	// Banned when it connected from another port: its listen address is not banned, so
	// the node dials it, and refuses it once the handshake tells its id.
	for _, k := range peerBanKeys(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, id) {
		n.bans.add(k, time.Now())
	}
	n.AddPeers([]string{peer.addr()})
	time.Sleep(3 * time.Second) // 12 dial ticks; backoff 0.5, 1, 2 s
	if got := peer.accepted.Load(); got < 1 || got > 4 {
		t.Fatalf("a refused peer was dialled %d times in 3 s", got)
	}
}
