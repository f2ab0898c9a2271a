// Package localhttp guards HTTP servers meant for this machine only (the leecher's player
// output, the status page) against web pages that reach them through DNS rebinding.
package localhttp

import (
	"net"
	"net/http"
	"strings"
)

// Guard returns h wrapped so that, when ln listens on loopback, requests whose Host is a
// DNS name other than localhost are refused. Such a server is reached by an address or by
// localhost; any other name is a web page that had its own name resolve to 127.0.0.1 to
// read the server as same-origin. On other addresses h is returned unchanged: the operator
// chose to serve the network, under whatever names it has.
func Guard(ln net.Listener, h http.Handler) http.Handler {
	ta, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !ta.IP.IsLoopback() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !LocalHost(r.Host) {
			http.Error(w, "this server answers only to addresses and localhost", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// LocalHost reports whether host (a Host header, with or without port) is an IP address,
// localhost or a name under .localhost (RFC 6761).
func LocalHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	return net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost")
}
