package leecher

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/livetorrent/livetorrent/internal/localhttp"
)

// DefaultListenAddr is where the leecher serves players unless told otherwise: loopback
// only, since the stream is the viewer's.
const DefaultListenAddr = "127.0.0.1:8765"

// ServeHTTP serves the live playlist and its segments:
//
//	GET /live.m3u8          the sliding live media playlist
//	GET /seg/<n>.ts|.m4s    the segment with local media sequence n (Range supported)
//	GET /init/<id>.mp4      an fMP4 init segment (EXT-X-MAP)
//
// Only GET and HEAD are allowed (and OPTIONS, for a script's preflight, when
// Config.AllowOrigin is set). A playlist request before the first segment waits up to
// Config.PlaylistWait, then gets 503 with Retry-After. Segments that left the window are
// 404. Nothing is read from a file system, so no path can reach outside these names.
func (o *Output) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := o.cfg.AllowOrigin; origin != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range")
		if origin != "*" {
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions { // a script's preflight, for a Range header
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			h.Set("Access-Control-Allow-Headers", "Range")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	cw := &countingWriter{ResponseWriter: w}
	defer func() { o.bytesServed.Add(cw.n) }()
	p := r.URL.Path
	switch {
	case p == PlaylistPath:
		o.servePlaylist(cw, r)
	case strings.HasPrefix(p, segmentDir):
		o.serveSegment(cw, r, p[len(segmentDir):])
	case strings.HasPrefix(p, initDir):
		o.serveInit(cw, r, p[len(initDir):])
	default:
		http.NotFound(cw, r)
	}
}

func (o *Output) servePlaylist(w http.ResponseWriter, r *http.Request) {
	body, ok, err := o.waitPlaylist(r.Context())
	switch {
	case err != nil:
		o.log.Error("rendering the playlist", "err", err)
		http.Error(w, "playlist unavailable", http.StatusInternalServerError)
		return
	case !ok:
		if r.Context().Err() == nil {
			o.playlistTimeouts.Add(1)
		}
		w.Header().Set("Retry-After", "1")
		http.Error(w, "no segment yet", http.StatusServiceUnavailable)
		return
	}
	o.playlistRequests.Add(1)
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// waitPlaylist returns the playlist, waiting up to PlaylistWait for the first segment.
func (o *Output) waitPlaylist(ctx context.Context) ([]byte, bool, error) {
	var timer *time.Timer
	for {
		o.mu.Lock()
		body, ok, err := o.playlistLocked()
		ch := o.changed
		o.mu.Unlock()
		if ok || err != nil {
			return body, ok, err
		}
		if timer == nil {
			o.playlistWaits.Add(1)
			timer = time.NewTimer(o.cfg.PlaylistWait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return nil, false, nil
		case <-ctx.Done():
			return nil, false, nil
		}
	}
}

func (o *Output) serveSegment(w http.ResponseWriter, r *http.Request, name string) {
	o.segmentRequests.Add(1)
	seq, ext, ok := parseNumberedName(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	o.mu.Lock()
	e, state := o.win.find(seq)
	o.mu.Unlock()
	switch {
	case state == segmentAhead:
		o.missingAhead.Add(1)
	case state == segmentEvicted:
		o.missingEvicted.Add(1)
	case ext != e.kind.ext:
		e = nil
	}
	if e == nil {
		http.NotFound(w, r)
		return
	}
	o.serveBytes(w, r, e.kind.contentType, e.piece, e.data)
}

func (o *Output) serveInit(w http.ResponseWriter, r *http.Request, name string) {
	o.segmentRequests.Add(1)
	id, ext, ok := parseNumberedName(name)
	if !ok || ext != ".mp4" {
		http.NotFound(w, r)
		return
	}
	o.mu.Lock()
	in := o.win.lookupInit(id)
	o.mu.Unlock()
	if in == nil {
		o.missingEvicted.Add(1)
		http.NotFound(w, r)
		return
	}
	o.serveBytes(w, r, initContentType, in.id, in.data)
}

// serveBytes answers with data, honouring Range and conditional requests. Segment bytes
// never change and pieces are never reused, so the first piece is a strong ETag.
func (o *Output) serveBytes(w http.ResponseWriter, r *http.Request, contentType string, piece uint64, data []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "max-age=60")
	h.Set("ETag", `"`+strconv.FormatUint(piece, 10)+`"`)
	o.segmentsServed.Add(1)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// parseNumberedName splits "<decimal>.<ext>" strictly: digits only (no sign, no leading
// zeros), at most 20 of them, and an extension of 1 to 4 lowercase letters and digits.
func parseNumberedName(name string) (n uint64, ext string, ok bool) {
	dot := strings.IndexByte(name, '.')
	if dot <= 0 || dot > 20 || len(name)-dot < 2 || len(name)-dot > 5 {
		return 0, "", false
	}
	digits := name[:dot]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, "", false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		digit := c >= '0' && c <= '9'
		if i < dot && !digit || i > dot && !digit && (c < 'a' || c > 'z') {
			return 0, "", false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return n, name[dot:], true
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// NewHTTPServer returns an http.Server for h with the timeouts and header limits a server
// facing untrusted local clients needs.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

// Serve serves h on ln until ctx is done, then shuts down (waiting up to 5 s for requests
// in flight). It returns nil after a shutdown caused by ctx.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := NewHTTPServer(localhttp.Guard(ln, h))
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// PlaylistURL is the playlist's URL on a listener's address: an unspecified address
// (0.0.0.0 or ::) becomes the matching loopback address, which a local player can reach.
func PlaylistURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + PlaylistPath
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port) + PlaylistPath
}
