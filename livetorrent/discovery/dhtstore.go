package discovery

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
	"github.com/anacrolix/torrent/bencode"

	"github.com/livetorrent/livetorrent/internal/stale"
	"github.com/livetorrent/livetorrent/protocol"
)

// Bounds of the BEP 44 store.
const (
	// itemExpiry is how long a stored item lives without a fresh put: BEP 44's two hours,
	// which the publisher's 30-minute refresh (spec 13.3) stays well within.
	itemExpiry = 2 * time.Hour
	// maxForeignItems caps the items of other streams (or of anything else) we hold for other
	// nodes. Each is at most about 1 KB (the library checks BEP 44's 1000-byte limit on v
	// before calling Put), so the store stays under about 300 KB however many puts arrive.
	maxForeignItems = 256
)

// itemStore is our DHT node's BEP 44 store. The library's default keeps every item any node
// puts to us in a map without a size cap, whose expired entries go only when someone asks for
// that exact target, so anyone with a write token could fill our memory.
//
// Refusing every item but our stream's own would bound it too, but the design relies on
// other nodes storing a stream's item: a viewer with a key-only link resolves it from
// whichever nodes the DHT has near its target, and in a private DHT those are other
// LiveTorrent nodes (routing nodes, members of other streams) that must store it for the
// link to work. So we store items for others, capped and with eviction, while the stream's
// own item is kept apart and never evicted: the library stores an item locally before
// putting it to other nodes, so the publisher's node must accept it, and a flood of foreign
// items must not push it out.
type itemStore struct {
	own   bep44.Target // the stream's item target
	hasSt bool         // false: no stream, every item is foreign
	now   func() time.Time

	mu      sync.Mutex
	ownItem *bep44.Item
	foreign map[bep44.Target]storedItem
}

type storedItem struct {
	item *bep44.Item
	at   time.Time // last put, for eviction and expiry
}

// newItemStore returns a store that keeps stream s's item apart from the others; s without
// a key (a node that only routes) has no item of its own.
func newItemStore(s protocol.Stream) *itemStore {
	st := &itemStore{now: time.Now, foreign: map[bep44.Target]storedItem{}}
	if s.Key != (protocol.PublicKey{}) {
		st.own, st.hasSt = bep44.MakeMutableTarget(s.Key, s.Salt), true
	}
	return st
}

func (st *itemStore) Put(i *bep44.Item) error {
	// Keep the value as its bencoded bytes: decoded, 1000 bytes of nested lists or integers
	// take many times that in memory, and the bytes are what a get returns anyway.
	raw, err := bencode.Marshal(i.V)
	if err != nil {
		return err
	}
	c := *i
	c.V = bencode.Bytes(raw)
	t := c.Target()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.hasSt && t == st.own {
		st.ownItem = &c
		return nil
	}
	now := st.now()
	if _, ok := st.foreign[t]; !ok && len(st.foreign) >= maxForeignItems {
		st.evictLocked(now)
	}
	st.foreign[t] = storedItem{item: &c, at: now}
	return nil
}

// evictLocked makes room for one item: it drops every expired item, or else the one put the
// longest ago.
func (st *itemStore) evictLocked(now time.Time) {
	stale.Evict(st.foreign, func(si storedItem) time.Time { return si.at }, now, itemExpiry)
}

func (st *itemStore) Get(t bep44.Target) (*bep44.Item, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.hasSt && t == st.own && st.ownItem != nil {
		return st.ownItem, nil
	}
	if si, ok := st.foreign[t]; ok {
		return si.item, nil
	}
	return nil, bep44.ErrItemNotFound
}

// Del is called by the library when Get finds an item past its expiry (sc.Exp).
func (st *itemStore) Del(t bep44.Target) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.hasSt && t == st.own {
		st.ownItem = nil
	}
	delete(st.foreign, t)
	return nil
}

// Bounds of the peer store, which holds what other nodes announce to us (BEP 5).
const (
	// peerExpiry drops a peer not re-announced for this long. Announcers repeat every
	// 5 minutes (spec 13.2) and BEP 5's tokens last 10, so 30 minutes outlives a few missed
	// announces while a peer that left is forgotten.
	peerExpiry = 30 * time.Minute
	// maxPeersPerReply caps the peers in one get_peers answer. BEP 5 sets no limit, but 500
	// peers made a 95-byte query a 4 KB answer (43x), a reflection amplifier; 50 is a full
	// dial list for a viewer (its target, spec 13.6) in about 400 bytes.
	maxPeersPerReply = 50
	// maxPortsPerIP caps the ports one IP address keeps in one swarm (its newest): several
	// peers may share an address (NAT), but one host cannot fill a swarm by itself.
	maxPortsPerIP = 4
	// maxStoredPeers and maxStoredSwarms bound memory: at most 500,000 entries of a few dozen
	// bytes. When full, expired entries go first, then the oldest, so junk cannot lock new
	// peers or swarms (ours included) out.
	maxStoredPeers  = 500
	maxStoredSwarms = 1000
)

// peerStore keeps announced peers by swarm, address and port, each with its last announce.
type peerStore struct {
	now func() time.Time // the clock (tests set their own)

	mu sync.Mutex
	m  map[peer_store.InfoHash]*peerSwarm
}

func newPeerStore() *peerStore { return &peerStore{now: time.Now} }

type peerSwarm struct {
	peers map[netip.AddrPort]time.Time // last announce
	last  time.Time                    // newest announce in the swarm
}

func (p *peerStore) AddPeer(ih peer_store.InfoHash, na krpc.NodeAddr) {
	ip, ok := netip.AddrFromSlice(na.IP)
	if !ok || na.Port <= 0 || na.Port > 65535 {
		return
	}
	ap := netip.AddrPortFrom(ip.Unmap(), uint16(na.Port))
	if !protocol.UsableAddr(ap) {
		return
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[peer_store.InfoHash]*peerSwarm{}
	}
	sw := p.m[ih]
	if sw == nil {
		if len(p.m) >= maxStoredSwarms {
			p.evictSwarmLocked(now)
		}
		sw = &peerSwarm{peers: map[netip.AddrPort]time.Time{}}
		p.m[ih] = sw
	}
	sw.last = now
	if _, ok := sw.peers[ap]; ok {
		sw.peers[ap] = now
		return
	}
	// Make room: the IP's oldest port when it has its share, else an expired or the oldest
	// entry when the swarm is full.
	var sameIP int
	var oldestIP, oldest netip.AddrPort
	for a, at := range sw.peers {
		if a.Addr() == ap.Addr() {
			if sameIP++; !oldestIP.IsValid() || at.Before(sw.peers[oldestIP]) {
				oldestIP = a
			}
		}
		if !oldest.IsValid() || at.Before(sw.peers[oldest]) {
			oldest = a
		}
	}
	switch {
	case sameIP >= maxPortsPerIP:
		delete(sw.peers, oldestIP)
	case len(sw.peers) >= maxStoredPeers:
		delete(sw.peers, oldest)
	}
	sw.peers[ap] = now
}

// evictSwarmLocked makes room for one swarm: it drops every swarm with no announce within
// peerExpiry, or else the one announced to the longest ago.
func (p *peerStore) evictSwarmLocked(now time.Time) {
	stale.Evict(p.m, func(sw *peerSwarm) time.Time { return sw.last }, now, peerExpiry)
}

// GetPeers returns at most maxPeersPerReply live peers of the swarm, a random choice when it
// has more, so every peer gets handed out; it forgets the expired ones.
func (p *peerStore) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	sw := p.m[ih]
	if sw == nil {
		return nil
	}
	live := make([]netip.AddrPort, 0, len(sw.peers))
	for a, at := range sw.peers {
		if now.Sub(at) >= peerExpiry {
			delete(sw.peers, a)
			continue
		}
		live = append(live, a)
	}
	if len(sw.peers) == 0 {
		delete(p.m, ih)
	}
	if len(live) > maxPeersPerReply {
		rand.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		live = live[:maxPeersPerReply]
	}
	out := make([]krpc.NodeAddr, len(live))
	for i, a := range live {
		out[i] = krpc.NodeAddr{IP: a.Addr().AsSlice(), Port: int(a.Port())}
	}
	return out
}
