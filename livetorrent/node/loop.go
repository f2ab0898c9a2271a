package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol"
)

// Stats are the node's own counters, read through Do.
type Stats struct {
	Connected      int
	Accepted       int64 // incoming connections that completed the handshakes
	Dialled        int64 // outgoing connections that completed the handshakes
	Refused        int64 // connections refused or failed before the handshakes completed
	NotLive        int64 // of which the other side did not speak the live extension (a plain BitTorrent client)
	Banned         int64
	BytesSent      int64 // all frames, closed connections included
	BytesReceived  int64
	Delivered      int64
	Skipped        int64
	OriginFetches  int64
	OriginBytes    int64
	OriginFailures int64
	OriginCancels  int64 // fetches aborted because the piece came from a peer first
}

// handle runs one event through the core and carries out the actions. Events that acting
// produces (credit for dropped DATA) are queued and handled after, because the core reuses
// its action buffer and must not be re-entered.
func (n *Node) handle(ev livetorrent.Event) {
	n.deferred = append(n.deferred, ev)
	for len(n.deferred) > 0 {
		ev := n.deferred[0]
		n.deferred = n.deferred[1:]
		for _, a := range n.core.Handle(time.Now(), ev) {
			n.act(a)
		}
	}
	n.deferred = n.deferred[:0:cap(n.deferred)]
}

func (n *Node) act(a livetorrent.Action) {
	switch a.Kind {
	case livetorrent.ActSend:
		c := n.conns[a.Peer]
		if c == nil {
			n.dropped(a)
			return
		}
		if err := c.Send(a.Msg); err != nil {
			n.dropped(a)
			if errors.Is(err, peerconn.ErrQueueFull) {
				c.Close(errQueueFull)
			}
		}
	case livetorrent.ActControl:
		if c := n.conns[a.Peer]; c != nil {
			if err := c.SendControl(pp.MessageType(a.Control)); errors.Is(err, peerconn.ErrQueueFull) {
				c.Close(errQueueFull)
			}
		}
	case livetorrent.ActClose:
		c := n.conns[a.Peer]
		if c == nil {
			return
		}
		n.log.Info("closing peer", "peer", c.Addr(), "err", a.Err, "ban", a.Ban)
		if a.Ban {
			now := time.Now()
			for _, k := range peerBanKeys(c.Addr(), c.Remote().PeerID) {
				n.bans.add(k, now)
			}
			n.stats.Banned++
		}
		c.Close(fmt.Errorf("engine: %w", a.Err))
	case livetorrent.ActDeliver, livetorrent.ActSkip:
		skipped := a.Kind == livetorrent.ActSkip
		if skipped {
			n.stats.Skipped += int64(a.Delivery.Count)
		} else {
			n.stats.Delivered++
		}
		if n.cfg.OnDeliver != nil {
			n.cfg.OnDeliver(*a.Delivery, skipped)
		}
	case livetorrent.ActFetchOrigin:
		n.stats.OriginFetches++
		n.startFetch(*a.Fetch)
	case livetorrent.ActCancelOrigin:
		if f := n.fetches[a.Fetch.Piece]; f != nil {
			f.cancel()
			delete(n.fetches, a.Fetch.Piece)
			n.stats.OriginCancels++
		}
	case livetorrent.ActWakeAt:
		d := time.Until(a.At)
		if !n.wake.Stop() {
			select {
			case <-n.wake.C:
			default:
			}
		}
		n.wake.Reset(max(d, 0))
	}
}

// dropped returns the upload credit of a DATA block that will never be written.
func (n *Node) dropped(a livetorrent.Action) {
	if d, ok := a.Msg.(protocol.Data); ok {
		n.deferred = append(n.deferred, livetorrent.Written{Peer: a.Peer, Bytes: len(d.Block)})
	}
}

// Reasons register refuses a connection; none is a penalty.
var (
	errDuplicatePeer = errors.New("peer id already connected")
	errBannedPeer    = errors.New("banned")
	errIPFull        = errors.New("too many connections from that IP address")
)

// register adds a connection that completed both handshakes; it runs on the loop. A second
// connection under a peer id already connected is refused, without penalty: the id is not
// authenticated, so the newer one may be the honest peer or a spoof, and keeping the
// established one is what lets neither side churn. On refusal the connection is closed and
// h is the peer already connected under that id, if any.
func (n *Node) register(ctx context.Context, nc net.Conn, r peerconn.Remote, outbound bool, dialAddr string) (h livetorrent.PeerHandle, err error) {
	if h, dup := n.byID[r.PeerID]; dup {
		n.stats.Refused++
		nc.Close()
		return h, errDuplicatePeer
	}
	if n.bans.bannedAny(peerBanKeys(nc.RemoteAddr(), r.PeerID), time.Now()) {
		n.stats.Refused++
		nc.Close()
		return 0, errBannedPeer
	}
	if g, limited := n.ipGroup(nc.RemoteAddr()); limited && !outbound && n.peersByIPGroup()[g] >= n.cfg.MaxPeersPerIP {
		n.stats.Refused++
		nc.Close()
		return 0, errIPFull
	}
	n.next++
	h = n.next
	cfg := n.cfg.Conn
	cfg.Upload, cfg.Download = n.up, n.down
	cfg.OnDataWritten = func(b int) {
		select {
		case n.events <- livetorrent.Written{Peer: h, Bytes: b}:
		case <-ctx.Done():
		}
	}
	hello := n.currentHello()
	c := peerconn.Start(nc, hello.Ext, r, cfg,
		func(in peerconn.Inbound) bool { return n.deliverInbound(ctx, h, in) },
		func(err error) {
			select {
			case n.calls <- func() { n.unregister(h, err) }:
			case <-ctx.Done():
			}
		})
	n.conns[h] = c
	n.byID[r.PeerID] = h
	// The address it listens on counts as connected, so the dialer leaves it alone when
	// discovery lists it: the one we dialled, or the port an incoming peer announced.
	if dialAddr != "" {
		n.byAddr[dialAddr] = h
	} else if la, ok := announcedAddr(nc.RemoteAddr(), r.Ext.Port); ok {
		if _, taken := n.byAddr[la.String()]; !taken {
			n.byAddr[la.String()] = h
		}
	}
	n.stats.Connected = len(n.conns)
	if outbound {
		n.stats.Dialled++
	} else {
		n.stats.Accepted++
	}
	seeder := dialAddr != "" && slices.Contains(n.cfg.Seeders, dialAddr)
	n.handle(livetorrent.PeerUp{Peer: h, Addr: nc.RemoteAddr().String(), Outbound: outbound, Ext: r.Ext, Seeder: seeder})
	return h, nil
}

// announcedAddr is where an incoming peer says it accepts connections: the IP it connects
// from with the port of its extended handshake (false if it announced none).
func announcedAddr(remote net.Addr, port uint16) (netip.AddrPort, bool) {
	ta, ok := remote.(*net.TCPAddr)
	if !ok || port == 0 {
		return netip.AddrPort{}, false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return netip.AddrPortFrom(ip.Unmap(), port), ok
}

func (n *Node) unregister(h livetorrent.PeerHandle, err error) {
	c := n.conns[h]
	if c == nil {
		return
	}
	sent, recvd := c.Counters()
	n.stats.BytesSent += sent
	n.stats.BytesReceived += recvd
	delete(n.conns, h)
	delete(n.pex, h)
	delete(n.byID, c.Remote().PeerID)
	for a, hh := range n.byAddr {
		if hh == h {
			delete(n.byAddr, a)
			n.dialer.disconnected(a, time.Now(), recvd, err)
		}
	}
	n.stats.Connected = len(n.conns)
	n.log.Debug("peer gone", "peer", c.Addr(), "err", err)
	n.handle(livetorrent.PeerDown{Peer: h, Err: err})
}

// snapshot returns the stats with the counters of open connections added.
func (n *Node) snapshot() Stats {
	s := n.stats
	s.Refused += n.handshakeFailures.Load()
	s.NotLive = n.notLive.Load()
	for _, c := range n.conns {
		sent, recvd := c.Counters()
		s.BytesSent += sent
		s.BytesReceived += recvd
	}
	return s
}

func inbound(h livetorrent.PeerHandle, in peerconn.Inbound) livetorrent.Event {
	if in.Live != nil {
		return livetorrent.Received{Peer: h, Msg: in.Live}
	}
	return livetorrent.ControlReceived{Peer: h, Kind: livetorrent.Control(in.Control)}
}
