package status

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
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
	return resp, string(body)
}

func TestStatusJSON(t *testing.T) {
	m := sampledMonitor()
	srv := httptest.NewServer(NewHandler(m))
	defer srv.Close()
	resp, body := get(t, http.MethodGet, srv.URL+"/status.json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}

	var doc statusDocument
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if want := m.Latest(); !reflect.DeepEqual(doc.Snapshot, want) {
		t.Errorf("decoded snapshot\n%+v\nwant\n%+v", doc.Snapshot, want)
	}
	if doc.ShareFromPeers != 0.93 || doc.PropagationP50 != 275*time.Millisecond || doc.PropagationP95 != time.Second {
		t.Errorf("share %v p50 %v p95 %v", doc.ShareFromPeers, doc.PropagationP50, doc.PropagationP95)
	}

	// The field names are the contract with other consumers, so check a few by name.
	var fields map[string]any
	if err := json.Unmarshal([]byte(body), &fields); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]any{
		"role": "leecher", "peers": 7.0, "share_from_peers": 0.93, "bytes_from_peers": 9.3e6,
		"send_rate": 400_000.0, "buffer_ahead_ns": 6.1e9,
	} {
		if fields[name] != want {
			t.Errorf("%s = %v, want %v", name, fields[name], want)
		}
	}
}

func TestStatusPage(t *testing.T) {
	srv := httptest.NewServer(NewHandler(sampledMonitor()))
	defer srv.Close()
	resp, body := get(t, http.MethodGet, srv.URL+"/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="2">`,
		"Test &lt;b&gt;channel&lt;/b&gt;", // the name is escaped
		"c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
		"1m35s",                // uptime
		"400 kB/s", "500 kB/s", // rates
		"93%",                        // share from peers
		"9.3 MB", "500 kB", "200 kB", // bytes by source
		"1200", "6.1s", "8.2s",
		"2 (1.5s waiting)",
		"275 ms / 1000 ms (100 segments)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<b>") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("page has unescaped markup or external references")
	}
}

func TestStatusPageSeeder(t *testing.T) {
	m := NewMonitor(nil, 0)
	m.sample(at(0), Snapshot{Role: "seeder", BitrateBps: 4e6})
	m.sample(at(2), Snapshot{Role: "seeder", BitrateBps: 4e6, BytesSent: 1_140_000, SegmentsPublished: 41})
	srv := httptest.NewServer(NewHandler(m))
	defer srv.Close()
	_, body := get(t, http.MethodGet, srv.URL+"/")
	for _, want := range []string{"Egress multiple", "1.14x", "4000 kbit/s", "41", "570 kB/s"} {
		if !strings.Contains(body, want) {
			t.Errorf("seeder page lacks %q", want)
		}
	}
}

func TestStatusPageBeforeFirstSample(t *testing.T) {
	srv := httptest.NewServer(NewHandler(NewMonitor(nil, 0)))
	defer srv.Close()
	if _, body := get(t, http.MethodGet, srv.URL+"/"); !strings.Contains(body, "waiting for the first sample") {
		t.Errorf("page = %s", body)
	}
}

func TestRoutes(t *testing.T) {
	srv := httptest.NewServer(NewHandler(sampledMonitor()))
	defer srv.Close()
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodGet, "/metrics/", http.StatusNotFound},
		{http.MethodGet, "/index.html", http.StatusNotFound},
		{http.MethodPost, "/nope", http.StatusNotFound},
		{http.MethodPost, "/metrics", http.StatusMethodNotAllowed},
		{http.MethodPut, "/status.json", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/", http.StatusMethodNotAllowed},
		{http.MethodHead, "/", http.StatusOK},
		{http.MethodHead, "/status.json", http.StatusOK},
		{http.MethodHead, "/metrics", http.StatusOK},
	} {
		resp, body := get(t, c.method, srv.URL+c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		if c.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", c.method, c.path, resp.Header.Get("Allow"))
		}
		if c.method == http.MethodHead && body != "" {
			t.Errorf("HEAD %s returned a body", c.path)
		}
	}
}

func TestServeShutsDownWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, NewHandler(sampledMonitor())) }()

	if resp, _ := get(t, http.MethodGet, "http://"+ln.Addr().String()+"/status.json"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status.json: %s", resp.Status)
	}
	// On loopback a page that rebound its own name to 127.0.0.1 is refused: the status
	// lists peers' addresses.
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/status.json", nil)
	req.Host = "attacker.example"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET with a rebinding Host: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after cancel: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestServeReportsListenerFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = Serve(context.Background(), ln, http.NotFoundHandler())
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve on a closed listener: %v, want the accept error", err)
	}
}
