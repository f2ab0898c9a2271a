package leecher

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

func get(t *testing.T, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodGet, url, header)
}

func do(t *testing.T, method, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// tsOutput is an Output holding MPEG-TS segments 0..n-1 of 1000 bytes each.
func tsOutput(t *testing.T, cfg Config, n int) (*Output, *publisher) {
	cfg.Logger = testLogger(t)
	out := NewOutput(cfg)
	pub := newPublisher(t)
	for i := range n {
		d := data("seg" + strconv.Itoa(i))
		out.Deliver(Segment{Record: pub.segment(uint64(i), 2*time.Second, 0, nil, d), Data: d})
	}
	return out, pub
}

func TestHTTPSegmentsEvictionAndStalls(t *testing.T) {
	out, _ := tsOutput(t, Config{PlaylistSegments: 2, KeepSegments: 3}, 6) // holds 3, 4, 5
	srv := httptest.NewServer(out)
	defer srv.Close()

	resp, body := get(t, srv.URL+"/seg/5.ts", nil)
	if resp.StatusCode != 200 || string(body) != string(data("seg5")) ||
		resp.Header.Get("Content-Type") != "video/mp2t" || resp.Header.Get("Content-Length") != "1000" {
		t.Fatalf("segment 5: %d %v", resp.StatusCode, resp.Header)
	}
	// Segment 3 left the playlist but is still fetchable (RFC 8216 §6.2.2).
	if resp, _ := get(t, srv.URL+"/seg/3.ts", nil); resp.StatusCode != 200 {
		t.Fatalf("segment 3 held but %d", resp.StatusCode)
	}
	for _, c := range []struct {
		path string
		code int
	}{
		{"/seg/2.ts", 404},  // evicted
		{"/seg/0.ts", 404},  // evicted
		{"/seg/6.ts", 404},  // not yet delivered
		{"/seg/99.ts", 404}, // not yet delivered
		{"/seg/5.m4s", 404}, // wrong container
		{"/init/1.mp4", 404},
	} {
		if resp, _ := get(t, srv.URL+c.path, nil); resp.StatusCode != c.code {
			t.Errorf("%s: %d, want %d", c.path, resp.StatusCode, c.code)
		}
	}
	st := out.Stats()
	if st.MissingEvicted != 3 || st.MissingAhead != 2 || st.SegmentsServed != 2 || st.SegmentRequests != 8 {
		t.Fatalf("stats %+v", st)
	}
	if st.WindowSegments != 3 || st.WindowBytes != 3000 {
		t.Fatalf("window %d segments %d bytes, want 3 and 3000", st.WindowSegments, st.WindowBytes)
	}
	_, pl := get(t, srv.URL+PlaylistPath, nil)
	if !strings.Contains(string(pl), "#EXT-X-MEDIA-SEQUENCE:4\n") || strings.Contains(string(pl), "seg/3.ts") {
		t.Fatalf("playlist lists more than the newest 2:\n%s", pl)
	}
}

func TestHTTPRangeAndHead(t *testing.T) {
	out, _ := tsOutput(t, Config{}, 2)
	srv := httptest.NewServer(out)
	defer srv.Close()
	whole := data("seg1")

	resp, body := get(t, srv.URL+"/seg/1.ts", map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != http.StatusPartialContent || string(body) != string(whole[100:200]) ||
		resp.Header.Get("Content-Range") != "bytes 100-199/1000" || resp.Header.Get("Content-Length") != "100" {
		t.Fatalf("range: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body = get(t, srv.URL+"/seg/1.ts", map[string]string{"Range": "bytes=-10"})
	if resp.StatusCode != http.StatusPartialContent || string(body) != string(whole[990:]) {
		t.Fatalf("suffix range: %d", resp.StatusCode)
	}
	resp, _ = get(t, srv.URL+"/seg/1.ts", map[string]string{"Range": "bytes=5000-6000"})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: %d", resp.StatusCode)
	}
	resp, body = do(t, http.MethodHead, srv.URL+"/seg/1.ts", nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != "1000" {
		t.Fatalf("HEAD: %d %v, %d body bytes", resp.StatusCode, resp.Header, len(body))
	}
	// A conditional request with the segment's ETag needs no body.
	etag := resp.Header.Get("ETag")
	if resp, _ := get(t, srv.URL+"/seg/1.ts", map[string]string{"If-None-Match": etag}); etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match %q: %d", etag, resp.StatusCode)
	}
	resp, body = do(t, http.MethodHead, srv.URL+PlaylistPath, nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Fatalf("HEAD playlist: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestHTTPMethodsAndHostilePaths(t *testing.T) {
	out, _ := tsOutput(t, Config{}, 2)
	srv := httptest.NewServer(out)
	defer srv.Close()
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, "PATCH"} {
		resp, _ := do(t, m, srv.URL+"/seg/1.ts", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d Allow=%q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	// Raw request lines, so no client cleans the paths first.
	for _, target := range []string{
		"/seg/../../../../etc/passwd",
		"/seg/..%2f..%2f..%2fetc%2fpasswd",
		"/init/../../etc/passwd.mp4",
		"/seg/1.ts/../../../etc/passwd",
		"/../etc/passwd",
		"/seg/1.ts%00.ts",
		"/seg/01.ts",
		"/seg/+1.ts",
		"/seg/-1.ts",
		"/seg/18446744073709551616.ts",
		"/seg/1.ts.ts",
		"/seg/.ts",
		"/seg/1",
		"/init/100",
		"/live.m3u8/",
		"/LIVE.M3U8",
		"//live.m3u8",
		"/seg/" + strings.Repeat("9", 4000) + ".ts",
	} {
		code := rawGet(t, srv.Listener.Addr().String(), target)
		if code != 404 && code != 400 {
			t.Errorf("GET %.60s: %d, want 404 (or 400)", target, code)
		}
	}
	if st := out.Stats(); st.SegmentsServed != 0 {
		t.Fatalf("a hostile path was served: %+v", st)
	}
}

// rawGet sends one request line as given and returns the status code.
func rawGet(t *testing.T, addr, target string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %.60s: %v", target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestHTTPPlaylistWaitsForTheFirstSegment(t *testing.T) {
	out := NewOutput(Config{PlaylistWait: 10 * time.Second, Logger: testLogger(t)})
	srv := httptest.NewServer(out)
	defer srv.Close()
	type result struct {
		code int
		body string
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(srv.URL + PlaylistPath)
		if err != nil {
			res <- result{code: -1, body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{resp.StatusCode, string(b)}
	}()
	waitFor(t, "the playlist request to wait", func() bool { return out.Stats().PlaylistWaits == 1 })
	pub := newPublisher(t)
	d := data("first")
	out.Deliver(Segment{Record: pub.segment(7, 2*time.Second, 0, nil, d), Data: d})
	r := <-res
	if r.code != 200 || !strings.Contains(r.body, "seg/7.ts") || strings.Contains(r.body, "ENDLIST") {
		t.Fatalf("%d\n%s", r.code, r.body)
	}

	// With no segment in time: 503 and Retry-After.
	quick := NewOutput(Config{PlaylistWait: 50 * time.Millisecond, Logger: testLogger(t)})
	qs := httptest.NewServer(quick)
	defer qs.Close()
	resp, _ := get(t, qs.URL+PlaylistPath, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if st := quick.Stats(); st.PlaylistTimeouts != 1 || st.PlaylistRequests != 0 {
		t.Fatalf("stats %+v", st)
	}

	// Close releases a waiting request with an ended, empty playlist.
	closing := NewOutput(Config{PlaylistWait: time.Minute, Logger: testLogger(t)})
	cs := httptest.NewServer(closing)
	defer cs.Close()
	go func() {
		waitFor(t, "the playlist request to wait", func() bool { return closing.Stats().PlaylistWaits == 1 })
		closing.Close()
	}()
	resp, body := get(t, cs.URL+PlaylistPath, nil)
	if resp.StatusCode != 200 || !strings.HasSuffix(string(body), "#EXT-X-ENDLIST\n") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	if err := closing.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Serve runs a real server on a listener and stops it with the context; waiting
// playlist requests are released at shutdown.
func TestServeAndPlaylistURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := NewOutput(Config{PlaylistWait: time.Minute, Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, out) }()
	url := PlaylistURL(ln.Addr())
	if url != "http://"+ln.Addr().String()+"/live.m3u8" {
		t.Fatalf("PlaylistURL = %s", url)
	}
	waiting := make(chan int, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			waiting <- -1
			return
		}
		resp.Body.Close()
		waiting <- resp.StatusCode
	}()
	waitFor(t, "the playlist request to wait", func() bool { return out.Stats().PlaylistWaits == 1 })
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if code := <-waiting; code != http.StatusServiceUnavailable {
		t.Fatalf("a request waiting at shutdown got %d", code)
	}

	for addr, want := range map[string]string{
		"0.0.0.0:8765":    "http://127.0.0.1:8765/live.m3u8",
		"[::]:8765":       "http://[::1]:8765/live.m3u8",
		"[::1]:9":         "http://[::1]:9/live.m3u8",
		"192.0.2.10:1234": "http://192.0.2.10:1234/live.m3u8",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := PlaylistURL(a); got != want {
			t.Errorf("PlaylistURL(%s) = %s, want %s", addr, got, want)
		}
	}
}

// The window keeps memory bounded by bytes as well as by segments, always keeping the
// newest segment, and forgets init segments no held segment uses.
func TestWindowByteBound(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{KeepSegments: 100, MaxBytes: 2500, Logger: testLogger(t)})
	in := pub.initSeg(data("init"))
	for i := range 5 {
		d := data("m" + strconv.Itoa(i))
		s := Segment{Record: pub.segment(uint64(i), time.Second, 0, in, d), Data: d}
		if i == 0 {
			s.Init, s.InitData = in, data("init")
		}
		out.Deliver(s)
	}
	if st := out.Stats(); st.WindowSegments != 1 || st.WindowBytes != 2000 {
		t.Fatalf("window %d segments, %d bytes; want the newest segment and its init", st.WindowSegments, st.WindowBytes)
	}
	big := make([]byte, 5000)
	r := pub.segment(5, time.Second, protocol.FlagDiscontinuity, nil, big) // back to MPEG-TS
	out.Deliver(Segment{Record: r, Data: big})
	if st := out.Stats(); st.WindowSegments != 1 || st.WindowBytes != 5000 {
		t.Fatalf("window %d segments, %d bytes; want only the oversized newest segment", st.WindowSegments, st.WindowBytes)
	}
	out.mu.Lock()
	inits := len(out.win.inits)
	out.mu.Unlock()
	if inits != 0 {
		t.Fatalf("%d init segments held with no segment using them", inits)
	}
}

func TestParseNumberedName(t *testing.T) {
	for name, want := range map[string]uint64{"0.ts": 0, "7.m4s": 7, "18446744073709551615.mp4": 1<<64 - 1} {
		if n, _, ok := parseNumberedName(name); !ok || n != want {
			t.Errorf("%q: %d %v", name, n, ok)
		}
	}
	for _, name := range []string{"", ".ts", "1", "01.ts", "1a.ts", "1.toolong", "18446744073709551616.ts", "-1.ts", "1..ts", "1.TS", "1.t/s", "1."} {
		if _, _, ok := parseNumberedName(name); ok {
			t.Errorf("%q accepted", name)
		}
	}
}

// TestServeRefusesRebindingHosts: on loopback, a request naming a host other than an
// address or localhost is a web page whose name was made to resolve to 127.0.0.1 (DNS
// rebinding); it is refused.
func TestServeRefusesRebindingHosts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := tsOutput(t, Config{}, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, ln, out)
	for host, want := range map[string]int{
		ln.Addr().String():              http.StatusOK,
		"localhost:8765":                http.StatusOK,
		"player.localhost":              http.StatusOK,
		"[::1]:8765":                    http.StatusOK,
		"attacker.example":              http.StatusForbidden,
		"attacker.example:8765":         http.StatusForbidden,
		"localhost.attacker.example:80": http.StatusForbidden,
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+PlaylistPath, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// TestAllowOrigin: with AllowOrigin a script player of that origin may read the playlist
// and segments (a preflight for Range is answered); without it no CORS header is sent.
func TestAllowOrigin(t *testing.T) {
	for _, origin := range []string{"", "https://player.example"} {
		out, _ := tsOutput(t, Config{AllowOrigin: origin}, 2)
		srv := httptest.NewServer(out)
		resp, _ := get(t, srv.URL+PlaylistPath, nil)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("AllowOrigin %q: header %q", origin, got)
		}
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/seg/1.ts", nil)
		req.Header.Set("Origin", "https://player.example")
		req.Header.Set("Access-Control-Request-Headers", "range")
		pre, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		pre.Body.Close()
		want := http.StatusMethodNotAllowed
		if origin != "" {
			want = http.StatusNoContent
		}
		if pre.StatusCode != want || (origin != "" && pre.Header.Get("Access-Control-Allow-Headers") != "Range") {
			t.Errorf("AllowOrigin %q: preflight %d %v", origin, pre.StatusCode, pre.Header)
		}
		srv.Close()
	}
}
