package node

import (
	"net"
	"sync"
	"time"
)

// bans remembers the IP addresses of peers that sent bad data. The accept goroutine reads
// it, so it has its own lock.
type bans struct {
	mu    sync.Mutex
	until map[string]time.Time
	dur   time.Duration
}

func newBans(d time.Duration) *bans { return &bans{until: map[string]time.Time{}, dur: d} }

// banKey is the IP address, except on loopback, where every peer of a one-machine swarm
// shares 127.0.0.1: there the whole address is banned (the peer id is banned as well).
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

func (b *bans) add(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Bounded: expired entries go first, and past 65536 the table starts over rather than grow.
	if len(b.until) >= 1<<16 {
		for k, t := range b.until {
			if now.After(t) {
				delete(b.until, k)
			}
		}
		if len(b.until) >= 1<<16 {
			b.until = map[string]time.Time{}
		}
	}
	b.until[key] = now.Add(b.dur)
}

func (b *bans) banned(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.until[key]
	return ok && now.Before(t)
}

func idKey(id [20]byte) string { return "id:" + string(id[:]) }
