package discovery

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// krpcQuery sends one query from c to addr and returns the answer, failing the test when
// none comes within 2 s.
func krpcQuery(t *testing.T, c *net.UDPConn, addr string, q string, a krpc.MsgArgs) krpc.Msg {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == (krpc.ID{}) {
		a.ID = krpc.ID{0xc1}
	}
	if _, err := c.WriteToUDP(bencode.MustMarshal(krpc.Msg{T: "q1", Y: "q", Q: q, A: &a}), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("%s: no answer: %v", q, err)
		}
		var m krpc.Msg
		if bencode.Unmarshal(buf[:n], &m) == nil && m.T == "q1" {
			return m
		}
	}
}

// loopbackConn is a UDP socket on 127.0.0.1 closed when the test ends.
func loopbackConn(t *testing.T) *net.UDPConn {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A flood of BEP 44 puts from one socket leaves the store bounded: past maxForeignItems,
// the oldest foreign items are evicted (the newest stays served), while the stream's own
// item, put before the flood, is still served after it.
func TestDHTItemStoreBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	st := prototest.Stream()
	node := startDHT(ctx, &wg, DHTConfig{Stream: st, InfoHash: st.InfoHash()})
	c := loopbackConn(t)
	g := krpcQuery(t, c, node, "get", krpc.MsgArgs{Target: krpc.ID{1}})
	if g.R == nil || g.R.Token == nil {
		t.Fatalf("get: no token: %+v", g)
	}
	tok := *g.R.Token
	to, _ := net.ResolveUDPAddr("udp4", node)
	// The flood goes from another socket (the token is for the IP), so its replies do not
	// crowd the gets' answers out of c's receive buffer.
	f := loopbackConn(t)
	send := func(a krpc.MsgArgs) {
		a.ID, a.Token = krpc.ID{0xc1}, tok
		f.WriteToUDP(bencode.MustMarshal(krpc.Msg{T: "pp", Y: "q", Q: "put", A: &a}), to)
	}
	has := func(target bep44.Target) bool {
		g := krpcQuery(t, c, node, "get", krpc.MsgArgs{Target: target})
		return g.R != nil && len(g.R.V) > 0
	}

	seq, v, sig, err := protocol.SignDHTItem(prototest.PublisherKey(), st.Salt, protocol.DHTItemFor(st, 1, []byte("d")))
	if err != nil {
		t.Fatal(err)
	}
	own := bep44.MakeMutableTarget(st.Key, st.Salt)
	send(krpc.MsgArgs{V: bencode.Bytes(v), K: st.Key, Salt: st.Salt, Sig: sig, Seq: &seq})
	const flood = 3 * maxForeignItems
	var targets []bep44.Target
	zero := int64(0)
	for i := range flood {
		v := fmt.Sprintf("foreign item %d %0900d", i, 0) // ~920 bytes, as in the review
		targets = append(targets, (&bep44.Item{V: v}).Target())
		send(krpc.MsgArgs{V: v, Seq: &zero})
		time.Sleep(500 * time.Microsecond) // paced, so loopback drops none
	}
	// Replies were rate-limited during the flood; let the node's send limiter refill.
	time.Sleep(2500 * time.Millisecond)
	if has(targets[0]) {
		t.Error("the first foreign item is still held after a flood of 3x the cap")
	}
	if !has(targets[flood-1]) {
		t.Error("the newest foreign item is not held")
	}
	if !has(own) {
		t.Error("the stream's own item was evicted by the flood")
	}
}

// The store evicts expired items first, then the one put the longest ago, never the stream's
// own item; a refreshed item counts as new.
func TestItemStoreEviction(t *testing.T) {
	st := prototest.Stream()
	s := newItemStore(st)
	now := time.Unix(1e9, 0)
	s.now = func() time.Time { return now }
	item := func(i int) *bep44.Item { return &bep44.Item{V: fmt.Sprint("item ", i)} }
	seq, v, sig, _ := protocol.SignDHTItem(prototest.PublisherKey(), st.Salt, protocol.DHTItemFor(st, 1, []byte("d")))
	ownItem := &bep44.Item{V: bencode.Bytes(v), K: st.Key, Salt: st.Salt, Sig: sig, Seq: seq}
	if err := s.Put(ownItem); err != nil {
		t.Fatal(err)
	}
	for i := range maxForeignItems {
		s.Put(item(i))
		now = now.Add(time.Second)
	}
	s.Put(item(0)) // refreshed: now the newest
	s.Put(item(maxForeignItems))
	if _, err := s.Get(item(1).Target()); err == nil {
		t.Error("the oldest item was not evicted")
	}
	for _, i := range []int{0, 2, maxForeignItems} {
		if _, err := s.Get(item(i).Target()); err != nil {
			t.Errorf("item %d evicted", i)
		}
	}
	now = now.Add(itemExpiry)
	s.Put(item(maxForeignItems + 1))
	if len(s.foreign) != 1 {
		t.Errorf("%d foreign items after all expired, want 1", len(s.foreign))
	}
	if it, err := s.Get(ownItem.Target()); err != nil || it.Seq != seq {
		t.Errorf("own item: %v %v", it, err)
	}
}
