package node

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol"
)

// dialer keeps the configured peers connected: it dials each address that has no
// connection, with exponential backoff per address after failures. It is used from the
// loop goroutine only; the dials themselves run in their own goroutines.
type dialer struct {
	n      *Node
	ctx    context.Context
	wg     *sync.WaitGroup
	addrs  map[string]*dialState // the address table: see addrtable.go
	groups map[netip.Prefix]int  // unpinned entries per hostPrefix
	// forgotten holds when each recently forgotten address was dropped (addrtable.go).
	forgotten map[string]time.Time
	// pexDials paces the dials of addresses only peer exchange vouches for (see poll).
	pexDials *rate.Limiter
}

type dialState struct {
	next     time.Time
	backoff  time.Duration
	busy     bool
	pinned   bool  // from the link or the configuration: always kept connected
	received int64 // bytes the last connection to it delivered: good peers are dialled first
	failures int   // dials in a row that failed or were refused
	// For the table's eviction policy (addrtable.go).
	source    addrSource
	connected bool         // a dial to it once completed the handshakes
	group     netip.Prefix // its hostPrefix, if grouped (an IP literal)
	grouped   bool
}

const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
	// idleRedial is how long an address whose connection was closed for idling rests: it
	// had nothing for us, and its slot is better spent on others.
	idleRedial = 10 * time.Minute
	// maxDialFailures is how many dials in a row a discovered address may fail before it is
	// forgotten: discovery lists peers that left long ago, and an address that is not
	// connectable should not be retried every maxBackoff for as long as the node runs.
	// Discovery may list it again once forgetFor has passed (addrtable.go). Configured
	// addresses are never forgotten.
	maxDialFailures = 5
)

func newDialer(n *Node, ctx context.Context, wg *sync.WaitGroup) *dialer {
	return &dialer{n: n, ctx: ctx, wg: wg, addrs: map[string]*dialState{}, groups: map[netip.Prefix]int{},
		forgotten: map[string]time.Time{}, pexDials: rate.NewLimiter(pexDialRate, pexDialBurst)}
}

// poll starts the dials that are due, in the order of due(), within the peer target, the
// per-IP limit (for discovered addresses: a hostile peer exchange could list many ports of
// one host) and the half-open limit (the dial goroutines queue on it).
func (d *dialer) poll(now time.Time) {
	dialling := 0
	byGroup := d.n.peersByIPGroup()
	for addr, st := range d.addrs {
		if st.busy {
			dialling++
			if g, ok := d.ipGroup(addr); ok {
				byGroup[g]++
			}
		}
	}
	for _, addr := range d.due(now) {
		st := d.addrs[addr]
		peers := len(d.n.conns) + dialling
		if peers >= d.n.maxPeers() || (!st.pinned && peers >= d.n.targetPeers()) {
			return // enough: the table is polled again on the next tick
		}
		g, limited := d.ipGroup(addr)
		if limited && !st.pinned && byGroup[g] >= d.n.cfg.MaxPeersPerIP {
			continue
		}
		// Any connected peer can name any host in ut_pex, and a host that resets every
		// connection fails each dial at once, so the half-open limit does not pace them:
		// the dials of addresses only peer exchange vouches for share one token bucket.
		// An address that once completed the handshakes is a peer, not a third party.
		if st.source == fromPex && !st.connected && !d.pexDials.AllowN(now, 1) {
			continue
		}
		if limited {
			byGroup[g]++
		}
		st.busy = true
		dialling++
		d.wg.Add(1)
		go func() { defer d.wg.Done(); d.dial(addr) }()
	}
}

// ipGroup is the per-IP limit's group of a dial address (ok false for host names).
func (d *dialer) ipGroup(addr string) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	return d.n.groupOf(ap.Addr())
}

// due lists the addresses to dial now: not connected, not banned, not resting after a
// failure; pinned ones first, then those whose last connection delivered the most.
func (d *dialer) due(now time.Time) []string {
	var due []string
	for addr, st := range d.addrs {
		if st.busy || now.Before(st.next) {
			continue
		}
		if _, connected := d.n.byAddr[addr]; connected || d.n.bans.banned(banKey(addr), now) {
			continue
		}
		due = append(due, addr)
	}
	slices.SortFunc(due, func(a, b string) int {
		sa, sb := d.addrs[a], d.addrs[b]
		if sa.pinned != sb.pinned {
			if sa.pinned {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(sb.received, sa.received); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return due
}

// disconnected schedules a redial after a connection to addr ended, remembering what it
// delivered.
func (d *dialer) disconnected(addr string, now time.Time, received int64, err error) {
	st, ok := d.addrs[addr]
	if !ok {
		return
	}
	st.received = received
	st.rest(now)
	if errors.Is(err, livetorrent.ErrIdle) && !st.pinned {
		st.next = now.Add(idleRedial)
	}
}

// dialed takes the outcome of a dial to addr, on the loop. A connection that registers
// resets the address's backoff. One refused after the handshakes is a failure like any
// other, so the backoff grows rather than the address being dialled again every tick (each
// time a TCP connect and two handshakes on both sides) - unless it was refused because that
// peer is already connected (an incoming connection that announced no listening port, or
// another): then addr is its address, and is dialled again only once that connection ends.
func (d *dialer) dialed(addr string, now time.Time, nc net.Conn, r peerconn.Remote, err error) {
	st := d.addrs[addr]
	st.busy = false
	if err != nil {
		d.n.refused(err)
		d.n.log.Debug("dial failed", "addr", addr, "err", err)
		d.failed(addr, now)
		return
	}
	h, err := d.n.register(d.ctx, nc, r, true, addr)
	switch {
	case err == nil:
		st.backoff, st.failures, st.connected = minBackoff, 0, true
	case errors.Is(err, errDuplicatePeer):
		st.failures, st.connected = 0, true
		d.n.byAddr[addr] = h
	default:
		d.n.log.Debug("dialled peer refused", "addr", addr, "err", err)
		d.failed(addr, now)
	}
}

// failed rests addr after a failed or refused dial, or forgets it after maxDialFailures in
// a row if it was discovered.
func (d *dialer) failed(addr string, now time.Time) {
	st := d.addrs[addr]
	if st.failures++; st.failures >= maxDialFailures && !st.pinned {
		d.forget(addr)
		d.remember(addr, now)
		return
	}
	st.rest(now)
}

// refused counts a connection that failed before both handshakes completed. It runs on
// handshake goroutines too, so a flood of failed handshakes costs the loop nothing.
func (n *Node) refused(err error) {
	n.handshakeFailures.Add(1)
	if errors.Is(err, peerconn.ErrNotLive) {
		n.notLive.Add(1)
	}
}

// rest keeps the address from being dialled for its backoff, which then doubles.
func (st *dialState) rest(now time.Time) {
	st.next = now.Add(st.backoff)
	st.backoff = min(2*st.backoff, maxBackoff)
}

func (d *dialer) dial(addr string) {
	n := d.n
	select {
	case n.halfOpen <- struct{}{}:
	case <-d.ctx.Done():
		return
	}
	nc, r, err := d.connect(addr)
	<-n.halfOpen
	select {
	case n.calls <- func() { d.dialed(addr, time.Now(), nc, r, err) }:
	case <-d.ctx.Done():
		if nc != nil {
			nc.Close()
		}
	}
}

func (d *dialer) connect(addr string) (net.Conn, peerconn.Remote, error) {
	n := d.n
	ctx, cancel := context.WithTimeout(d.ctx, n.cfg.HandshakeTimeout)
	defer cancel()
	nc, err := n.cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, peerconn.Remote{}, err
	}
	r, err := peerconn.Initiate(nc, n.currentHello(), time.Now().Add(n.cfg.HandshakeTimeout))
	if err != nil {
		nc.Close()
		return nil, peerconn.Remote{}, err
	}
	return nc, r, nil
}

func (n *Node) acceptLoop(ctx context.Context) {
	for {
		nc, err := n.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // transient (e.g. EMFILE): do not spin
			continue
		}
		if n.bans.banned(banKey(nc.RemoteAddr().String()), time.Now()) {
			nc.Close()
			continue
		}
		// Incoming handshakes have their own budget, and one address only a share of it, so
		// connections that open and say nothing cannot stop other peers from joining or
		// this node from dialling out.
		release, ok := n.inbound.take(nc.RemoteAddr())
		if !ok {
			nc.Close()
			continue
		}
		go func() {
			hello := n.currentHello()
			_, r, err := peerconn.Accept(nc, func(ih protocol.InfoHash) (peerconn.Hello, bool) {
				return hello, ih == hello.InfoHash
			}, time.Now().Add(n.cfg.InboundHandshakeTimeout))
			release() // the handshake is over: its slot goes back before we wait on the loop
			if err != nil {
				nc.Close()
				n.log.Debug("incoming refused", "addr", nc.RemoteAddr(), "err", err)
				n.refused(err)
				return
			}
			select {
			case n.calls <- func() {
				if len(n.conns) >= n.maxPeers() {
					nc.Close()
					n.stats.Refused++
					return
				}
				if _, err := n.register(ctx, nc, r, false, ""); err != nil {
					n.log.Debug("incoming refused", "addr", nc.RemoteAddr(), "err", err)
				}
			}:
			case <-ctx.Done():
				nc.Close()
			}
		}()
	}
}

func (n *Node) targetPeers() int {
	if t := n.cfg.Swarm.TargetPeers; t > 0 {
		return min(t, n.maxPeers())
	}
	return min(50, n.maxPeers())
}

func (n *Node) maxPeers() int {
	if n.cfg.Swarm.MaxPeers > 0 {
		return n.cfg.Swarm.MaxPeers
	}
	return livetorrent.DefaultMaxPeers
}
