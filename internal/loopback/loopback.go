// Package loopback keeps test and benchmark traffic on the machine: a dialer that refuses
// every address that is not a loopback IP literal, and an HTTP client built on it.
package loopback

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Dial refuses every address that is not a loopback IP literal, without resolving names, so
// its user can never send a packet (or a DNS query) off the machine.
func Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("loopback dialer: %s is not a loopback address", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// HTTPClient is an HTTP client that only reaches loopback addresses.
func HTTPClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: Dial, Proxy: nil, DisableCompression: true,
	}}
}
