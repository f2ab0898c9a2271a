package peerconn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	pp "github.com/anacrolix/torrent/peer_protocol"
	"golang.org/x/time/rate"

	"github.com/livetorrent/livetorrent/protocol"
)

// Config bounds one connection. Zero values take the defaults.
type Config struct {
	Upload      *rate.Limiter // shared by the connections of a node; nil = unlimited
	Download    *rate.Limiter
	QueueFrames int           // outgoing frames queued at most (default 2048)
	QueueBytes  int           // outgoing bytes queued at most (default 8 MiB)
	KeepAlive   time.Duration // send a keep-alive after this much write silence (default 60 s)
	IdleTimeout time.Duration // close after this much read silence (default 150 s)
	// WriteTimeout closes the connection when one write blocks this long, or (on Linux)
	// when sent data stays unacknowledged this long: a peer that reads nothing (default 30 s).
	WriteTimeout time.Duration
	// MaxFrame is the largest frame accepted, length prefix excluded (default and upper
	// bound protocol.MaxFrameLen). A longer declared length closes the connection before
	// any of the frame is read or allocated.
	MaxFrame int
	// OnDataWritten is called by the writer with the block length of each DATA frame once
	// it is handed to the socket, so the engine can give the peer more upload credit.
	OnDataWritten func(blockBytes int)
}

// Default timeouts of Config.IdleTimeout and WriteTimeout.
const (
	DefaultIdleTimeout  = 150 * time.Second
	DefaultWriteTimeout = 30 * time.Second
)

func (c *Config) defaults() {
	if c.QueueFrames <= 0 {
		c.QueueFrames = 2048
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 8 << 20
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 60 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxFrame <= 0 || c.MaxFrame > protocol.MaxFrameLen {
		c.MaxFrame = protocol.MaxFrameLen
	}
}

// NewLimiter returns a byte-rate limiter. Its burst is small (a DATA frame, or 50 ms of
// traffic at high rates) so a cap holds over short intervals too; larger frames wait in
// burst-sized steps. bytesPerSecond <= 0 means unlimited (nil).
func NewLimiter(bytesPerSecond int) *rate.Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := max(limiterMinBurst, bytesPerSecond/20)
	return rate.NewLimiter(rate.Limit(bytesPerSecond), burst)
}

// limiterMinBurst admits one whole DATA frame at once.
const limiterMinBurst = 4 + 2 + protocol.DataHeaderLen + protocol.BlockSize

// wait takes n bytes from lim, in steps no larger than its burst.
func wait(ctx context.Context, lim *rate.Limiter, n int) error {
	if lim == nil {
		return nil
	}
	for n > 0 {
		k := min(n, lim.Burst())
		if err := lim.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// Inbound is one message from the peer, already parsed and checked.
type Inbound struct {
	Live      protocol.Message // a live message, or nil
	Control   pp.MessageType   // choke, unchoke, interested or not interested when Live is nil
	Pex       []byte           // a ut_pex payload, when Live is nil and Pex is not
	WireBytes int              // frame size including the length prefix
}

// ErrQueueFull is returned by Send when the peer does not drain its queue fast enough.
var ErrQueueFull = errors.New("write queue full")

// ErrClosed is returned by Send after the connection ended.
var ErrClosed = errors.New("connection closed")

type outFrame struct {
	hdr  []byte
	body []byte // written after hdr without copying; may alias stored piece data
	data bool   // a DATA frame: report len(body) to OnDataWritten
}

// Conn is a running peer connection. Its reader and writer goroutines own the socket; Send
// and Close may be called from any goroutine.
type Conn struct {
	nc     net.Conn
	cfg    Config
	local  protocol.ExtHandshake
	remote Remote

	out         chan outFrame // DATA frames
	urgent      chan outFrame // everything else: small, and late if stuck behind DATA
	queuedBytes atomic.Int64
	closed      chan struct{}
	closeOnce   sync.Once
	err         error
	wg          sync.WaitGroup
	sent, recvd atomic.Int64
}

// Start launches the reader and writer. deliver is called from the reader for each message
// in order; it may block (that pushes back on the socket) and returns false to stop. done is
// called once, after both goroutines have exited, with the reason.
func Start(nc net.Conn, local protocol.ExtHandshake, remote Remote, cfg Config,
	deliver func(Inbound) bool, done func(error)) *Conn {
	cfg.defaults()
	c := &Conn{nc: nc, cfg: cfg, local: local, remote: remote,
		out: make(chan outFrame, cfg.QueueFrames), urgent: make(chan outFrame, cfg.QueueFrames), closed: make(chan struct{})}
	nc.SetDeadline(time.Time{})
	setUserTimeout(nc, cfg.WriteTimeout)
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.Close(c.readLoop(deliver)) }()
	go func() { defer c.wg.Done(); c.Close(c.writeLoop()) }()
	go func() { c.wg.Wait(); done(c.err) }()
	return c
}

// Remote returns what the peer said in its handshakes.
func (c *Conn) Remote() Remote { return c.remote }

// Addr is the peer's network address.
func (c *Conn) Addr() net.Addr { return c.nc.RemoteAddr() }

// Close ends the connection; the first error given is the reason reported to done.
func (c *Conn) Close(err error) {
	c.closeOnce.Do(func() {
		if err == nil {
			err = ErrClosed
		}
		c.err = err
		close(c.closed)
		c.nc.Close()
	})
}

// Counters returns the bytes written and read so far, framing included.
func (c *Conn) Counters() (sent, received int64) { return c.sent.Load(), c.recvd.Load() }

// QueuedBytes is how much is waiting to be written: the engine's view of this peer's backlog.
func (c *Conn) QueuedBytes() int { return int(c.queuedBytes.Load()) }

// Send queues a live message without blocking. DATA blocks are not copied: the caller must
// not modify them afterwards.
func (c *Conn) Send(m protocol.Message) error {
	if d, ok := m.(protocol.Data); ok {
		hdr := protocol.AppendDataFrameHeader(make([]byte, 0, 4+2+protocol.DataHeaderLen), c.remote.Ext.LiveID, d.Piece, d.Offset, len(d.Block))
		return c.enqueue(outFrame{hdr: hdr, body: d.Block, data: true})
	}
	return c.enqueue(outFrame{hdr: protocol.AppendLive(nil, c.remote.Ext.LiveID, m)})
}

// SendControl queues choke, unchoke, interested or not interested.
func (c *Conn) SendControl(t pp.MessageType) error {
	return c.enqueue(outFrame{hdr: protocol.AppendSimple(nil, t)})
}

// SendPex queues a ut_pex payload, if the peer offered ut_pex.
func (c *Conn) SendPex(payload []byte) error {
	if c.remote.Ext.PexID == 0 {
		return nil
	}
	hdr := protocol.AppendExtendedHeader(nil, c.remote.Ext.PexID, len(payload))
	return c.enqueue(outFrame{hdr: hdr, body: payload})
}

func (c *Conn) enqueue(f outFrame) error {
	n := int64(len(f.hdr) + len(f.body))
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	if c.queuedBytes.Load()+n > int64(c.cfg.QueueBytes) {
		return ErrQueueFull
	}
	q := c.urgent
	if f.data {
		q = c.out
	}
	select {
	case q <- f:
		c.queuedBytes.Add(n)
		return nil
	default:
		return ErrQueueFull
	}
}

// closedContext returns a context that ends when the connection closes, for waits on the
// rate limiters.
func (c *Conn) closedContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-c.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (c *Conn) writeLoop() error {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	keepAlive := time.NewTimer(c.cfg.KeepAlive)
	defer keepAlive.Stop()
	ctx, cancel := c.closedContext()
	defer cancel()
	write := func(f outFrame) error {
		n := len(f.hdr) + len(f.body)
		if err := wait(ctx, c.cfg.Upload, n); err != nil {
			return err
		}
		c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
		bw.Write(f.hdr)
		bw.Write(f.body)
		if c.cfg.Upload != nil {
			// A paced connection rarely drains its queue, so waiting for an empty queue to
			// flush would hold REQUESTs and HAVEs back for seconds behind the limiter.
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		c.queuedBytes.Add(-int64(n))
		c.sent.Add(int64(n))
		if f.data && c.cfg.OnDataWritten != nil {
			c.cfg.OnDataWritten(len(f.body))
		}
		return nil
	}
	// next takes the next frame to write: records, HAVEs, requests and control first, so a
	// connection paced by its upload limit does not hold them behind seconds of DATA.
	next := func() (outFrame, bool) {
		select {
		case f := <-c.urgent:
			return f, true
		default:
		}
		select {
		case f := <-c.urgent:
			return f, true
		case f := <-c.out:
			return f, true
		default:
			return outFrame{}, false
		}
	}
	for {
		f, ok := next()
		if !ok {
			select {
			case <-c.closed:
				return nil
			case f = <-c.urgent:
			case f = <-c.out:
			case <-keepAlive.C:
				c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
				if _, err := c.nc.Write(protocol.AppendKeepAlive(nil)); err != nil {
					return fmt.Errorf("write keep-alive: %w", err)
				}
				keepAlive.Reset(c.cfg.KeepAlive)
				continue
			}
		}
		// Drain what is queued before flushing, so small messages share a segment.
		for ok = true; ok; f, ok = next() {
			if err := write(f); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		keepAlive.Reset(c.cfg.KeepAlive)
	}
}

func (c *Conn) readLoop(deliver func(Inbound) bool) error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	ctx, cancel := c.closedContext()
	defer cancel()
	var prefix [4]byte
	for {
		c.nc.SetReadDeadline(time.Now().Add(c.cfg.IdleTimeout))
		if _, err := io.ReadFull(br, prefix[:]); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		n, err := protocol.ParseFrameLen(prefix[:])
		if err != nil {
			return err
		}
		if n > c.cfg.MaxFrame {
			return fmt.Errorf("%w: frame of %d bytes, this node accepts at most %d", protocol.ErrTooLarge, n, c.cfg.MaxFrame)
		}
		c.recvd.Add(int64(4 + n))
		if n == 0 {
			continue
		}
		if err := wait(ctx, c.cfg.Download, 4+n); err != nil {
			return err
		}
		// A fresh buffer per frame: parsed messages alias it and outlive this loop iteration.
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		in, err := c.decode(buf)
		if err != nil {
			return err
		}
		if in == nil {
			continue
		}
		in.WireBytes = 4 + n
		if !deliver(*in) {
			return ErrClosed
		}
	}
}

// decode turns one frame body into an Inbound, nil for frames a live peer ignores.
func (c *Conn) decode(buf []byte) (*Inbound, error) {
	f, err := protocol.ParseFrameBody(buf)
	if err != nil {
		return nil, err
	}
	switch protocol.Classify(f.Type) {
	case protocol.FrameClose:
		return nil, fmt.Errorf("%w: message type %d is not used by live peers", protocol.ErrInvalid, f.Type)
	case protocol.FrameIgnore:
		return nil, nil
	}
	switch f.Type {
	case pp.Port:
		return nil, nil
	case pp.Extended:
	default:
		return &Inbound{Control: f.Type}, nil
	}
	id, body, err := protocol.SplitExtended(f.Payload)
	if err != nil {
		return nil, err
	}
	switch {
	case id == c.local.LiveID:
		m, err := protocol.ParseMessage(body)
		if errors.Is(err, protocol.ErrUnknownType) {
			return nil, nil // a newer peer's message type: ignored by design
		}
		if err != nil {
			return nil, err
		}
		return &Inbound{Live: m}, nil
	case id == c.local.PexID && id != 0:
		return &Inbound{Pex: body}, nil
	}
	// A repeated extended handshake or an extension we did not offer.
	return nil, nil
}
