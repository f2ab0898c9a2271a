package discovery

import (
	"context"
	"crypto/rand"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"

	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// near returns the id at distance d from target.
func near(target krpc.ID, d *big.Int) (id krpc.ID) {
	b := d.FillBytes(make([]byte, 20))
	for i := range id {
		id[i] = target[i] ^ b[i]
	}
	return id
}

// hostileChain is n scripted nodes on loopback: node i answers every find_node, get_peers
// or get for a target with an id 2^100-i away from it, naming first node i+1 (one closer)
// and then 100 filler nodes at unused addresses, so a traversal never runs out of closer
// nodes to ask. get_peers answers also carry one peer. Each answer waits delay.
type hostileChain struct {
	nodes   []*net.UDPConn
	queries sync.Map // query name -> *atomic.Int64, over all nodes
	first   atomic.Int64
}

func startHostileChain(t *testing.T, n int, delay time.Duration) *hostileChain {
	h := &hostileChain{nodes: make([]*net.UDPConn, n)}
	d0 := new(big.Int).Lsh(big.NewInt(1), 100)
	ports := make([]int, n)
	ready := make(chan struct{})
	for i := range n {
		h.nodes[i] = startFakeNode(t, func(q krpc.Msg, _ *net.UDPAddr) *krpc.Msg {
			<-ready
			c, _ := h.queries.LoadOrStore(q.Q, new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
			if i == 0 && q.Q == "get_peers" {
				h.first.Add(1)
			}
			target := q.A.Target
			if q.Q == "get_peers" || q.Q == "announce_peer" {
				target = q.A.InfoHash
			}
			var nodes krpc.CompactIPv4NodeInfo
			if i+1 < n {
				nodes = append(nodes, krpc.NodeInfo{ID: near(target, new(big.Int).Sub(d0, big.NewInt(int64(i+1)))),
					Addr: krpc.NodeAddr{IP: net.IPv4(127, 0, 0, 1).To4(), Port: ports[i+1]}})
			}
			for range 100 {
				var f krpc.NodeInfo
				var r [4]byte
				rand.Read(f.ID[:])
				rand.Read(r[:])
				f.Addr = krpc.NodeAddr{IP: net.IPv4(127, 1, r[0], r[1]).To4(), Port: 1024 + int(r[2])<<4}
				nodes = append(nodes, f)
			}
			time.Sleep(delay)
			m := reply(q, krpc.Return{Nodes: nodes, Token: token()})
			m.R.ID = near(target, new(big.Int).Sub(d0, big.NewInt(int64(i))))
			if q.Q == "get_peers" {
				m.R.Values = []krpc.NodeAddr{{IP: net.IPv4(127, 0, 0, 1).To4(), Port: 7999}}
			}
			return m
		})
		ports[i] = h.nodes[i].LocalAddr().(*net.UDPAddr).Port
	}
	close(ready)
	return h
}

func (h *hostileChain) count(q string) int64 {
	if c, ok := h.queries.Load(q); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// A chain of hostile nodes twice as long as maxTraversalQueries, each naming an ever-closer
// next one: the bootstrap and the lookup each stop after maxTraversalQueries queries and the
// lookup reports its peer; the library's traversal queried the whole chain.
func TestDHTTraversalBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := startHostileChain(t, 2*maxTraversalQueries+100, 0)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	found, onPeers := finds("127.0.0.1:7999")
	startDHT(ctx, &wg, DHTConfig{Bootstrap: []string{h.nodes[0].LocalAddr().String()},
		InfoHash: prototest.Stream().InfoHash(), Port: 7000, OnPeers: onPeers})
	select {
	case <-found:
	case <-ctx.Done():
		t.Fatalf("no lookup finished: %d find_node, %d get_peers queries", h.count("find_node"), h.count("get_peers"))
	}
	for _, q := range []string{"find_node", "get_peers"} {
		if n := h.count(q); n == 0 || n > maxTraversalQueries {
			t.Errorf("%d %s queries, want 1..%d", n, q, maxTraversalQueries)
		}
	}
}

// Nodes that answer too slowly for the walk ever to end: the bootstrap and each lookup stop at
// their deadlines, and RunDHT goes on: it saves its state and looks the swarm up again.
func TestDHTTraversalDeadline(t *testing.T) {
	defer func(b, l time.Duration) { bootstrapTimeout, lookupTimeout = b, l }(bootstrapTimeout, lookupTimeout)
	bootstrapTimeout, lookupTimeout = time.Second, time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := startHostileChain(t, 100, 1500*time.Millisecond)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	state := filepath.Join(t.TempDir(), "dht.json")
	start := time.Now()
	startDHT(ctx, &wg, DHTConfig{Bootstrap: []string{h.nodes[0].LocalAddr().String()}, StateFile: state,
		SaveEvery: time.Millisecond, InfoHash: prototest.Stream().InfoHash(), Every: 100 * time.Millisecond})
	// Every lookup starts at the first node: none answered in time to join the routing table.
	for h.first.Load() < 3 {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d lookups in %v", h.first.Load(), time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("state not saved between lookups: %v", err)
	}
}
