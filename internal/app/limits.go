package app

import (
	"fmt"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/protocol"
)

// Limits bound what peers can make a seeder or viewer spend: connections, handshakes,
// queues, message sizes, record rate and window memory. Zero values take the defaults,
// which suit a public swarm; lowering them trades capacity for exposure.
type Limits struct {
	MaxPeers        int // peer connections (default 200)
	MaxHalfOpen     int // outgoing handshakes at once (default 16)
	MaxInbound      int // incoming handshakes at once (default 64)
	MaxInboundPerIP int // incoming handshakes at once from one IP address (default 8)
	MaxPeersPerIP   int // established connections with one IP address, IPv6 /64 (default 4; loopback exempt)
	// RequestQueue is how many requests one peer may have queued with us; it is advertised
	// as reqq and a peer that exceeds it gets REJECTs (default 256, at most protocol.MaxReqq).
	RequestQueue int
	// MaxMessage is the largest message accepted, in bytes (default and at most
	// protocol.MaxFrameLen, at least MinMaxMessage). A record lists 32 bytes per piece, so
	// a low value refuses records of large segments.
	MaxMessage   int
	RecordRate   float64       // RECORD and DESCRIPTOR messages per second from one peer (default 16, burst 256)
	WindowMemory int64         // piece bytes kept, oldest evicted beyond it (default 512 MiB)
	PeerIdle     time.Duration // close a connection silent this long (default 150 s; live peers send every second)
	PeerWrite    time.Duration // close a connection when one write blocks this long: a peer that reads nothing (default 30 s)
}

// MinMaxMessage is the smallest MaxMessage allowed: a full DATA block and a record of a
// few hundred pieces fit.
const MinMaxMessage = 32 << 10

// check refuses values that would break the node rather than bound it.
func (l Limits) check() error {
	for _, v := range []struct {
		name string
		n    int64
	}{{"max peers", int64(l.MaxPeers)}, {"max half-open", int64(l.MaxHalfOpen)}, {"max inbound", int64(l.MaxInbound)},
		{"max inbound per IP", int64(l.MaxInboundPerIP)}, {"max peers per IP", int64(l.MaxPeersPerIP)},
		{"request queue", int64(l.RequestQueue)},
		{"max message", int64(l.MaxMessage)}, {"window memory", l.WindowMemory}} {
		if v.n < 0 {
			return fmt.Errorf("limits: %s %d is negative", v.name, v.n)
		}
	}
	switch {
	case l.RequestQueue > protocol.MaxReqq:
		return fmt.Errorf("limits: request queue %d above the protocol's %d", l.RequestQueue, protocol.MaxReqq)
	case l.MaxMessage != 0 && (l.MaxMessage < MinMaxMessage || l.MaxMessage > protocol.MaxFrameLen):
		return fmt.Errorf("limits: max message %d not in %d..%d", l.MaxMessage, MinMaxMessage, protocol.MaxFrameLen)
	case l.RecordRate < 0:
		return fmt.Errorf("limits: record rate %v is negative", l.RecordRate)
	case l.WindowMemory != 0 && l.WindowMemory < 4<<20:
		return fmt.Errorf("limits: window memory %d below 4 MiB cannot hold a live window", l.WindowMemory)
	case l.PeerIdle < 0 || (l.PeerIdle > 0 && l.PeerIdle < time.Second):
		return fmt.Errorf("limits: peer idle timeout %v: want at least 1s", l.PeerIdle)
	case l.PeerWrite < 0 || (l.PeerWrite > 0 && l.PeerWrite < time.Second):
		return fmt.Errorf("limits: peer write timeout %v: want at least 1s", l.PeerWrite)
	}
	return nil
}

// apply copies the limits into a node's configuration; zero values leave the node's
// defaults in place.
func (l Limits) apply(c *node.Config) {
	c.Swarm.MaxPeers = l.MaxPeers
	c.Swarm.Reqq = l.RequestQueue
	c.Swarm.RecordRate = l.RecordRate
	c.Swarm.MaxStoreBytes = l.WindowMemory
	c.MaxHalfOpen = l.MaxHalfOpen
	c.MaxInbound = l.MaxInbound
	c.MaxInboundPerIP = l.MaxInboundPerIP
	c.MaxPeersPerIP = l.MaxPeersPerIP
	c.Conn.MaxFrame = l.MaxMessage
	c.Conn.IdleTimeout = l.PeerIdle
	c.Conn.WriteTimeout = l.PeerWrite
}
