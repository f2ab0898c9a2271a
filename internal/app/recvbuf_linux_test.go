package app

import (
	"net"
	"syscall"
)

// smallWindowDialer makes connections with a 4 KiB receive buffer, set before the SYN so the
// advertised window is small: a peer that then reads nothing stalls the other side's writes
// after a few kilobytes instead of several megabytes.
var smallWindowDialer = net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	if err != nil {
		return err
	}
	return serr
}}
