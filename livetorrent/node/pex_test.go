package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// A viewer that starts knowing one peer learns the others through peer exchange and ends
// connected to at least three.
func TestPeerExchangeSpreadsAddresses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := prototest.Stream()
	start := func(role livetorrent.Role, peers ...string) *Node {
		n, err := New(Config{Swarm: livetorrent.Config{Role: role, Stream: stream}, Listen: "127.0.0.1:0",
			Peers: peers, PexEvery: 300 * time.Millisecond, Dial: testmedia.LoopbackDial, HTTP: testmedia.LoopbackHTTP()})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	run := func(n *Node) { wg.Add(1); go func() { defer wg.Done(); n.Run(ctx) }() }
	s := start(livetorrent.RolePublisher)
	run(s)
	var first *Node
	for range 3 {
		v := start(livetorrent.RoleViewer, s.Addr().String())
		if first == nil {
			first = v
		}
		run(v)
	}
	d := start(livetorrent.RoleViewer, first.Addr().String()) // knows one peer only
	run(d)
	var st Stats
	for ctx.Err() == nil {
		d.Do(ctx, func(_ *livetorrent.Swarm, s Stats) { st = s })
		if st.Connected >= 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.Connected < 3 {
		t.Fatalf("the viewer that knew one peer has %d connections", st.Connected)
	}
	t.Logf("connected to %d peers (dialled %d, accepted %d)", st.Connected, st.Dialled, st.Accepted)
}
