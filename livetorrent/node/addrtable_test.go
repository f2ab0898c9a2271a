package node

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// newTableDialer is a dialer that is never polled: the tests fill its table by hand.
func newTableDialer(t *testing.T) *dialer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := New(Config{Swarm: livetorrent.Config{Stream: prototest.Stream()},
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) { <-ctx.Done(); return nil, ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	n.dialer = newDialer(n, ctx, &wg)
	return n.dialer
}

// inGroup counts the table's addresses on ip.
func inGroup(d *dialer, ip string) int {
	count := 0
	for a := range d.addrs {
		if netip.MustParseAddrPort(a).Addr().String() == ip {
			count++
		}
	}
	return count
}

// The review's case: peer exchange lists 1024 ports of one unreachable host. Only
// maxAddrsPerGroup of them are kept, so a tracker's address still finds room; an address of
// that host from the configuration is not capped.
func TestOneHostCannotFillTheAddressTable(t *testing.T) {
	d := newTableDialer(t)
	for p := 1; p <= maxKnownAddrs; p++ {
		d.add(fmt.Sprintf("198.51.100.1:%d", p), fromPex, time.Now())
	}
	if got := inGroup(d, "198.51.100.1"); got != maxAddrsPerGroup {
		t.Fatalf("the table holds %d addresses of one host, want %d", got, maxAddrsPerGroup)
	}
	d.add("203.0.113.9:6881", fromDiscovery, time.Now())
	if d.addrs["203.0.113.9:6881"] == nil {
		t.Fatal("a tracker's address was dropped")
	}
	d.add("198.51.100.1:50000", fromLink, time.Now())
	if st := d.addrs["198.51.100.1:50000"]; st == nil || !st.pinned {
		t.Fatal("a configured address was capped")
	}
	// A tracker listing a capped host's address takes the place of a peer-exchange one.
	d.add("198.51.100.1:60000", fromDiscovery, time.Now())
	if d.addrs["198.51.100.1:60000"] == nil || inGroup(d, "198.51.100.1") != maxAddrsPerGroup+1 {
		t.Fatalf("a tracker's address on a capped host: kept %v, %d on the host",
			d.addrs["198.51.100.1:60000"] != nil, inGroup(d, "198.51.100.1"))
	}
}

// A full table: peer exchange from a new host displaces an address of a host with many,
// never one that once connected or came from a tracker; a tracker displaces peer exchange.
func TestAddressTableEvictionPolicy(t *testing.T) {
	d := newTableDialer(t)
	// Many hosts, each with maxAddrsPerGroup peer-exchange addresses: the table is full.
	for i := range maxKnownAddrs {
		d.add(fmt.Sprintf("198.18.%d.%d:%d", i/maxAddrsPerGroup/256, i/maxAddrsPerGroup%256, 7000+i%maxAddrsPerGroup), fromPex, time.Now())
	}
	if len(d.addrs) != maxKnownAddrs {
		t.Fatalf("%d addresses", len(d.addrs))
	}
	d.add("203.0.113.1:7000", fromPex, time.Now())
	if d.addrs["203.0.113.1:7000"] == nil || len(d.addrs) != maxKnownAddrs {
		t.Fatalf("a new host's address did not displace one of a host with %d (%d known)", maxAddrsPerGroup, len(d.addrs))
	}
	smaller := 0
	for _, c := range d.groups {
		if c == maxAddrsPerGroup-1 {
			smaller++
		}
	}
	if smaller != 1 {
		t.Fatalf("%d groups shrank, want 1", smaller)
	}

	// Now a table of valuable entries: tracker addresses and peer-exchange ones that once
	// connected, each host with one. Peer exchange, from many hosts or from one, displaces
	// none of them; a tracker address displaces only the ones that never connected.
	d = newTableDialer(t)
	for i := range maxKnownAddrs {
		a := fmt.Sprintf("198.18.%d.%d:7000", i/256, i%256)
		if i%2 == 0 {
			d.add(a, fromDiscovery, time.Now())
		} else {
			d.add(a, fromPex, time.Now())
			d.addrs[a].connected = true
		}
	}
	before := slices.Sorted(maps.Keys(d.addrs))
	for i := range maxKnownAddrs {
		d.add(fmt.Sprintf("198.19.%d.%d:7000", i/256, i%256), fromPex, time.Now())
		d.add(fmt.Sprintf("198.51.100.1:%d", 1+i), fromPex, time.Now())
	}
	if after := slices.Sorted(maps.Keys(d.addrs)); !slices.Equal(before, after) {
		t.Fatal("peer exchange displaced tracker addresses or ones that once connected")
	}
	d.add("203.0.113.1:7000", fromDiscovery, time.Now())
	if d.addrs["203.0.113.1:7000"] != nil {
		t.Fatal("a tracker address displaced one as trusted")
	}
	d.addrs["198.18.0.0:7000"].failures = 1
	d.add("203.0.113.1:7000", fromDiscovery, time.Now())
	if d.addrs["203.0.113.1:7000"] == nil || d.addrs["198.18.0.0:7000"] != nil {
		t.Fatal("a tracker address did not displace a failing tracker address")
	}
}

// Loopback addresses are not capped (a one-machine swarm shares 127.0.0.1), but they are
// counted as one host: a table filled with them gives way to any other host.
func TestLoopbackAddressesGiveWayWhenTheTableIsFull(t *testing.T) {
	d := newTableDialer(t)
	for p := 1; p <= maxKnownAddrs; p++ {
		d.add(fmt.Sprintf("127.0.0.1:%d", p), fromPex, time.Now())
	}
	if len(d.addrs) != maxKnownAddrs {
		t.Fatalf("%d loopback addresses kept, want all %d", len(d.addrs), maxKnownAddrs)
	}
	d.add("198.51.100.7:7000", fromPex, time.Now())
	if d.addrs["198.51.100.7:7000"] == nil || len(d.addrs) != maxKnownAddrs {
		t.Fatal("a table full of loopback addresses did not make room for another host")
	}
}
