package node

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// nodeStats reads a running node's counters.
func nodeStats(t *testing.T, ctx context.Context, n *Node) Stats {
	t.Helper()
	var s Stats
	if err := n.Do(ctx, func(_ *livetorrent.Swarm, st Stats) { s = st }); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitStats polls a node's counters until ok holds or d has passed, and returns the last.
func waitStats(t *testing.T, ctx context.Context, n *Node, d time.Duration, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := nodeStats(t, ctx, n)
		if ok(s) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newTestNode creates a node on loopback for the test stream; Run it with runNode.
func newTestNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	cfg.Swarm.Stream = prototest.Stream()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Dial == nil {
		cfg.Dial = testmedia.LoopbackDial
	}
	cfg.HTTP = testmedia.LoopbackHTTP()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// runNode runs n until ctx ends; wg waits for it.
func runNode(ctx context.Context, wg *sync.WaitGroup, n *Node) {
	wg.Add(1)
	go func() { defer wg.Done(); n.Run(ctx) }()
}

// startNodes creates and runs a node for each configuration.
func startNodes(t *testing.T, ctx context.Context, wg *sync.WaitGroup, cfgs ...Config) []*Node {
	t.Helper()
	var nodes []*Node
	for _, cfg := range cfgs {
		nodes = append(nodes, newTestNode(t, cfg))
	}
	for _, n := range nodes {
		runNode(ctx, wg, n)
	}
	return nodes
}

// rawHello is the handshake of a hand-driven peer for the test stream that listens on port
// (0: announces none).
func rawHello(id [20]byte, port uint16) peerconn.Hello {
	return peerconn.Hello{InfoHash: prototest.Stream().InfoHash(), PeerID: id,
		Ext: protocol.ExtHandshake{LiveID: 1, Version: protocol.Version, Reqq: 256, Port: port}}
}

// rawDial connects to addr from the loopback IP from (127.0.0.x) and completes both
// handshakes as hello; the connection closes when the test ends.
func rawDial(t *testing.T, from net.IP, addr string, hello peerconn.Hello) (net.Conn, peerconn.Remote) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r, err := peerconn.Initiate(c, hello, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c, r
}

// rawListener is a hand-driven peer that accepts connections on a loopback IP and completes
// both handshakes as hello, counting them; it keeps every connection open until the test
// ends and never sends anything else.
type rawListener struct {
	ln       net.Listener
	accepted atomic.Int64
}

func listenRaw(t *testing.T, ip net.IP, hello peerconn.Hello) *rawListener {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	l := &rawListener{ln: ln}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				if _, _, err := peerconn.Accept(c, func(protocol.InfoHash) (peerconn.Hello, bool) { return hello, true },
					time.Now().Add(5*time.Second)); err == nil {
					l.accepted.Add(1)
				}
			}()
		}
	}()
	return l
}

func (l *rawListener) addr() string { return l.ln.Addr().String() }
