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

// ipGroup is what MaxPeersPerIP counts by: an IPv4 address, or an IPv6 /64, which one host
// or one home network usually gets whole. The second result is false for peers the limit
// does not apply to: loopback ones, and addresses that are not IP literals.
func (n *Node) ipGroup(a net.Addr) (netip.Prefix, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, _ := netip.AddrFromSlice(ta.IP) // invalid if malformed: not limited
	return n.groupOf(ip)
}

func (n *Node) groupOf(ip netip.Addr) (netip.Prefix, bool) {
	ip = ip.Unmap()
	if !ip.IsValid() || (ip.IsLoopback() && !n.limitLoopback) {
		return netip.Prefix{}, false
	}
	return hostPrefix(ip), true
}

// hostPrefix is what one host usually has of ip's address space: the IPv4 address, or the
// IPv6 /64.
func hostPrefix(ip netip.Addr) netip.Prefix {
	if ip = ip.Unmap(); ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	return netip.PrefixFrom(ip, 64).Masked()
}

// peersByIPGroup counts the established connections in each ipGroup; it runs on the loop.
func (n *Node) peersByIPGroup() map[netip.Prefix]int {
	count := map[netip.Prefix]int{}
	for _, c := range n.conns {
		if g, ok := n.ipGroup(c.Addr()); ok {
			count[g]++
		}
	}
	return count
}
