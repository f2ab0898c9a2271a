package status

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const metricPrefix = "livetorrent_"

// maxLabelLen bounds label values taken from a snapshot, so a long name cannot bloat
// every scrape.
const maxLabelLen = 256

// scalarMetric is one metric whose value is read straight off a snapshot.
type scalarMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(Snapshot) float64
}

// Collector exposes a Monitor's latest snapshot as Prometheus metrics. Role, stream
// and name are not labels on every series; they are on the single livetorrent_info
// series, to be joined in queries when needed.
type Collector struct {
	m           *Monitor
	info        *prometheus.Desc
	received    *prometheus.Desc
	propagation *prometheus.Desc
	scalars     []scalarMetric
}

// NewCollector returns a Collector over m's latest snapshot.
func NewCollector(m *Monitor) *Collector {
	c := &Collector{
		m: m,
		info: prometheus.NewDesc(metricPrefix+"info",
			"Always 1; labels identify the process: role (seeder or leecher), stream (info-hash, hex) and name.",
			[]string{"role", "stream", "name"}, nil),
		received: prometheus.NewDesc(metricPrefix+"received_bytes_total",
			"Useful piece data received, by source: peers (other viewers), seeder, origin (HTTP range requests).",
			[]string{"source"}, nil),
		propagation: prometheus.NewDesc(metricPrefix+"propagation_seconds",
			"Time from a segment's publication by the seeder to its arrival here.",
			nil, nil),
	}
	counter := func(name, help string, v func(Snapshot) float64) {
		c.scalars = append(c.scalars, scalarMetric{
			desc:  prometheus.NewDesc(metricPrefix+name, help, nil, nil),
			kind:  prometheus.CounterValue,
			value: func(s Snapshot) float64 { return max(v(s), 0) },
		})
	}
	gauge := func(name, help string, v func(Snapshot) float64) {
		c.scalars = append(c.scalars, scalarMetric{
			desc:  prometheus.NewDesc(metricPrefix+name, help, nil, nil),
			kind:  prometheus.GaugeValue,
			value: v,
		})
	}

	gauge("uptime_seconds", "Time since the process started.",
		func(s Snapshot) float64 { return s.Uptime.Seconds() })
	gauge("peers", "Connected peers.",
		func(s Snapshot) float64 { return float64(s.Peers) })
	counter("sent_bytes_total", "Piece data sent to peers.",
		func(s Snapshot) float64 { return float64(s.BytesSent) })
	gauge("share_from_peers_ratio", "Share (0 to 1) of received piece data that came from other viewers.",
		func(s Snapshot) float64 { return s.ShareFromPeers() })
	counter("pieces_verified_total", "Pieces that passed their hash check.",
		func(s Snapshot) float64 { return float64(s.PiecesVerified) })
	counter("pieces_rejected_total", "Pieces that failed their hash check.",
		func(s Snapshot) float64 { return float64(s.PiecesRejected) })
	counter("deadline_misses_total", "Pieces verified after their playback deadline.",
		func(s Snapshot) float64 { return float64(s.DeadlineMisses) })
	counter("segments_played_total", "Media segments delivered to the player.",
		func(s Snapshot) float64 { return float64(s.SegmentsPlayed) })
	counter("segments_skipped_total", "Media segments skipped because they could not be fetched in time.",
		func(s Snapshot) float64 { return float64(s.SegmentsSkipped) })
	counter("retunes_total", "Times the start segment moved later before playback began, because newer records arrived.",
		func(s Snapshot) float64 { return float64(s.Retunes) })
	counter("stalls_total", "Segments delivered late, so that the player waited.",
		func(s Snapshot) float64 { return float64(s.Stalls) })
	counter("stall_seconds_total", "Time the player spent waiting for late segments.",
		func(s Snapshot) float64 { return s.StallTime.Seconds() })
	counter("missing_requests_total", "Player requests for data this leecher did not have.",
		func(s Snapshot) float64 { return float64(s.MissingRequests) })
	counter("requests_sent_total", "Block requests sent to peers.",
		func(s Snapshot) float64 { return float64(s.RequestsSent) })
	counter("requests_refused_total", "Block requests peers refused (REJECT).",
		func(s Snapshot) float64 { return float64(s.RequestsRefused) })
	counter("duplicate_requests_total", "Second requests for blocks expected to miss their deadline.",
		func(s Snapshot) float64 { return float64(s.DuplicateRequests) })
	counter("wasted_bytes_total", "Piece data received but not needed: duplicates, late or unrequested blocks.",
		func(s Snapshot) float64 { return float64(s.BytesWasted) })
	gauge("buffer_ahead_seconds", "Media ready ahead of the playhead.",
		func(s Snapshot) float64 { return s.BufferAhead.Seconds() })
	gauge("behind_live_seconds", "Delay from a segment's availability at the origin to its playback.",
		func(s Snapshot) float64 { return s.BehindLive.Seconds() })
	gauge("send_rate_bytes_per_second", "Piece data sent, averaged over the last few seconds.",
		func(s Snapshot) float64 { return s.SendRate })
	gauge("receive_rate_bytes_per_second", "Useful piece data received from all sources, averaged over the last few seconds.",
		func(s Snapshot) float64 { return s.ReceiveRate })
	gauge("egress_multiple", "Seeder upload rate as a multiple of the stream bitrate.",
		func(s Snapshot) float64 { return s.EgressMultiple })
	gauge("bitrate_bits_per_second", "Average bitrate of the stream.",
		func(s Snapshot) float64 { return s.BitrateBps })
	counter("segments_published_total", "Media segments published by the seeder.",
		func(s Snapshot) float64 { return float64(s.SegmentsPublished) })
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.info
	ch <- c.received
	ch <- c.propagation
	for _, m := range c.scalars {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Latest()
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1,
		labelValue(s.Role), labelValue(s.Stream), labelValue(s.Name))
	for _, r := range []struct {
		source string
		bytes  int64
	}{
		{"peers", s.BytesFromPeers},
		{"seeder", s.BytesFromSeeder},
		{"origin", s.BytesFromOrigin},
	} {
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(max(r.bytes, 0)), r.source)
	}
	count, sum, buckets := promHistogram(s.Propagation)
	ch <- prometheus.MustNewConstHistogram(c.propagation, count, sum, buckets)
	for _, m := range c.scalars {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(s))
	}
}

// promHistogram converts per-bucket counts to Prometheus's cumulative form, keyed by
// upper bound in seconds. Every bound gets a bucket, even before any observation, so
// the series a dashboard queries exist from the first scrape; the overflow bucket only
// adds to count.
func promHistogram(h Histogram) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(h.Bounds))
	for i, bound := range h.Bounds {
		if i < len(h.Counts) {
			count += uint64(max(h.Counts[i], 0))
		}
		buckets[bound.Seconds()] = count
	}
	for _, c := range h.Counts[min(len(h.Bounds), len(h.Counts)):] {
		count += uint64(max(c, 0))
	}
	return count, h.Sum.Seconds(), buckets
}

// labelValue makes a snapshot string acceptable as a label value, which must be valid
// UTF-8, and keeps it short.
func labelValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxLabelLen {
		s = strings.ToValidUTF8(s[:maxLabelLen], "")
	}
	return s
}

// newRegistry returns a registry private to one handler, holding m's metrics and the
// Go runtime and process metrics.
func newRegistry(m *Monitor) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(m),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
