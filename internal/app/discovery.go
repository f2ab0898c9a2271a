package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent/discovery"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/protocol"
)

// runTrackers announces the node to the trackers and feeds the peers they return to its
// dialer, until ctx ends.
func runTrackers(ctx context.Context, n *node.Node, trackers []string, stream protocol.Stream, seeder bool,
	dial func(ctx context.Context, network, addr string) (net.Conn, error), log *slog.Logger) {
	if len(trackers) == 0 {
		return
	}
	var port uint16
	if a, ok := n.Addr().(*net.TCPAddr); ok {
		port = uint16(a.Port)
	}
	discovery.RunTrackers(ctx, discovery.TrackerConfig{
		Trackers: trackers, InfoHash: stream.InfoHash(), PeerID: n.PeerID(), Port: port, Seeder: seeder,
		Dial: dial, Logger: log,
		OnPeers: func(_ string, peers []netip.AddrPort) {
			addrs := make([]string, len(peers))
			for i, p := range peers {
				addrs[i] = p.String()
			}
			n.AddPeers(addrs)
		},
	})
}

// DHTOptions enables the mainline DHT for a node.
type DHTOptions struct {
	Enabled   bool
	Listen    string   // UDP address, e.g. "0.0.0.0:6881"
	Bootstrap []string // host:port; the commands default to the public routers
	Every     time.Duration
	StateFile string // routing table kept here across restarts; empty = not kept
}

// runDHT looks the swarm up in the DHT through conn (from bind), announcing the node's port,
// and feeds the peers to its dialer until ctx ends. items carries the stream and the item role: the seeder sets
// Item and Key to publish, a viewer sets OnItem to resolve.
func runDHT(ctx context.Context, n *node.Node, o DHTOptions, conn net.PacketConn, items discovery.DHTConfig, log *slog.Logger) {
	if !o.Enabled {
		return
	}
	var port uint16
	if a, ok := n.Addr().(*net.TCPAddr); ok {
		port = uint16(a.Port)
	}
	cfg := items
	cfg.Listen, cfg.Conn, cfg.Bootstrap, cfg.StateFile = o.Listen, conn, o.Bootstrap, o.StateFile
	cfg.InfoHash, cfg.Port, cfg.Every, cfg.Logger = items.Stream.InfoHash(), port, o.Every, log
	cfg.OnPeers = func(peers []netip.AddrPort) {
		addrs := make([]string, len(peers))
		for i, p := range peers {
			addrs[i] = p.String()
		}
		n.AddPeers(addrs)
	}
	err := discovery.RunDHT(ctx, cfg)
	if err != nil {
		log.Warn("dht stopped", "err", err)
	}
}

// checkLinkAddrs checks peer addresses and tracker URLs as a link's x.pe and tr parameters
// are checked (protocol.ParseLink), so that a seeder never prints a link viewers refuse.
func checkLinkAddrs(peers, trackers []string) error {
	for _, p := range peers {
		if err := protocol.CheckPeerAddr(p); err != nil {
			return fmt.Errorf("peer %q: %w", p, err)
		}
	}
	for _, tr := range trackers {
		if err := protocol.CheckTrackerURL(tr); err != nil {
			return fmt.Errorf("tracker %q: %w", tr, err)
		}
	}
	return nil
}

// bind binds the DHT's socket when the DHT is enabled (nil otherwise), at construction: an
// address that cannot be bound (a bad port, a busy one, another host's) is then refused
// before the node starts, instead of leaving a viewer of a key-only link running with no
// way to find peers, and Run uses the socket without binding again.
func (o DHTOptions) bind() (net.PacketConn, error) {
	if !o.Enabled {
		return nil, nil
	}
	pc, err := net.ListenPacket("udp4", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("dht listen: %w", err)
	}
	return pc, nil
}
