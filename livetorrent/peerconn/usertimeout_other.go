//go:build !linux

package peerconn

import (
	"net"
	"time"
)

// setUserTimeout is a no-op here: the write deadline is the only bound on a peer that reads
// nothing, and it applies once the kernel buffers are full.
func setUserTimeout(net.Conn, time.Duration) {}
