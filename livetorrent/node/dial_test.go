package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// The dialer dials the link's peers first, then the addresses that delivered the most, and
// stops at the target peer count (pinned peers excepted); an address closed for idling rests.
func TestDialerOrderAndTarget(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var dialled []string
	n, err := New(Config{Swarm: livetorrent.Config{Stream: prototest.Stream(), TargetPeers: 2, MaxPeers: 4},
		Dial: func(ctx context.Context, _, addr string) (net.Conn, error) {
			mu.Lock()
			dialled = append(dialled, addr)
			mu.Unlock()
			<-ctx.Done() // stays half-open until the test ends
			return nil, ctx.Err()
		}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	d := newDialer(n, ctx, &wg)
	n.dialer = d
	now := time.Now()
	for i := range 6 {
		a := fmt.Sprintf("127.0.0.1:%d", 7000+i)
		d.addrs[a] = &dialState{backoff: minBackoff, received: int64(i * 100)}
	}
	d.addrs["127.0.0.1:7009"] = &dialState{backoff: minBackoff, pinned: true}
	d.addrs["127.0.0.1:7004"].next = now.Add(time.Hour) // resting after a failure

	want := []string{"127.0.0.1:7009", "127.0.0.1:7005", "127.0.0.1:7003", "127.0.0.1:7002", "127.0.0.1:7001", "127.0.0.1:7000"}
	if got := d.due(now); !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	d.poll(now)
	busy := 0
	for _, st := range d.addrs {
		if st.busy {
			busy++
		}
	}
	if busy != 2 || !d.addrs["127.0.0.1:7009"].busy || !d.addrs["127.0.0.1:7005"].busy {
		t.Fatalf("%d dials started (want the pinned peer and the best one, target 2)", busy)
	}
	// A pinned address is dialled even at the target.
	d.add("127.0.0.1:7100", fromLink, now)
	d.poll(now)
	if !d.addrs["127.0.0.1:7100"].busy {
		t.Fatal("pinned address not dialled at the target")
	}
	d.add("127.0.0.1:7101", fromDiscovery, now)
	d.poll(now)
	if d.addrs["127.0.0.1:7101"].busy {
		t.Fatal("unpinned address dialled beyond the target")
	}

	d.disconnected("127.0.0.1:7003", now, 0, fmt.Errorf("engine: %w", livetorrent.ErrIdle))
	if st := d.addrs["127.0.0.1:7003"]; st.next.Sub(now) < idleRedial || st.received != 0 {
		t.Fatalf("idle-closed address redialled after %v", st.next.Sub(now))
	}
}

// Hostile peer exchange: a ut_pex message with thousands of addresses, junk among them,
// yields at most 50 usable ones, and the dialer remembers at most maxKnownAddrs in all.
func TestPexFloodIsBounded(t *testing.T) {
	compact := func(n int) []byte {
		// Junk first: unspecified, multicast, broadcast, port 0; then n usable addresses.
		b := []byte{0, 0, 0, 0, 0, 1, 224, 0, 0, 1, 0, 2, 255, 255, 255, 255, 0, 3, 127, 0, 0, 1, 0, 0}
		for i := range n {
			b = append(b, 127, 0, byte(i>>8), byte(i), 0x1b, 0x58) // port 7000
		}
		return []byte(fmt.Sprintf("d5:added%d:%se", len(b), b))
	}
	if _, err := pexAddrs(compact(5000)); err == nil {
		t.Fatal("a 30 kB ut_pex was decoded")
	}
	payload := compact(100)
	addrs, err := pexAddrs(payload)
	if err != nil || len(addrs) != pexMaxAdded {
		t.Fatalf("%d addresses (%v), want %d", len(addrs), err, pexMaxAdded)
	}
	for _, a := range addrs {
		if ap := netip.MustParseAddrPort(a); ap.Port() != 7000 || ap.Addr().IsUnspecified() {
			t.Fatalf("junk address %s kept", a)
		}
	}
	if _, err := pexAddrs([]byte("d5:added3:xyz")); err == nil {
		t.Fatal("garbage decoded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := New(Config{Swarm: livetorrent.Config{Stream: prototest.Stream(), TargetPeers: 1},
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) { <-ctx.Done(); return nil, ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	n.dialer = newDialer(n, ctx, &wg)
	for i := range 5000 {
		n.dialer.add(fmt.Sprintf("127.1.%d.%d:7000", i>>8, i&255), fromPex, time.Now())
	}
	if len(n.dialer.addrs) != maxKnownAddrs {
		t.Fatalf("dialer remembers %d addresses", len(n.dialer.addrs))
	}
	// Addresses that keep failing give way to fresh ones.
	for _, st := range n.dialer.addrs {
		if !st.busy {
			st.backoff, st.failures = maxBackoff, maxDialFailures-1
			break
		}
	}
	n.dialer.add("127.2.0.1:7000", fromPex, time.Now())
	if n.dialer.addrs["127.2.0.1:7000"] == nil || len(n.dialer.addrs) != maxKnownAddrs {
		t.Fatalf("a fresh address did not replace a failing one (%d known)", len(n.dialer.addrs))
	}
}

// A discovered address whose dials keep failing is forgotten after maxDialFailures in a
// row; a configured one is kept, resting at most maxBackoff between dials.
func TestFailingDiscoveredAddressIsForgotten(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := New(Config{Swarm: livetorrent.Config{Stream: prototest.Stream()}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	d := newDialer(n, ctx, &wg)
	n.dialer = d
	const discovered, configured = "127.0.0.1:7000", "127.0.0.1:7001"
	d.add(discovered, fromDiscovery, time.Now())
	d.add(configured, fromLink, time.Now())
	now := time.Now()
	for i := range maxDialFailures {
		if d.addrs[discovered] == nil {
			t.Fatalf("forgotten after %d failures", i)
		}
		for _, a := range []string{discovered, configured} {
			d.addrs[a].busy = true
			d.dialed(a, now, nil, peerconn.Remote{}, errors.New("connection refused"))
		}
	}
	if d.addrs[discovered] != nil {
		t.Fatalf("a discovered address still dialled after %d failures in a row", maxDialFailures)
	}
	if st := d.addrs[configured]; st == nil || st.next.Sub(now) > maxBackoff {
		t.Fatal("a configured address was forgotten or rests longer than maxBackoff")
	}
}
