package node

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol"
)

// Peer exchange (BEP 11): every PexEvery each peer that offered ut_pex is told which
// listening peers we gained and lost since the last message to it; what peers tell us goes
// to the dialer. Lists are bounded both ways.
const (
	pexID         = 2
	pexMaxAdded   = 50       // addresses per message, as BEP 11 advises
	pexMaxPayload = 16 << 10 // larger ut_pex payloads are ignored
	// pexMinGap is the least time between two ut_pex messages from one peer that we act
	// on: BEP 11 asks for at most one a minute; the slack is for timer jitter.
	pexMinGap = 55 * time.Second
	// pexDialRate and pexDialBurst pace, over all peers, the dials of addresses learned
	// only from peer exchange (dialer.poll): a few a second is enough to fill a swarm's
	// slots, and bounds how hard a hostile peer can make us dial a third party.
	pexDialRate  = 4 // per second
	pexDialBurst = 8
)

// pexState is per connection, owned by the loop.
type pexState struct {
	sent     map[netip.AddrPort]bool // what this peer has been told we are connected to
	lastRecv time.Time
	received int
}

// listenAddr is where a connected peer accepts connections: the address we dialled, or
// for incoming connections its IP with the port from its extended handshake.
func (n *Node) listenAddr(h livetorrent.PeerHandle) (netip.AddrPort, bool) {
	for a, hh := range n.byAddr {
		if hh == h {
			ap, err := netip.ParseAddrPort(a)
			return ap, err == nil
		}
	}
	c := n.conns[h]
	return announcedAddr(c.Addr(), c.Remote().Ext.Port)
}

// sendPex tells each peer the listening peers it has not heard of, and the ones gone.
func (n *Node) sendPex() {
	current := map[netip.AddrPort]livetorrent.PeerHandle{}
	for h := range n.conns {
		if ap, ok := n.listenAddr(h); ok {
			current[ap] = h
		}
	}
	for h, c := range n.conns {
		if c.Remote().Ext.PexID == 0 {
			continue
		}
		st := n.pex[h]
		if st == nil {
			st = &pexState{sent: map[netip.AddrPort]bool{}}
			n.pex[h] = st
		}
		var msg pp.PexMsg
		for ap, hh := range current {
			if hh == h || st.sent[ap] || len(msg.Added)+len(msg.Added6) >= pexMaxAdded {
				continue
			}
			st.sent[ap] = true
			na := krpc.NodeAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
			if ap.Addr().Is4() {
				msg.Added = append(msg.Added, na)
				msg.AddedFlags = append(msg.AddedFlags, 0)
			} else {
				msg.Added6 = append(msg.Added6, na)
				msg.Added6Flags = append(msg.Added6Flags, 0)
			}
		}
		for ap := range st.sent {
			if _, ok := current[ap]; !ok && len(msg.Dropped)+len(msg.Dropped6) < pexMaxAdded {
				delete(st.sent, ap)
				na := krpc.NodeAddr{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
				if ap.Addr().Is4() {
					msg.Dropped = append(msg.Dropped, na)
				} else {
					msg.Dropped6 = append(msg.Dropped6, na)
				}
			}
		}
		if len(msg.Added)+len(msg.Added6)+len(msg.Dropped)+len(msg.Dropped6) == 0 {
			continue
		}
		m := msg.Message(0)
		c.SendPex(m.ExtendedPayload)
	}
}

// onPex takes the addresses a peer told us about, at most one message per pexMinGap.
func (n *Node) onPex(h livetorrent.PeerHandle, payload []byte, now time.Time) {
	if n.conns[h] == nil || len(payload) > pexMaxPayload {
		return
	}
	st := n.pex[h]
	if st == nil {
		st = &pexState{sent: map[netip.AddrPort]bool{}}
		n.pex[h] = st
	}
	if st.received > 0 && now.Sub(st.lastRecv) < pexMinGap {
		return // faster than BEP 11 allows: ignored
	}
	st.lastRecv = now
	st.received++
	addrs, err := pexAddrs(payload)
	if err != nil {
		n.log.Debug("bad ut_pex", "peer", n.conns[h].Addr(), "err", err)
		return
	}
	for _, a := range addrs {
		n.dialer.add(a, fromPex, now)
	}
	n.dialer.poll(now)
}

// deliverInbound routes one message from a connection's reader: live messages and
// choke/interest go to the core, ut_pex to the loop's peer exchange.
func (n *Node) deliverInbound(ctx context.Context, h livetorrent.PeerHandle, in peerconn.Inbound) bool {
	if in.Pex != nil {
		payload := in.Pex
		select {
		case n.calls <- func() { n.onPex(h, payload, time.Now()) }:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return n.post(ctx, inbound(h, in))
}

// pexAddrs decodes a ut_pex message into at most pexMaxAdded dialable addresses; junk
// (port 0, unspecified, multicast, malformed) is dropped.
func pexAddrs(payload []byte) ([]string, error) {
	if len(payload) > pexMaxPayload {
		return nil, fmt.Errorf("ut_pex of %d bytes", len(payload))
	}
	msg, err := pp.LoadPexMsg(payload)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, na := range append(msg.Added, msg.Added6...) {
		if len(addrs) >= pexMaxAdded {
			break
		}
		ip, ok := netip.AddrFromSlice(na.IP)
		if !ok || na.Port <= 0 || na.Port >= 65536 {
			continue
		}
		if ap := netip.AddrPortFrom(ip.Unmap(), uint16(na.Port)); protocol.UsableAddr(ap) {
			addrs = append(addrs, ap.String())
		}
	}
	return addrs, nil
}
