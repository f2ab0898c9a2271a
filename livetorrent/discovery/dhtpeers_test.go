package discovery

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
	"github.com/anacrolix/torrent/bencode"

	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// One host announcing 600 ports to our node gets at most maxPortsPerIP of them stored, so a
// get_peers answer can no longer be grown into a 4 KB reflection of a 95-byte query.
func TestDHTGetPeersReplyBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	node := startDHT(ctx, &wg, DHTConfig{})
	c := loopbackConn(t)
	ih := krpc.ID{0x1f}
	g := krpcQuery(t, c, node, "get_peers", krpc.MsgArgs{InfoHash: ih})
	if g.R == nil || g.R.Token == nil {
		t.Fatalf("get_peers: no token: %+v", g)
	}
	to, _ := net.ResolveUDPAddr("udp4", node)
	f := loopbackConn(t) // the announces' replies must not fill c's receive buffer
	for port := 1; port <= 600; port++ {
		a := krpc.MsgArgs{ID: krpc.ID{0xc1}, InfoHash: ih, Token: *g.R.Token, Port: &port}
		f.WriteToUDP(bencode.MustMarshal(krpc.Msg{T: "aa", Y: "q", Q: "announce_peer", A: &a}), to)
		time.Sleep(200 * time.Microsecond)
	}
	time.Sleep(2500 * time.Millisecond) // the node's reply limiter refills
	r := krpcQuery(t, c, node, "get_peers", krpc.MsgArgs{InfoHash: ih})
	if r.R == nil || len(r.R.Values) == 0 || len(r.R.Values) > maxPortsPerIP {
		t.Fatalf("get_peers returned %d peers for one announcing IP, want 1..%d", len(r.R.Values), maxPortsPerIP)
	}
}

// addPeer announces ip:port to store p for swarm ih.
func addPeer(p *peerStore, ih peer_store.InfoHash, ip string, port int) {
	p.AddPeer(ih, krpc.NodeAddr{IP: net.ParseIP(ip).To4(), Port: port})
}

// hasPeer reports whether store p returns ip:port for swarm ih.
func hasPeer(p *peerStore, ih peer_store.InfoHash, ip string, port int) bool {
	want := netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port))
	for _, na := range p.GetPeers(ih) {
		if a, ok := netip.AddrFromSlice(na.IP); ok && netip.AddrPortFrom(a.Unmap(), uint16(na.Port)) == want {
			return true
		}
	}
	return false
}

// The peer store's caps: a reply carries at most maxPeersPerReply peers, one IP keeps at
// most maxPortsPerIP ports in a swarm (its newest), and a new swarm is stored when the
// store is full of junk swarms (the oldest goes), so our own announce is never dropped.
func TestPeerStoreCaps(t *testing.T) {
	p := newPeerStore()
	ih := peer_store.InfoHash{1}
	for i := range 300 {
		addPeer(p, ih, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), 6881)
	}
	if n := len(p.GetPeers(ih)); n == 0 || n > maxPeersPerReply {
		t.Errorf("%d peers in a reply, want 1..%d", n, maxPeersPerReply)
	}
	one := peer_store.InfoHash{3} // a swarm of one IP's ports, all in each reply
	for port := 1; port <= 20; port++ {
		addPeer(p, one, "192.0.2.1", port)
	}
	if !hasPeer(p, one, "192.0.2.1", 20) {
		t.Error("the newest port of an IP is not stored")
	}
	n := 0
	for port := 1; port <= 20; port++ {
		if hasPeer(p, one, "192.0.2.1", port) {
			n++
		}
	}
	if n > maxPortsPerIP {
		t.Errorf("%d ports stored for one IP, want at most %d", n, maxPortsPerIP)
	}
	for i := range maxStoredSwarms {
		addPeer(p, peer_store.InfoHash{2, byte(i >> 8), byte(i)}, "192.0.2.2", 1)
	}
	ours := peer_store.InfoHash(prototest.Stream().InfoHash())
	addPeer(p, ours, "192.0.2.3", 7000)
	if !hasPeer(p, ours, "192.0.2.3", 7000) {
		t.Error("a new swarm is refused once the store is full of junk swarms")
	}
}

// Stored peers expire after peerExpiry without a fresh announce; a re-announce keeps a peer.
func TestPeerStoreExpiry(t *testing.T) {
	now := time.Unix(1e9, 0)
	p := &peerStore{now: func() time.Time { return now }}
	ih := peer_store.InfoHash{1}
	addPeer(p, ih, "192.0.2.1", 1)
	addPeer(p, ih, "192.0.2.2", 2)
	now = now.Add(peerExpiry / 2)
	addPeer(p, ih, "192.0.2.2", 2)
	now = now.Add(peerExpiry/2 + time.Second)
	if hasPeer(p, ih, "192.0.2.1", 1) {
		t.Error("a peer is returned after its announce expired")
	}
	if !hasPeer(p, ih, "192.0.2.2", 2) {
		t.Error("a re-announced peer expired")
	}
	now = now.Add(peerExpiry)
	if len(p.GetPeers(ih)) != 0 || len(p.m) != 0 {
		t.Errorf("expired swarm still held: %d swarms", len(p.m))
	}
}
