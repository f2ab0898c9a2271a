package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// A viewer plays six segments; the test fetches what its playlist lists (as a player would)
// and scrapes /metrics, parsed with the Prometheus text parser. The figures must agree with
// what the test saw: segments played, bytes received (by source, covering the bytes the
// player fetched, all from the seeder), pieces verified, propagation samples, no stall, no
// missing request, one peer. /status.json says the same.
func TestMetricsMatchWhatWasPlayed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("metrics"), Name: "metrics test"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String(), HTTPListen: "127.0.0.1:0", NoOrigin: true,
		Status: StatusOptions{Listener: ln}})
	client := testmedia.LoopbackHTTP()

	// Poll the playlist, as a player does, until it lists six segments.
	var segs []string
	deadline := time.Now().Add(30 * time.Second)
	for len(segs) < 6 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		segs, _ = fetchPlaylist(client, l.PlaylistURL())
	}
	if len(segs) < 6 {
		t.Fatalf("%d segments after 30 s", len(segs))
	}
	var observed int64
	for _, u := range segs {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		n, err := discard(resp)
		if err != nil {
			t.Fatal(err)
		}
		observed += n
	}
	time.Sleep(1500 * time.Millisecond) // the monitor samples once a second
	mf := scrape(t, client, "http://"+ln.Addr().String()+"/metrics")
	snap := snapshot(t, ctx, l)
	var js map[string]any
	getJSON(t, client, "http://"+ln.Addr().String()+"/status.json", &js)

	played := value(t, mf, "livetorrent_segments_played_total", nil)
	received := value(t, mf, "livetorrent_received_bytes_total", map[string]string{"source": "peers"}) +
		value(t, mf, "livetorrent_received_bytes_total", map[string]string{"source": "seeder"}) +
		value(t, mf, "livetorrent_received_bytes_total", map[string]string{"source": "origin"})
	t.Logf("metrics: %v segments played, %v bytes received; the player fetched %d segments, %d bytes; now %d segments",
		played, received, len(segs), observed, snap.SegmentsPlayed)
	// The metrics are at most a second old: between what the player saw and what the
	// engine says now.
	if played < float64(len(segs)) || played > float64(snap.SegmentsPlayed) {
		t.Errorf("segments played %v; the player saw %d, the engine now says %d", played, len(segs), snap.SegmentsPlayed)
	}
	if received < float64(observed) {
		t.Errorf("received %v bytes, less than the %d the player fetched", received, observed)
	}
	if v := value(t, mf, "livetorrent_stalls_total", nil); v != 0 {
		t.Errorf("stalls %v", v)
	}
	if v := value(t, mf, "livetorrent_missing_requests_total", nil); v != 0 {
		t.Errorf("missing requests %v", v)
	}
	if v := value(t, mf, "livetorrent_peers", nil); v != 1 {
		t.Errorf("peers %v, want 1 (the seeder)", v)
	}
	if v := value(t, mf, "livetorrent_received_bytes_total", map[string]string{"source": "seeder"}); v < float64(observed) {
		t.Errorf("from the seeder %v bytes; everything came from it (%d)", v, observed)
	}
	if v := value(t, mf, "livetorrent_pieces_verified_total", nil); v < received/16384 {
		t.Errorf("pieces verified %v for %v bytes of 16 KiB pieces", v, received)
	}
	if h := mf["livetorrent_propagation_seconds"]; h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() < uint64(len(segs)) {
		t.Errorf("propagation histogram: %v", h)
	}
	if js["role"] != "leecher" || js["segments_played"].(float64) < float64(len(segs)) {
		t.Errorf("status.json: %v", js)
	}
}

func scrape(t *testing.T, c *http.Client, u string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// value returns the value of the metric family's sample whose labels include want.
func value(t *testing.T, mf map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := mf[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no sample of %s with %v", name, want)
	return 0
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v (%s)", u, err, strings.TrimSpace(fmt.Sprint(string(b))))
	}
}
