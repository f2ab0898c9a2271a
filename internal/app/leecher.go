package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/protocol"
)

// SegmentSink receives the segments a viewer plays, in order, from the node's loop: it must
// not block (the player outputs keep their own bounded queues). leecher.Output.OnDelivery
// is one.
type SegmentSink func(d livetorrent.Delivery, skipped bool)

// LeecherConfig configures a viewer.
type LeecherConfig struct {
	Link          string
	Listen        string        // peer port, e.g. "0.0.0.0:0"; empty = do not accept peers
	TargetLatency time.Duration // 0 = 3 target durations
	UploadRate    int           // bytes/s, 0 = unlimited
	DownloadRate  int
	MaxPeers      int
	NoOrigin      bool // never fetch from the origin
	Sinks         []SegmentSink
	Logger        *slog.Logger
	Dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	HTTP          *http.Client
}

// Leecher is a running viewer.
type Leecher struct {
	cfg  LeecherConfig
	link protocol.Link
	Node *node.Node
}

// NewLeecher parses the link and prepares the viewer node.
func NewLeecher(cfg LeecherConfig) (*Leecher, error) {
	link, err := protocol.ParseLink(cfg.Link)
	if err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	if len(link.Peers) == 0 {
		return nil, fmt.Errorf("link: no peers (x.pe) to join through")
	}
	l := &Leecher{cfg: cfg, link: link}
	l.Node, err = node.New(node.Config{
		Swarm: livetorrent.Config{Role: livetorrent.RoleViewer, Stream: link.Stream,
			TargetLatency: cfg.TargetLatency, MaxPeers: cfg.MaxPeers, DisableOrigin: cfg.NoOrigin,
			UploadHint: uint64(max(cfg.UploadRate, 0))},
		Listen: cfg.Listen, Peers: link.Peers, UploadRate: cfg.UploadRate, DownloadRate: cfg.DownloadRate,
		Dial: cfg.Dial, HTTP: cfg.HTTP, Logger: cfg.Logger,
		OnDeliver: func(d livetorrent.Delivery, skipped bool) {
			for _, s := range cfg.Sinks {
				s(d, skipped)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Link is the parsed link the viewer joined.
func (l *Leecher) Link() protocol.Link { return l.link }

// Run joins the swarm and plays until ctx ends.
func (l *Leecher) Run(ctx context.Context) error { return l.Node.Run(ctx) }
