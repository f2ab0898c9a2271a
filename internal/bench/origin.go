package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"slices"
	"sync/atomic"
	"time"

	"github.com/livetorrent/livetorrent/internal/loopback"
)

// dialFunc dials a TCP address; viewers, the seeder and the HTTP clients all take one.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// errRouteCut is what a cut route answers: refused at once, as a broken network does.
var errRouteCut = errors.New("bench: connection refused (route cut)")

// cutDial dials like loopback.Dial but refuses the given host:port addresses.
func cutDial(cut ...string) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if slices.Contains(cut, addr) {
			return nil, errRouteCut
		}
		return loopback.Dial(ctx, network, addr)
	}
}

// httpClient is an HTTP client of its own (its own connections, as a separate machine
// would have) that dials through dial.
func httpClient(dial dialFunc) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: dial, Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 4,
	}}
}

// closeClient drops the client's idle connections, so nothing it opened outlives its user.
func closeClient(c *http.Client) {
	if t, ok := c.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// origin is an HTTP server on loopback that counts the response body bytes it sends: one
// per side of the comparison, so each side's origin egress is measured on its own.
type origin struct {
	URL    string // base URL with a trailing slash
	Addr   string // host:port, for route cuts
	srv    *http.Server
	done   chan struct{}
	served atomic.Int64
}

func startOrigin(h http.Handler) (*origin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("origin listen: %w", err)
	}
	o := &origin{URL: "http://" + ln.Addr().String() + "/", Addr: ln.Addr().String(), done: make(chan struct{})}
	o.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&countingWriter{ResponseWriter: w, n: &o.served}, r)
	})}
	go func() { defer close(o.done); o.srv.Serve(ln) }()
	return o, nil
}

// close stops the server, its connections included, and waits for it.
func (o *origin) close() {
	o.srv.Close()
	<-o.done
}

func (o *origin) bytesServed() int64 { return o.served.Load() }

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// fileHandler serves a folder as an HLS origin; playlists are not to be cached, as a live
// origin says.
func fileHandler(dir string) http.Handler {
	fs := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path.Ext(r.URL.Path) == ".m3u8" {
			w.Header().Set("Cache-Control", "no-cache")
		}
		fs.ServeHTTP(w, r)
	})
}
