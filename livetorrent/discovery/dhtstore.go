package discovery

import (
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/torrent/bencode"

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
	var oldest bep44.Target
	var oldestAt time.Time
	dropped := false
	for t, si := range st.foreign {
		switch {
		case now.Sub(si.at) >= itemExpiry:
			delete(st.foreign, t)
			dropped = true
		case oldestAt.IsZero() || si.at.Before(oldestAt):
			oldest, oldestAt = t, si.at
		}
	}
	if !dropped {
		delete(st.foreign, oldest)
	}
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
