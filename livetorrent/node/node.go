// Package node runs a swarm engine core over real sockets. One goroutine, the loop, owns the
// core and the connection table: every socket event, timer and publish request reaches it
// through a bounded channel, and the actions the core returns are carried out from there
// without blocking (sends are queued on the connection, fetches run in their own goroutine).
package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol"
)

// Config of a node. Zero values take defaults; Swarm.Stream is required.
type Config struct {
	Swarm  livetorrent.Config
	Listen string   // TCP address to accept peers on, e.g. "127.0.0.1:0"; empty = do not listen
	Peers  []string // addresses dialled at start and re-dialled with backoff while the node runs
	// Seeders are the addresses whose connections count as the seeder in the byte counters
	// (a viewer passes the link's x.pe addresses). Nothing else depends on it.
	Seeders []string
	PeerID  [20]byte // zero = random with the LiveTorrent prefix

	UploadRate   int // bytes per second over all connections, 0 = unlimited
	DownloadRate int
	Conn         peerconn.Config

	MaxHalfOpen      int           // concurrent outgoing handshakes (default 16)
	HandshakeTimeout time.Duration // outgoing: dial and handshakes (default 10 s)
	// Incoming handshakes: at most MaxInbound at once, MaxInboundPerIP of them from one IP,
	// each given InboundHandshakeTimeout (defaults 64, 8, 5 s).
	MaxInbound              int
	MaxInboundPerIP         int
	InboundHandshakeTimeout time.Duration
	// MaxPeersPerIP bounds the established connections with one IP address (IPv6: one
	// /64), so that one host cannot take every slot: incoming connections beyond it are
	// refused after the handshakes, without penalty, and discovered addresses on it are not
	// dialled (default 4). Loopback peers are not counted: a one-machine swarm (every test,
	// the demo) shares 127.0.0.1.
	MaxPeersPerIP int
	BanFor        time.Duration // default 1 h
	// Dial opens outgoing connections (default net.Dialer). Tests replace it to cut routes.
	Dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	NoPex bool // do not exchange peers (BEP 11)
	// PexEvery is the peer exchange period (default 60 s, as BEP 11 asks). Shorter is for
	// tests: peers act on at most one ut_pex message per pexMinGap (55 s) from one peer.
	PexEvery time.Duration
	// HTTP fetches origin pieces (default a client with a 10 s timeout).
	HTTP   *http.Client
	Logger *slog.Logger
	// OnDeliver receives each segment the core delivers or skips (skipped = true), from the
	// loop goroutine: it must not block.
	OnDeliver func(d livetorrent.Delivery, skipped bool)
}

// Node is a running swarm member: a publisher (seeder) or a viewer.
type Node struct {
	cfg    Config
	log    *slog.Logger
	core   *livetorrent.Swarm
	ln     net.Listener
	hello  peerconn.Hello
	events chan livetorrent.Event
	calls  chan func()

	// Owned by the loop goroutine.
	conns    map[livetorrent.PeerHandle]*peerconn.Conn
	byID     map[[20]byte]livetorrent.PeerHandle
	byAddr   map[string]livetorrent.PeerHandle
	next     livetorrent.PeerHandle
	wake     *time.Timer
	dialer   *dialer
	bans     *bans
	stats    Stats
	deferred []livetorrent.Event
	pex      map[livetorrent.PeerHandle]*pexState
	fetches  map[uint64]*originFetch // origin fetches in flight, by piece
	helloMu  sync.Mutex
	halfOpen chan struct{} // outgoing handshakes
	inbound  *inboundLimit // incoming handshakes
	// limitLoopback applies MaxPeersPerIP to loopback peers too; for tests, which have no
	// other addresses.
	limitLoopback bool
	// Handshake failures, counted by the handshake goroutines (see refused).
	handshakeFailures, notLive atomic.Int64
	up, down                   *rate.Limiter // shared by all connections
}

// Defaults of the connection limits (Config.MaxHalfOpen, MaxInbound, MaxInboundPerIP,
// MaxPeersPerIP).
const (
	DefaultMaxHalfOpen     = 16
	DefaultMaxInbound      = 64
	DefaultMaxInboundPerIP = 8
	DefaultMaxPeersPerIP   = 4
)

// New prepares a node; it binds the listener at once so Addr is known before Run.
func New(cfg Config) (*Node, error) {
	if cfg.Swarm.NoPayload {
		// A node talks to real peers: it must verify everything it receives.
		return nil, errors.New("node: Config.Swarm.NoPayload is for simulators only")
	}
	if cfg.MaxHalfOpen <= 0 {
		cfg.MaxHalfOpen = DefaultMaxHalfOpen
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.MaxInbound <= 0 {
		cfg.MaxInbound = DefaultMaxInbound
	}
	if cfg.MaxInboundPerIP <= 0 {
		cfg.MaxInboundPerIP = DefaultMaxInboundPerIP
	}
	if cfg.MaxPeersPerIP <= 0 {
		cfg.MaxPeersPerIP = DefaultMaxPeersPerIP
	}
	if cfg.InboundHandshakeTimeout <= 0 {
		cfg.InboundHandshakeTimeout = 5 * time.Second
	}
	if cfg.BanFor <= 0 {
		cfg.BanFor = time.Hour
	}
	if cfg.Dial == nil {
		d := &net.Dialer{Timeout: cfg.HandshakeTimeout}
		cfg.Dial = d.DialContext
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PeerID == ([20]byte{}) {
		copy(cfg.PeerID[:], protocol.PeerIDPrefix)
		rand.Read(cfg.PeerID[len(protocol.PeerIDPrefix):])
	}
	if cfg.Swarm.Seed == 0 {
		var b [8]byte
		rand.Read(b[:])
		cfg.Swarm.Seed = binary.LittleEndian.Uint64(b[:])
	}
	core, err := livetorrent.New(cfg.Swarm)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, core: core,
		events:   make(chan livetorrent.Event, 4096),
		calls:    make(chan func(), 16),
		conns:    map[livetorrent.PeerHandle]*peerconn.Conn{},
		byID:     map[[20]byte]livetorrent.PeerHandle{},
		byAddr:   map[string]livetorrent.PeerHandle{},
		pex:      map[livetorrent.PeerHandle]*pexState{},
		fetches:  map[uint64]*originFetch{},
		bans:     newBans(cfg.BanFor),
		halfOpen: make(chan struct{}, cfg.MaxHalfOpen),
		inbound:  &inboundLimit{max: cfg.MaxInbound, perIP: cfg.MaxInboundPerIP, byIP: map[netip.Addr]int{}},
		up:       peerconn.NewLimiter(cfg.UploadRate),
		down:     peerconn.NewLimiter(cfg.DownloadRate),
	}
	if cfg.Listen != "" {
		if n.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	n.refreshHello()
	return n, nil
}

// Close releases the listener of a node that will not be run; Run closes it itself when
// its context ends.
func (n *Node) Close() error {
	if n.ln == nil {
		return nil
	}
	return n.ln.Close()
}

// Addr is the listening address, or nil.
func (n *Node) Addr() net.Addr {
	if n.ln == nil {
		return nil
	}
	return n.ln.Addr()
}

// PeerID is this node's peer id.
func (n *Node) PeerID() [20]byte { return n.cfg.PeerID }

// Publish hands a new segment (or descriptor) to a publisher node. It blocks while the loop
// is busy, until ctx ends.
func (n *Node) Publish(ctx context.Context, p livetorrent.Publish) error {
	select {
	case n.events <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Post hands the core an event from outside the swarm (a descriptor pointer from the DHT,
// for one). It blocks while the loop is busy, until ctx ends.
func (n *Node) Post(ctx context.Context, ev livetorrent.Event) error {
	if !n.post(ctx, ev) {
		return ctx.Err()
	}
	return nil
}

// AddPeers hands addresses found by discovery (trackers, DHT, peer exchange) to the dialer.
// It never blocks: when the loop is busy the addresses are dropped, as discovery repeats.
func (n *Node) AddPeers(addrs []string) {
	select {
	case n.calls <- func() {
		now := time.Now()
		for _, a := range addrs {
			n.dialer.add(a, fromDiscovery, now)
		}
		n.dialer.poll(now)
	}:
	default:
	}
}

// Do runs fn on the loop goroutine with the core and a snapshot of the node's counters, for
// reading state (stats, metrics). fn must not keep the core.
func (n *Node) Do(ctx context.Context, fn func(core *livetorrent.Swarm, s Stats)) error {
	done := make(chan struct{})
	select {
	case n.calls <- func() { fn(n.core, n.snapshot()); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run serves until ctx ends, then closes every connection.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if n.ln != nil {
		wg.Add(1)
		go func() { defer wg.Done(); n.acceptLoop(ctx) }()
		context.AfterFunc(ctx, func() { n.ln.Close() })
	}
	n.dialer = newDialer(n, ctx, &wg)
	for _, a := range n.cfg.Peers {
		n.dialer.add(a, fromLink, time.Now())
	}
	n.dialer.poll(time.Now())
	n.wake = time.NewTimer(time.Hour)
	defer n.wake.Stop()
	n.handle(livetorrent.Tick{})
	tick := time.NewTicker(n.tickEvery())
	defer tick.Stop()
	pexEvery := n.cfg.PexEvery
	if pexEvery <= 0 {
		pexEvery = time.Minute
	}
	pexTick := time.NewTicker(pexEvery)
	defer pexTick.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, c := range n.conns {
				c.Close(ctx.Err())
			}
			wg.Wait()
			return nil
		case ev := <-n.events:
			n.handle(ev)
		case fn := <-n.calls:
			fn()
		case <-n.wake.C:
			n.handle(livetorrent.Tick{})
		case <-pexTick.C:
			if !n.cfg.NoPex {
				n.sendPex()
			}
		case <-tick.C:
			// Housekeeping independent of the core's timers: dial retries and the
			// extended handshake our next connections will send.
			n.refreshHello()
			n.dialer.poll(time.Now())
		}
	}
}

func (n *Node) tickEvery() time.Duration {
	if d := n.cfg.Swarm.TickInterval; d > 0 {
		return max(d, 100*time.Millisecond)
	}
	return 250 * time.Millisecond
}

// post delivers an event to the loop from another goroutine; false once ctx has ended.
func (n *Node) post(ctx context.Context, ev livetorrent.Event) bool {
	select {
	case n.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func (n *Node) refreshHello() {
	ext := n.core.LocalExtHandshake()
	ext.LiveID = liveID
	if !n.cfg.NoPex {
		ext.PexID = pexID
	}
	ext.Client = "LiveTorrent/0.1"
	if n.ln != nil {
		ext.Port = uint16(n.ln.Addr().(*net.TCPAddr).Port)
	}
	n.helloMu.Lock()
	n.hello = peerconn.Hello{InfoHash: n.cfg.Swarm.Stream.InfoHash(), PeerID: n.cfg.PeerID, Ext: ext}
	n.helloMu.Unlock()
}

func (n *Node) currentHello() peerconn.Hello {
	n.helloMu.Lock()
	defer n.helloMu.Unlock()
	return n.hello
}

// liveID is the extended message id we receive live messages on.
const liveID = 1

var errQueueFull = errors.New("peer is not reading: write queue full")
