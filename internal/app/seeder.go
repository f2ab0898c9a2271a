package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/discovery"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/seeder"
)

// SeederConfig configures the publisher side.
type SeederConfig struct {
	Source    string // HLS playlist URL or local path
	Loop      bool   // replay a finished playlist forever
	Variant   int    // master playlist variant (0 = highest bandwidth)
	Key       ed25519.PrivateKey
	Salt      []byte
	Name      string
	PieceSize uint32
	Window    time.Duration
	PieceFile string // keeps the piece numbering across restarts (seeder.Config.PieceFile)

	Listen     string   // peer port, e.g. "0.0.0.0:6881"
	Advertise  []string // host:port put in the link as x.pe; default: the listen address
	Trackers   []string // put in the link as tr
	UploadRate int      // bytes/s over all peers, 0 = unlimited
	Copies     int      // uploads of each new piece before it must spread (default 1)
	Limits     Limits
	DHT        DHTOptions
	Status     StatusOptions

	Logger *slog.Logger
	HTTP   *http.Client // origin client
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Seeder is a running publisher: the origin ingest feeding a publisher node.
type Seeder struct {
	cfg     SeederConfig
	log     *slog.Logger
	Node    *node.Node
	Ingest  *seeder.Ingest
	pub     *nodePublisher
	link    protocol.Link
	metrics net.Listener   // the metrics listener it opened itself (nil: none, or the caller's)
	dht     net.PacketConn // the DHT socket, bound at construction (nil: DHT off)
	started time.Time
}

// NewSeeder prepares the ingest and the node; the listener is bound so the link is known.
func NewSeeder(cfg SeederConfig) (_ *Seeder, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PieceSize == 0 {
		// Small pieces relay sooner: a viewer forwards a piece only once it has all of it.
		cfg.PieceSize = 16384
	}
	if cfg.Copies < 0 {
		return nil, fmt.Errorf("copies %d: want 0 (the default, 1) or more", cfg.Copies)
	}
	if cfg.Copies == 0 {
		// One copy keeps egress near the stream's bitrate; the engine widens a piece that
		// does not spread.
		cfg.Copies = 1
	}
	if err := cfg.Limits.check(); err != nil {
		return nil, err
	}
	// They go into the link: one a viewer would refuse makes every viewer refuse the link.
	if err := checkLinkAddrs(cfg.Advertise, cfg.Trackers); err != nil {
		return nil, err
	}
	stream := protocol.StreamOf(cfg.Key, cfg.Salt)
	s := &Seeder{cfg: cfg, log: cfg.Logger, started: time.Now()}
	if s.cfg.Status, s.metrics, err = bindStatus(cfg.Status); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // a later step failed: release the ports bound so far
			releaseBound(s.Node, s.metrics, s.dht)
		}
	}()
	if s.dht, err = cfg.DHT.bind(); err != nil {
		return nil, err
	}
	nc := node.Config{
		Swarm: livetorrent.Config{Role: livetorrent.RolePublisher, Stream: stream,
			PublisherCopies: cfg.Copies, UploadHint: uint64(max(cfg.UploadRate, 0))},
		Listen: cfg.Listen, UploadRate: cfg.UploadRate, Logger: cfg.Logger, Dial: cfg.Dial,
	}
	cfg.Limits.apply(&nc)
	s.Node, err = node.New(nc)
	if err != nil {
		return nil, err
	}
	s.pub = &nodePublisher{n: s.Node, stream: stream}
	s.Ingest, err = seeder.New(seeder.Config{Source: cfg.Source, Key: cfg.Key, Salt: cfg.Salt, Name: cfg.Name,
		PieceSize: cfg.PieceSize, WindowDuration: cfg.Window, Variant: cfg.Variant, Loop: cfg.Loop, PieceFile: cfg.PieceFile,
		HTTPClient: cfg.HTTP, Logger: cfg.Logger}, s.pub)
	if err != nil {
		return nil, err
	}
	s.link = protocol.Link{Stream: stream, Name: cfg.Name, Trackers: cfg.Trackers, Peers: cfg.Advertise}
	if len(s.link.Peers) == 0 && s.Node.Addr() != nil {
		s.link.Peers = []string{advertised(s.Node.Addr())}
	}
	if strings.HasPrefix(cfg.Source, "http://") || strings.HasPrefix(cfg.Source, "https://") {
		s.link.Origin = cfg.Source
	}
	return s, nil
}

// advertised turns a listen address into one peers can dial: an unspecified address
// (0.0.0.0 or ::) becomes loopback, which only suits a one-machine setup; operators give
// --advertise for anything else.
func advertised(a net.Addr) string {
	ta := a.(*net.TCPAddr)
	if ta.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(ta.Port))
	}
	return ta.String()
}

// Close releases the ports of a seeder that will not be run: its peer port and a metrics
// port it opened (a listener passed in StatusOptions stays open). Run releases them itself
// when it ends.
func (s *Seeder) Close() error { return releaseBound(s.Node, s.metrics, s.dht) }

// StatusAddr is the address of the metrics and status server, or nil.
func (s *Seeder) StatusAddr() net.Addr { return listenerAddr(s.cfg.Status.Listener) }

// Link is the stream's link: key, salt, name, trackers, the seeder's address, the origin.
func (s *Seeder) Link() protocol.Link { return s.link }

// Bitrate is the average bitrate of what has been published so far, in bits per second.
func (s *Seeder) Bitrate() float64 { return s.pub.Bitrate() }

// Run ingests and serves until ctx ends. When the source ends (EXT-X-ENDLIST), the seeder
// keeps serving what it published until ctx ends, so viewers can finish.
func (s *Seeder) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.pub.ctx = ctx
	var wg sync.WaitGroup
	var nodeErr error
	wg.Add(4)
	go func() { defer wg.Done(); serveStatus(ctx, s.cfg.Status, s.Snapshot, s.log) }()
	go func() { defer wg.Done(); nodeErr = s.Node.Run(ctx) }()
	go func() {
		defer wg.Done()
		runTrackers(ctx, s.Node, s.link.Trackers, s.link.Stream, true, s.cfg.Dial, s.log)
	}()
	go func() {
		defer wg.Done()
		runDHT(ctx, s.Node, s.cfg.DHT, s.dht, discovery.DHTConfig{Stream: s.link.Stream, Key: s.cfg.Key, Item: s.pub.Item}, s.log)
	}()
	err := s.Ingest.Run(ctx)
	switch {
	case err == nil:
		s.log.Info("source ended; serving what was published until stopped")
		<-ctx.Done()
	case errors.Is(err, context.Canceled):
	default:
		cancel()
	}
	wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nodeErr
}
