package testmedia

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// LoopbackDial refuses every address that is not a loopback IP literal, without resolving
// names, so a test can never send a packet (or a DNS query) off the machine.
func LoopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("test dialer: %s is not a loopback address", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// LoopbackHTTP is an HTTP client that only reaches loopback addresses.
func LoopbackHTTP() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: LoopbackDial, Proxy: nil, DisableCompression: true,
	}}
}
