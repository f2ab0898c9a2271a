package bench

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/livetorrent/livetorrent/internal/status"
)

// Summary is the run in figures. Egress multiples are averaged over the second half of the
// run, once the start-up backlog has been served.
type Summary struct {
	Viewers      int     `json:"viewers"`       // at once
	ViewersTotal int     `json:"viewers_total"` // churn replacements included
	DurationS    float64 `json:"duration_s"`    // measured
	BitrateBps   float64 `json:"bitrate_bps"`
	Source       string  `json:"source"`
	Interrupted  bool    `json:"interrupted,omitempty"`

	SeederEgressX        float64 `json:"seeder_egress_x"`
	SwarmOriginFallbackX float64 `json:"swarm_origin_fallback_x"` // viewers' range requests
	SwarmOriginX         float64 `json:"swarm_origin_egress_x"`   // the swarm's origin server, seeder ingest included
	BaselineOriginX      float64 `json:"baseline_origin_egress_x"`
	ShareFromPeers       float64 `json:"share_from_peers"` // whole run: the target's measure
	// The same over the second half: what the swarm gives once the flash crowd's start (each
	// viewer's first segments, often from the origin) is behind it.
	ShareFromPeersSecondHalf float64 `json:"share_from_peers_second_half"`

	SwarmSegments       int64 `json:"swarm_segments_played"`
	SwarmStalls         int64 `json:"swarm_stalls"`
	SwarmViewersStalled int   `json:"swarm_viewers_with_stall"`
	SwarmNeverPlayed    int   `json:"swarm_viewers_never_played"`
	BaselineSegments    int64 `json:"baseline_segments_played"`
	BaselineStalls      int64 `json:"baseline_stalls"`
	BaselineStalled     int   `json:"baseline_clients_with_stall"`
	BaselineNeverPlayed int   `json:"baseline_clients_never_played"`
	// Propagation, publication to arrival: over the second half (the target's measure), and
	// over the whole run, which includes the segments each viewer fetches behind the live
	// edge when it tunes in.
	// Startup: tune-in to the first segment played, over the viewers that played.
	Startup             StartupPercentiles `json:"startup"`
	Requests            RequestFigures     `json:"requests"`
	Propagation         Percentiles        `json:"propagation_second_half"`
	PropagationAll      Percentiles        `json:"propagation_whole_run"`
	CPUPercentPerViewer *float64           `json:"cpu_percent_per_viewer,omitempty"`
	HeapMiBPerViewer    float64            `json:"heap_mib_per_viewer"`
	ResourcesNote       string             `json:"resources_note"`
	Targets             []Target           `json:"targets"`
}

// RequestFigures sum the viewers' block requests: how many were sent, refused by the peer
// asked and sent twice (a second peer asked because the first was expected to miss the
// deadline), and the bytes received that were not needed against those kept.
type RequestFigures struct {
	Sent        int64 `json:"sent"`
	Refused     int64 `json:"refused"`
	Duplicates  int64 `json:"duplicates"`
	WastedBytes int64 `json:"wasted_bytes"`
	KeptBytes   int64 `json:"kept_bytes"` // piece bytes from peers and the seeder
}

// RequestsOf sums the viewers' requests.
func RequestsOf(viewers []ViewerResult) RequestFigures {
	var r RequestFigures
	for _, v := range viewers {
		r.Sent += v.Swarm.Requests
		r.Refused += v.Swarm.Refused
		r.Duplicates += v.Swarm.Duplicates
		r.WastedBytes += v.Swarm.Wasted
		r.KeptBytes += v.Swarm.FromPeers + v.Swarm.FromSeeder
	}
	return r
}

// StartupPercentiles describe the viewers' startup delays.
type StartupPercentiles struct {
	Viewers int     `json:"viewers"`
	P50S    float64 `json:"p50_s"`
	P95S    float64 `json:"p95_s"`
	MaxS    float64 `json:"max_s"`
}

// StartupOf summarises the startup delays of the viewers that played.
func StartupOf(viewers []ViewerResult) StartupPercentiles {
	var d []float64
	for _, v := range viewers {
		if v.Swarm.Segments > 0 {
			d = append(d, v.Swarm.StartupS)
		}
	}
	if len(d) == 0 {
		return StartupPercentiles{}
	}
	slices.Sort(d)
	at := func(q float64) float64 { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return StartupPercentiles{Viewers: len(d), P50S: at(0.50), P95S: at(0.95), MaxS: d[len(d)-1]}
}

// Percentiles describe a propagation histogram.
type Percentiles struct {
	Segments int64   `json:"segments"`
	P50Ms    float64 `json:"p50_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
}

func percentiles(h status.Histogram) Percentiles {
	return Percentiles{Segments: h.Total(), P50Ms: ms(h.Quantile(0.50)), P95Ms: ms(h.Quantile(0.95)), P99Ms: ms(h.Quantile(0.99))}
}

// Target is one of the design goals and whether the run met it.
type Target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

// Targets of the design, checked on every run.
const (
	targetSeederEgressX = 1.2
	targetShareFromPeer = 0.97
	targetPropagation   = time.Second
)

// midSample is the index of the first sample of the second half of the run (at least one
// sample before the last, when there are two).
func midSample(samples []Sample) int {
	if len(samples) < 2 {
		return 0
	}
	last := samples[len(samples)-1].T
	for i, s := range samples {
		if s.T >= last/2 {
			return min(i, len(samples)-2)
		}
	}
	return len(samples) - 2
}

// secondHalfMultiple is the rate of a cumulative byte counter over the second half of the
// samples, as a multiple of the bitrate: bytes counted from the middle sample to the last
// over the time between them.
func secondHalfMultiple(samples []Sample, counter func(Sample) int64, bitrateBps float64) float64 {
	if len(samples) < 2 || bitrateBps <= 0 {
		return 0
	}
	last, mid := samples[len(samples)-1], samples[midSample(samples)]
	return multiple(float64(counter(last)-counter(mid))/(last.T-mid.T), bitrateBps)
}

// secondHalfShare is the part of the bytes viewers received over the second half of the
// samples that came from other viewers.
func secondHalfShare(samples []Sample) float64 {
	if len(samples) < 2 {
		return 0
	}
	last, mid := samples[len(samples)-1], samples[midSample(samples)]
	return share(last.FromPeers-mid.FromPeers, last.FromSeeder-mid.FromSeeder, last.FromOrigin-mid.FromOrigin)
}

// secondHalfMean is the mean of a per-sample figure over the second half of the run.
func secondHalfMean(samples []Sample, figure func(Sample) float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	half := samples[len(samples)-1].T / 2
	var sum float64
	var n int
	for _, s := range samples {
		if s.T >= half {
			sum += figure(s)
			n++
		}
	}
	return sum / float64(n)
}

// mergeHistograms adds up histograms with the same bounds (the viewers' propagation); one
// with other bounds is left out rather than mixed in wrongly.
func mergeHistograms(hs []status.Histogram) status.Histogram {
	var m status.Histogram
	for _, h := range hs {
		if len(h.Counts) == 0 {
			continue
		}
		if m.Counts == nil {
			m.Bounds = slices.Clone(h.Bounds)
			m.Counts = make([]int64, len(h.Counts))
		}
		if !slices.Equal(m.Bounds, h.Bounds) || len(h.Counts) != len(m.Counts) {
			continue
		}
		for i, c := range h.Counts {
			m.Counts[i] += c
		}
		m.Sum += h.Sum
	}
	return m
}

// subtractHistogram is what a cumulative histogram gained from before to after (same
// bounds; before may be empty).
func subtractHistogram(after, before status.Histogram) status.Histogram {
	d := status.Histogram{Bounds: slices.Clone(after.Bounds), Counts: slices.Clone(after.Counts), Sum: after.Sum - before.Sum}
	if len(before.Counts) != len(after.Counts) {
		d.Sum = after.Sum
		return d
	}
	for i, c := range before.Counts {
		d.Counts[i] = max(d.Counts[i]-c, 0)
	}
	return d
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// checkTargets says which design goals the summary meets.
func checkTargets(s Summary) []Target {
	pct := func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }
	return []Target{
		{Name: "seeder egress", Want: fmt.Sprintf("<= %.1fx", targetSeederEgressX),
			Got: fmt.Sprintf("%.2fx", s.SeederEgressX), Met: s.SeederEgressX <= targetSeederEgressX},
		{Name: "share from peers", Want: ">= " + pct(targetShareFromPeer),
			Got: pct(s.ShareFromPeers), Met: s.ShareFromPeers >= targetShareFromPeer},
		{Name: "stalls", Want: "0", Got: fmt.Sprint(s.SwarmStalls), Met: s.SwarmStalls == 0 && s.SwarmNeverPlayed == 0},
		{Name: "propagation p95 (second half)", Want: fmt.Sprintf("< %.0f ms", ms(targetPropagation)),
			Got: fmt.Sprintf("%.0f ms", s.Propagation.P95Ms),
			Met: s.Propagation.Segments > 0 && s.Propagation.P95Ms < ms(targetPropagation)},
	}
}

// movingRatio is, at every sample, the change of num over the change of den across the
// window before it; with den the time, it is the rate of a cumulative counter, per second.
// Counters start at zero at t=0, so the first samples' window starts there. A window where
// den does not change gives NaN (a gap in a chart).
func movingRatio(samples []Sample, window float64, num, den func(Sample) float64) []float64 {
	zero := Sample{}
	at := func(i int) Sample { // i-1 into samples; 0 is the start of the run
		if i == 0 {
			return zero
		}
		return samples[i-1]
	}
	out := make([]float64, len(samples))
	j := 0
	for i := 1; i <= len(samples); i++ {
		s := at(i)
		for j+1 < i && at(j+1).T <= s.T-window {
			j++
		}
		d := den(s) - den(at(j))
		if d == 0 {
			out[i-1] = math.NaN()
			continue
		}
		out[i-1] = (num(s) - num(at(j))) / d
	}
	return out
}

// Counters and figures of a sample, for movingRatio and the charts.
func sampleTime(s Sample) float64     { return s.T }
func seederSent(s Sample) float64     { return float64(s.SeederSent) }
func swarmOrigin(s Sample) float64    { return float64(s.SwarmOriginServed) }
func fallback(s Sample) float64       { return float64(s.FromOrigin) }
func baselineServed(s Sample) float64 { return float64(s.BaselineServed) }
func fromPeers(s Sample) float64      { return float64(s.FromPeers) }
func received(s Sample) float64 {
	return float64(s.FromPeers + s.FromSeeder + s.FromOrigin)
}
