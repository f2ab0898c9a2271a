package node

import (
	"net"
	"sync"
	"time"

	"github.com/livetorrent/livetorrent/internal/stale"
)

// bans remembers the IP addresses of peers that sent bad data. The accept goroutine reads
// it, so it has its own lock.
type bans struct {
	mu    sync.Mutex
	until map[string]time.Time
	dur   time.Duration
	max   int // entries kept, so a flood of bad peers costs bounded memory
}

// maxBans is the size of the ban table.
const maxBans = 1 << 16

func newBans(d time.Duration) *bans {
	return &bans{until: map[string]time.Time{}, dur: d, max: maxBans}
}

// banKey is the IP address (Section 10.2), except on loopback, where every peer of a
// one-machine swarm shares 127.0.0.1: there the whole address is banned.
func banKey(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return addr
	}
	return h
}

// peerBanKeys are the keys a connected peer is banned under, and those a new connection is
// checked against. Off loopback that is its IP address only: peer ids are not
// authenticated, so a ban on one would let anyone who learned an honest peer's id (the
// seeder's, say) have that peer refused. On loopback the address includes the port, and an
// incoming peer comes back from a new one, so the peer id is banned too, together with the
// loopback IP it came from: an id spoofed from another loopback address does not touch the
// honest peer, and a peer reaching us over loopback already runs on this machine.
func peerBanKeys(remote net.Addr, id [20]byte) []string {
	keys := []string{banKey(remote.String())}
	if ta, ok := remote.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		keys = append(keys, "id:"+ta.IP.String()+"/"+string(id[:]))
	}
	return keys
}

func (b *bans) add(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, renewed := b.until[key]; !renewed && len(b.until) >= b.max {
		b.evict(now)
	}
	b.until[key] = now.Add(b.dur)
}

// evict makes room in a full table: the expired bans go, or if none has expired, the one
// that expires first, which is the oldest, as all last as long. Dropping the whole table
// instead would let an attacker that gets itself banned often enough clear every ban. The
// pass over the table only happens while it is full, and each ban cost the banned side a
// connection and a handshake.
func (b *bans) evict(now time.Time) {
	stale.Evict(b.until, func(until time.Time) time.Time { return until }, now, 0)
}

func (b *bans) banned(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.until[key]
	return ok && now.Before(t)
}

// bannedAny reports whether any of keys is banned.
func (b *bans) bannedAny(keys []string, now time.Time) bool {
	for _, k := range keys {
		if b.banned(k, now) {
			return true
		}
	}
	return false
}
