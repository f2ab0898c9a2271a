package testmedia

import (
	"context"
	"net"
	"net/http"

	"github.com/livetorrent/livetorrent/internal/loopback"
)

// LoopbackDial refuses every address that is not a loopback IP literal (loopback.Dial).
func LoopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	return loopback.Dial(ctx, network, addr)
}

// LoopbackHTTP is an HTTP client that only reaches loopback addresses.
func LoopbackHTTP() *http.Client { return loopback.HTTPClient() }
