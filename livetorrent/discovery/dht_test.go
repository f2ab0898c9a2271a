package discovery

import (
	"context"
	"fmt"
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
	boot := privateDHT(ctx, &wg, 1)
	members := []uint16{7101, 7102}
	var founds []<-chan struct{}
	for i, port := range members {
		found, onPeers := finds(fmt.Sprintf("127.0.0.1:%d", members[1-i]))
		founds = append(founds, found)
		startDHT(ctx, &wg, DHTConfig{Bootstrap: boot, InfoHash: ih, Port: port,
			Every: 300 * time.Millisecond, OnPeers: onPeers})
	}
	for i, found := range founds {
		select {
		case <-found:
		case <-ctx.Done():
			t.Fatalf("member %d never found port %d", i, members[1-i])
		}
	}
}
