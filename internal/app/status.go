package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/livetorrent/livetorrent/internal/status"
	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/node"
)

// StatusOptions choose how a seeder or leecher shows what it does.
type StatusOptions struct {
	// Metrics is the address of the HTTP server for /metrics (Prometheus), /status.json and
	// the status page; empty = none. Listener, when set, is used instead.
	Metrics  string
	Listener net.Listener
	// Line, when set, receives a one-line live status rewritten every second (a terminal).
	Line io.Writer
}

// propagation converts the core's propagation buckets.
func propagation(st livetorrent.Stats) status.Histogram {
	h := status.Histogram{Counts: append([]int64(nil), st.Propagation[:]...), Sum: st.PropagationSum}
	h.Bounds = append(h.Bounds, livetorrent.PropagationBounds[:]...)
	return h
}

// coreSnapshot fills what every role shares from the core and the node.
func coreSnapshot(c *livetorrent.Swarm, ns node.Stats) status.Snapshot {
	st := c.Stats()
	return status.Snapshot{
		Peers: ns.Connected, BytesSent: st.BytesUploaded,
		BytesFromPeers: st.VerifiedFromPeers, BytesFromSeeder: st.VerifiedFromSeeder, BytesFromOrigin: st.BytesFromOrigin,
		PiecesVerified: st.PiecesVerified, PiecesRejected: st.PiecesFailed, DeadlineMisses: st.PiecesLate,
		SegmentsPlayed: st.SegmentsDelivered, SegmentsSkipped: st.SegmentsSkipped, Retunes: st.Retunes,
		Stalls: st.Stalls, StallTime: st.StallTime, StartupDelay: st.StartupDelay, Propagation: propagation(st),
		RequestsSent: st.RequestsSent, RequestsRefused: st.RejectsReceived, DuplicateRequests: st.DuplicateRequests,
		BytesWasted: st.BytesWasted,
	}
}

// Snapshot is the seeder's status now.
func (s *Seeder) Snapshot(ctx context.Context) (status.Snapshot, error) {
	var snap status.Snapshot
	err := s.Node.Do(ctx, func(c *livetorrent.Swarm, ns node.Stats) { snap = coreSnapshot(c, ns) })
	snap.Role, snap.Stream, snap.Name = "seeder", s.link.Stream.InfoHash().String(), s.link.Name
	snap.Uptime = time.Since(s.started)
	snap.BitrateBps = s.pub.Bitrate()
	snap.SegmentsPublished = s.pub.segments.Load()
	return snap, err
}

// Snapshot is the leecher's status now.
func (l *Leecher) Snapshot(ctx context.Context) (status.Snapshot, error) {
	var snap status.Snapshot
	err := l.Node.Do(ctx, func(c *livetorrent.Swarm, ns node.Stats) {
		snap = coreSnapshot(c, ns)
		snap.BufferAhead, snap.BehindLive, _ = c.Playback()
		if d := c.Descriptor(); d != nil {
			snap.Name = d.Name
		}
	})
	snap.Role, snap.Stream = "leecher", l.link.Stream.InfoHash().String()
	if snap.Name == "" {
		snap.Name = l.link.Name
	}
	snap.Uptime = time.Since(l.started)
	out := l.Out.Stats()
	snap.MissingRequests = out.MissingAhead + out.PlaylistTimeouts
	return snap, err
}

// bindStatus opens the metrics listener early, so a bad address is a configuration error.
// It returns the options with the listener set, and that listener again as owned when it
// opened it (nil when the caller passed one in, which stays the caller's to close).
func bindStatus(o StatusOptions) (_ StatusOptions, owned net.Listener, _ error) {
	if o.Metrics != "" && o.Listener == nil {
		ln, err := net.Listen("tcp", o.Metrics)
		if err != nil {
			return o, nil, fmt.Errorf("metrics listen: %w", err)
		}
		o.Listener = ln
		return o, ln, nil
	}
	return o, nil, nil
}

// releaseBound closes what a seeder or leecher bound, for one that will not run (its
// construction failed, or Close): the node's peer listener (n may be nil) and the
// listeners in owned (nil entries are skipped).
func releaseBound(n *node.Node, owned ...io.Closer) error {
	var errs []error
	if n != nil {
		errs = append(errs, n.Close())
	}
	for _, c := range owned {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

func listenerAddr(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// serveStatus serves the metrics and status page and writes the status line, as o asks,
// until ctx ends. A metrics server that fails is logged at once and the rest goes on (the
// status line included): peers and players do not depend on it.
func serveStatus(ctx context.Context, o StatusOptions, src status.Source, log *slog.Logger) {
	if o.Listener == nil && o.Line == nil { // bindStatus turned Metrics into Listener
		return
	}
	ctx, stop := context.WithCancel(ctx)
	m := status.NewMonitor(src, 0)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Add(1)
	go func() { defer wg.Done(); m.Run(ctx) }()
	if o.Line != nil {
		wg.Add(1)
		go func() { defer wg.Done(); status.RunLine(ctx, o.Line, m, time.Second) }()
	}
	if o.Listener != nil {
		err := status.Serve(ctx, o.Listener, status.NewHandler(m))
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Error("status server", "err", err)
		}
		if o.Line == nil {
			return // nothing left that reads the monitor
		}
	}
	<-ctx.Done()
}
