package node

import (
	"net"
	"net/netip"
	"sync"
)

// inboundLimit counts incoming connections that have not finished their handshakes, in all
// and per remote IP. It is shared by the accept loop and the handshake goroutines.
type inboundLimit struct {
	mu    sync.Mutex
	max   int
	perIP int
	total int
	byIP  map[netip.Addr]int
}

// take reserves a slot for a connection from a; ok is false when the node or that address
// already has as many handshakes in progress as allowed. release frees the slot.
func (l *inboundLimit) take(a net.Addr) (release func(), ok bool) {
	var ip netip.Addr
	if ta, isTCP := a.(*net.TCPAddr); isTCP {
		ip, _ = netip.AddrFromSlice(ta.IP)
		ip = ip.Unmap()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max || l.byIP[ip] >= l.perIP {
		return nil, false
	}
	l.total++
	l.byIP[ip]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.total--
		if l.byIP[ip]--; l.byIP[ip] <= 0 {
			delete(l.byIP, ip)
		}
	}, true
}
