package node

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol"
)

// dialer keeps the configured peers connected: it dials each address that has no
// connection, with exponential backoff per address after failures. It is used from the
// loop goroutine only; the dials themselves run in their own goroutines.
type dialer struct {
	n     *Node
	ctx   context.Context
	wg    *sync.WaitGroup
	addrs map[string]*dialState
}

type dialState struct {
	next    time.Time
	backoff time.Duration
	busy    bool
}

const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

func newDialer(n *Node, ctx context.Context, wg *sync.WaitGroup) *dialer {
	return &dialer{n: n, ctx: ctx, wg: wg, addrs: map[string]*dialState{}}
}

// maxKnownAddrs bounds the addresses the dialer remembers, whatever discovery sends.
const maxKnownAddrs = 1024

// add starts keeping addr connected.
func (d *dialer) add(addr string) {
	if _, ok := d.addrs[addr]; ok || protocol.CheckPeerAddr(addr) != nil || len(d.addrs) >= maxKnownAddrs {
		return
	}
	d.addrs[addr] = &dialState{backoff: minBackoff}
	d.poll(time.Now())
}

// poll starts the dials that are due.
func (d *dialer) poll(now time.Time) {
	for addr, st := range d.addrs {
		if st.busy || now.Before(st.next) {
			continue
		}
		if _, connected := d.n.byAddr[addr]; connected {
			continue
		}
		if len(d.n.conns) >= d.n.maxPeers() {
			return // full: the table is polled again on the next tick
		}
		if d.n.bans.banned(banKey(addr), now) {
			continue
		}
		st.busy = true
		d.wg.Add(1)
		go func() { defer d.wg.Done(); d.dial(addr) }()
	}
}

// disconnected schedules a redial after a connection to addr ended.
func (d *dialer) disconnected(addr string, now time.Time) {
	if st, ok := d.addrs[addr]; ok {
		st.next = now.Add(st.backoff)
		st.backoff = min(2*st.backoff, maxBackoff)
	}
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
	done := func() {
		st := d.addrs[addr]
		st.busy = false
		if err != nil {
			n.stats.Refused++
			n.log.Debug("dial failed", "addr", addr, "err", err)
			st.next = time.Now().Add(st.backoff)
			st.backoff = min(2*st.backoff, maxBackoff)
			return
		}
		st.backoff = minBackoff
		n.register(d.ctx, nc, r, true, addr)
	}
	select {
	case n.calls <- done:
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
		select {
		case n.halfOpen <- struct{}{}:
		default:
			nc.Close() // too many handshakes in progress
			continue
		}
		go func() {
			defer func() { <-n.halfOpen }()
			hello := n.currentHello()
			_, r, err := peerconn.Accept(nc, func(ih protocol.InfoHash) (peerconn.Hello, bool) {
				return hello, ih == hello.InfoHash
			}, time.Now().Add(n.cfg.HandshakeTimeout))
			if err != nil {
				nc.Close()
				n.log.Debug("incoming refused", "addr", nc.RemoteAddr(), "err", err)
				return
			}
			select {
			case n.calls <- func() {
				if len(n.conns) >= n.maxPeers() {
					nc.Close()
					n.stats.Refused++
					return
				}
				n.register(ctx, nc, r, false, "")
			}:
			case <-ctx.Done():
				nc.Close()
			}
		}()
	}
}

func (n *Node) maxPeers() int {
	if n.cfg.Swarm.MaxPeers > 0 {
		return n.cfg.Swarm.MaxPeers
	}
	return 200
}
