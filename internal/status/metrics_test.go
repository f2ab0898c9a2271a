package status

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sampledMonitor holds two samples of the leecher fixture a second apart, so rates are
// non-zero: 400 kB sent and 500 kB received in that second.
func sampledMonitor() *Monitor {
	m := NewMonitor(nil, 0)
	before := leecherSnapshot()
	before.BytesSent -= 400_000
	before.BytesFromPeers -= 500_000
	m.sample(at(0), before)
	m.sample(at(1), leecherSnapshot())
	return m
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	return families
}

// only returns the single, label-less metric of a family, checking its type.
func only(t *testing.T, families map[string]*dto.MetricFamily, name string, typ dto.MetricType) *dto.Metric {
	t.Helper()
	f := families[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	if f.GetType() != typ {
		t.Errorf("%s has type %v, want %v", name, f.GetType(), typ)
	}
	if len(f.GetMetric()) != 1 {
		t.Fatalf("%s has %d series, want 1", name, len(f.GetMetric()))
	}
	return f.GetMetric()[0]
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return -1
}

func TestMetricsMatchSnapshot(t *testing.T) {
	srv := httptest.NewServer(NewHandler(sampledMonitor()))
	defer srv.Close()
	families := scrape(t, srv.URL+"/metrics")
	s := leecherSnapshot()

	counter, gauge := dto.MetricType_COUNTER, dto.MetricType_GAUGE
	for _, c := range []struct {
		name string
		typ  dto.MetricType
		want float64
	}{
		{"livetorrent_uptime_seconds", gauge, 95},
		{"livetorrent_peers", gauge, 7},
		{"livetorrent_sent_bytes_total", counter, 3_800_000},
		{"livetorrent_share_from_peers_ratio", gauge, 0.93},
		{"livetorrent_pieces_verified_total", counter, 1200},
		{"livetorrent_pieces_rejected_total", counter, 3},
		{"livetorrent_deadline_misses_total", counter, 4},
		{"livetorrent_segments_played_total", counter, 40},
		{"livetorrent_segments_skipped_total", counter, 1},
		{"livetorrent_retunes_total", counter, 1},
		{"livetorrent_stalls_total", counter, 2},
		{"livetorrent_stall_seconds_total", counter, 1.5},
		{"livetorrent_missing_requests_total", counter, 5},
		{"livetorrent_buffer_ahead_seconds", gauge, 6.1},
		{"livetorrent_behind_live_seconds", gauge, 8.2},
		{"livetorrent_send_rate_bytes_per_second", gauge, 400_000},
		{"livetorrent_receive_rate_bytes_per_second", gauge, 500_000},
		{"livetorrent_egress_multiple", gauge, 0},
		{"livetorrent_bitrate_bits_per_second", gauge, 0},
		{"livetorrent_segments_published_total", counter, 0},
	} {
		if got := value(only(t, families, c.name, c.typ)); !near(got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if got, want := value(only(t, families, "livetorrent_share_from_peers_ratio", gauge)), s.ShareFromPeers(); got != want {
		t.Errorf("share = %v, want %v", got, want)
	}

	info := only(t, families, "livetorrent_info", gauge)
	if got := labels(info); got["role"] != "leecher" || got["stream"] != s.Stream || got["name"] != s.Name || value(info) != 1 {
		t.Errorf("info = %v %v", got, value(info))
	}

	received := families["livetorrent_received_bytes_total"]
	if received.GetType() != counter {
		t.Errorf("received bytes type %v", received.GetType())
	}
	bySource := map[string]float64{}
	for _, m := range received.GetMetric() {
		bySource[labels(m)["source"]] = value(m)
	}
	if len(bySource) != 3 || bySource["peers"] != 9_300_000 || bySource["seeder"] != 500_000 || bySource["origin"] != 200_000 {
		t.Errorf("received bytes by source = %v", bySource)
	}

	h := only(t, families, "livetorrent_propagation_seconds", dto.MetricType_HISTOGRAM).GetHistogram()
	if h.GetSampleCount() != 100 || !near(h.GetSampleSum(), 42) {
		t.Errorf("propagation count %d sum %v, want 100 42", h.GetSampleCount(), h.GetSampleSum())
	}
	wantBuckets := []struct {
		le    float64
		count uint64
	}{{0.1, 10}, {0.2, 40}, {0.5, 80}, {1, 95}, {math.Inf(1), 100}}
	if len(h.GetBucket()) != len(wantBuckets) {
		t.Fatalf("propagation has %d buckets, want %d: %v", len(h.GetBucket()), len(wantBuckets), h.GetBucket())
	}
	for i, b := range h.GetBucket() {
		if b.GetUpperBound() != wantBuckets[i].le || b.GetCumulativeCount() != wantBuckets[i].count {
			t.Errorf("bucket %d: le=%v count=%d, want le=%v count=%d", i,
				b.GetUpperBound(), b.GetCumulativeCount(), wantBuckets[i].le, wantBuckets[i].count)
		}
	}

	for name, f := range families {
		if strings.HasPrefix(name, metricPrefix) && f.GetHelp() == "" {
			t.Errorf("%s has no help text", name)
		}
	}
	if families["go_goroutines"] == nil {
		t.Error("Go runtime metrics missing")
	}
}

func TestMetricsSeeder(t *testing.T) {
	m := NewMonitor(nil, 0)
	m.sample(at(0), Snapshot{Role: "seeder", BitrateBps: 4e6, SegmentsPublished: 40})
	m.sample(at(2), Snapshot{Role: "seeder", BitrateBps: 4e6, SegmentsPublished: 41, BytesSent: 1_140_000})
	srv := httptest.NewServer(NewHandler(m))
	defer srv.Close()
	families := scrape(t, srv.URL+"/metrics")
	for name, want := range map[string]float64{
		"livetorrent_send_rate_bytes_per_second": 570_000,
		"livetorrent_egress_multiple":            1.14,
		"livetorrent_bitrate_bits_per_second":    4e6,
		"livetorrent_segments_published_total":   41,
	} {
		f := families[name]
		if f == nil || len(f.GetMetric()) != 1 || !near(value(f.GetMetric()[0]), want) {
			t.Errorf("%s = %v, want %v", name, f, want)
		}
	}
}

// Before the first sample, and with a histogram the source left empty, the exposition
// must still parse.
func TestMetricsBeforeFirstSample(t *testing.T) {
	srv := httptest.NewServer(NewHandler(NewMonitor(nil, 0)))
	defer srv.Close()
	families := scrape(t, srv.URL+"/metrics")
	h := only(t, families, "livetorrent_propagation_seconds", dto.MetricType_HISTOGRAM).GetHistogram()
	if b := h.GetBucket(); h.GetSampleCount() != 0 || len(b) != 1 || !math.IsInf(b[0].GetUpperBound(), 1) || b[0].GetCumulativeCount() != 0 {
		t.Errorf("empty propagation = %v", h)
	}
}

func TestMetricsHostileLabels(t *testing.T) {
	m := NewMonitor(nil, 0)
	m.sample(at(0), Snapshot{Role: "leecher", Name: "bad \xff utf-8", Stream: strings.Repeat("x", 10*maxLabelLen)})
	srv := httptest.NewServer(NewHandler(m))
	defer srv.Close()
	got := labels(only(t, scrape(t, srv.URL+"/metrics"), "livetorrent_info", dto.MetricType_GAUGE))
	if got["name"] != "bad \uFFFD utf-8" || len(got["stream"]) != maxLabelLen {
		t.Errorf("info labels name=%q stream of %d bytes", got["name"], len(got["stream"]))
	}
}

func TestPromHistogramToleratesShortCounts(t *testing.T) {
	count, sum, buckets := promHistogram(Histogram{
		Bounds: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second},
		Counts: []int64{2, -1},
		Sum:    3 * time.Second,
	})
	if count != 2 || sum != 3 || len(buckets) != 3 || buckets[1] != 2 || buckets[2] != 2 || buckets[3] != 2 {
		t.Errorf("count %d sum %v buckets %v", count, sum, buckets)
	}
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
