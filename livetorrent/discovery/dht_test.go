package discovery

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// A private DHT on loopback, never the public routers: a bootstrap node and two swarm
// members; each member finds the other's announced port.
func TestDHTMembersFindEachOther(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	ih := prototest.Stream().InfoHash()
	bootAddr := make(chan net.Addr, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		// A plain node: no announce, only routing.
		RunDHT(ctx, DHTConfig{Listen: "127.0.0.1:0", InfoHash: [20]byte{1}, Every: time.Hour,
			OnReady: func(a net.Addr) { bootAddr <- a }})
	}()
	boot := []string{(<-bootAddr).String()}
	type found struct {
		mu sync.Mutex
		m  map[netip.AddrPort]bool
	}
	members := []uint16{7101, 7102}
	founds := make([]*found, len(members))
	for i, port := range members {
		f := &found{m: map[netip.AddrPort]bool{}}
		founds[i] = f
		wg.Add(1)
		go func() {
			defer wg.Done()
			RunDHT(ctx, DHTConfig{Listen: "127.0.0.1:0", Bootstrap: boot, InfoHash: ih, Port: port,
				Every: 300 * time.Millisecond, OnPeers: func(ps []netip.AddrPort) {
					f.mu.Lock()
					defer f.mu.Unlock()
					for _, p := range ps {
						f.m[p] = true
					}
				}})
		}()
	}
	for i, f := range founds {
		want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), members[1-i])
		for {
			f.mu.Lock()
			ok := f.m[want]
			f.mu.Unlock()
			if ok {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("member %d never found %v", i, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
