//go:build !linux

package app

import "net"

// smallWindowDialer is a plain dialer here: the zero-window attack still stalls the other
// side, after the kernel buffers fill.
var smallWindowDialer net.Dialer
