package discovery

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2"
	k_nearest_nodes "github.com/anacrolix/dht/v2/k-nearest-nodes"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/dht/v2/traversal"

	"github.com/livetorrent/livetorrent/protocol"
)

// Bounds of one DHT traversal (bootstrap, swarm lookup, item get or put).
//
// The library's own traversals (Server.BootstrapContext, AnnounceTraversal, getput) keep
// every node address any reply mentions and query on as long as someone names a node closer
// to the target, with no deadline but the caller's: a hostile node answering with
// ever-closer made-up ids and thousands of filler nodes per reply kept one going for 30 s
// and more, growing the heap by 300 MB. Ours run the library's traversal.Operation with our
// own query function, which takes at most maxNodesPerReply nodes from a reply and sends at
// most maxTraversalQueries queries (so at most about 4,000 candidate nodes are ever held),
// and each runs under its own deadline, which also bounds a traversal slowed by nodes that
// never answer (each such query waits the library's 2-second resend delay).
var (
	bootstrapTimeout = 30 * time.Second
	lookupTimeout    = 20 * time.Second
	// finalRoundTimeout bounds the announce_peer or put queries to the closest nodes found.
	finalRoundTimeout = 10 * time.Second
)

const (
	// maxTraversalQueries: a lookup in the public DHT converges in a few dozen queries.
	maxTraversalQueries = 256
	// maxNodesPerReply: a BEP 5 reply carries 8 nodes (16 counting "nodes6").
	maxNodesPerReply = 16
	// traversalAlpha is the number of queries in flight, as in the library's get traversal.
	traversalAlpha = 3
)

var errNoStartingNodes = errors.New("dht: no nodes to start from")

// tokenNode is a node that answered a traversal with a write token.
type tokenNode struct {
	addr  dht.Addr
	token string
}

// traverse walks the DHT toward target from the routing table (or the bootstrap nodes when
// it is empty) until the walk stalls, ctx ends or maxTraversalQueries queries went out;
// query sends one query. It returns the k closest nodes that answered with a token, and how
// many nodes answered at all.
func traverse(ctx context.Context, s *dht.Server, target krpc.ID, k int,
	query func(ctx context.Context, addr dht.Addr) dht.QueryResult) (closest []tokenNode, responses int, err error) {
	var sent atomic.Int32
	op := traversal.Start(traversal.OperationInput{
		Target: target,
		Alpha:  traversalAlpha,
		K:      k,
		DoQuery: func(qctx context.Context, addr krpc.NodeAddr) traversal.QueryResult {
			if sent.Add(1) > maxTraversalQueries {
				return traversal.QueryResult{} // nothing new: the walk drains and stalls
			}
			qctx, cancel := context.WithCancel(qctx) // ends when the walk stops...
			defer cancel()
			defer context.AfterFunc(ctx, cancel)() // ...or when ours does
			r := query(qctx, dht.NewAddr(addr.UDP())).TraversalQueryResult(addr)
			if len(r.Nodes) > maxNodesPerReply {
				r.Nodes = r.Nodes[:maxNodesPerReply]
			}
			r.Nodes6 = nil // our node is IPv4 only
			return r
		},
		NodeFilter: s.TraversalNodeFilter,
		// Only nodes that gave a token can take an announce_peer or a put.
		DataFilter: func(data any) bool { _, ok := data.(string); return ok },
	})
	start, err := s.TraversalStartingNodes()
	if err != nil || len(start) == 0 {
		op.Stop()
		return nil, 0, errNoStartingNodes
	}
	op.AddNodes(start)
	select {
	case <-op.Stalled():
	case <-ctx.Done():
		err = ctx.Err()
	}
	op.Stop()
	<-op.Stopped()
	op.Closest().Range(func(e k_nearest_nodes.Elem) {
		closest = append(closest, tokenNode{addr: dht.NewAddr(e.Addr.UDP()), token: e.Data.(string)})
	})
	return closest, int(op.Stats().NumResponses), err
}

// bootstrap fills the routing table with the nodes closest to our own id (BEP 5), within
// bootstrapTimeout; a bootstrap cut short by it still keeps the nodes it met.
func bootstrap(ctx context.Context, s *dht.Server) (responses int, err error) {
	ctx, cancel := context.WithTimeout(ctx, bootstrapTimeout)
	defer cancel()
	_, responses, err = traverse(ctx, s, s.ID(), 16, func(ctx context.Context, addr dht.Addr) dht.QueryResult {
		return s.Query(ctx, addr, "find_node", dht.QueryInput{MsgArgs: krpc.MsgArgs{Target: s.ID(), Want: []krpc.Want{krpc.WantNodes}}})
	})
	return responses, err
}

// lookup asks the DHT for the swarm's peers (get_peers), within lookupTimeout, and announces
// our port (announce_peer) to the closest nodes that gave a token. It returns at most
// cfg.MaxPeers usable addresses; a lookup cut short returns what it found.
func lookup(ctx context.Context, s *dht.Server, cfg DHTConfig) []netip.AddrPort {
	tctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	var mu sync.Mutex
	seen := map[netip.AddrPort]bool{}
	var out []netip.AddrPort
	ih := [20]byte(cfg.InfoHash)
	closest, _, err := traverse(tctx, s, ih, 8, func(ctx context.Context, addr dht.Addr) dht.QueryResult {
		res := s.Query(ctx, addr, "get_peers", dht.QueryInput{MsgArgs: krpc.MsgArgs{InfoHash: ih, Want: []krpc.Want{krpc.WantNodes}}})
		if res.Reply.R == nil {
			return res
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range res.Reply.R.Values {
			ip, ok := netip.AddrFromSlice(p.IP)
			ap := netip.AddrPortFrom(ip.Unmap(), uint16(p.Port))
			if !ok || p.Port <= 0 || p.Port > 65535 || !protocol.UsableAddr(ap) || seen[ap] || len(out) >= cfg.MaxPeers {
				continue
			}
			seen[ap] = true
			out = append(out, ap)
		}
		return res
	})
	if err != nil && ctx.Err() == nil {
		cfg.Logger.Debug("dht lookup cut short", "err", err, "peers", len(out))
	}
	if cfg.Port != 0 && ctx.Err() == nil {
		port := int(cfg.Port)
		finalRound(ctx, closest, func(ctx context.Context, n tokenNode) error {
			return s.Query(ctx, n.addr, "announce_peer", dht.QueryInput{MsgArgs: krpc.MsgArgs{
				InfoHash: ih, Port: &port, Token: n.token}}).ToError()
		})
	}
	mu.Lock()
	defer mu.Unlock()
	return out
}

// finalRound sends one query to each node at once, within finalRoundTimeout, and returns how
// many succeeded.
func finalRound(ctx context.Context, nodes []tokenNode, send func(context.Context, tokenNode) error) int {
	ctx, cancel := context.WithTimeout(ctx, finalRoundTimeout)
	defer cancel()
	var ok atomic.Int32
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if send(ctx, n) == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}
