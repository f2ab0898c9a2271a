package discovery

import (
	"context"
	"errors"
	"net"
	"sync"
)

// maxTrackerAnswer bounds the bytes read for one HTTP tracker answer. The tracker library
// reads a whole answer into memory before decoding it, and a tracker is named by an
// unauthenticated link (or reached over plain HTTP): a 60 MB peer list cost 2 GB of heap.
// 200 compact IPv6 peers take 3.6 kB; 256 KiB is far beyond any honest answer.
const maxTrackerAnswer = 256 << 10

var errTrackerAnswerTooLarge = errors.New("tracker answer larger than 256 KiB")

// boundedDial wraps dial (nil: the system's) so that each request written on a connection
// may be answered with at most limit bytes.
func boundedDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), limit int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &boundedConn{Conn: c, limit: limit, left: limit}, nil
	}
}

// boundedConn fails reads once more than limit bytes arrived since the last write: HTTP
// writes a request, then reads its answer, so the budget renews with each request on a
// kept-alive connection.
type boundedConn struct {
	net.Conn
	mu          sync.Mutex
	limit, left int
}

func (c *boundedConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.left = c.limit
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *boundedConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	left := c.left
	c.mu.Unlock()
	if left <= 0 {
		return 0, errTrackerAnswerTooLarge
	}
	n, err := c.Conn.Read(b[:min(len(b), left)])
	c.mu.Lock()
	c.left -= n
	c.mu.Unlock()
	return n, err
}
