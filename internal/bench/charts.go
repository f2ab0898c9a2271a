package bench

import (
	"fmt"
	"math"

	"github.com/livetorrent/livetorrent/internal/status"
)

// Series colours: the swarm in blues and greens, the baseline in red, targets in grey.
const (
	colorSeeder   = "#1f77b4"
	colorSwarm    = "#17becf"
	colorOrigin   = "#2ca02c"
	colorBaseline = "#d62728"
	colorTarget   = "#7f7f7f"
	colorMemory   = "#9467bd"
)

type chartFile struct {
	file string
	svg  []byte
}

// charts draws the report's charts.
func charts(rep *Report) []chartFile {
	return []chartFile{
		{"egress.svg", egressChart(rep)},
		{"share.svg", shareChart(rep)},
		{"stalls.svg", stallsChart(rep)},
		{"propagation.svg", propagationChart(rep)},
		{"resources.svg", resourcesChart(rep)},
	}
}

// column extracts one figure of every sample.
func column(samples []Sample, f func(Sample) float64) []float64 {
	out := make([]float64, len(samples))
	for i, s := range samples {
		out[i] = f(s)
	}
	return out
}

func maxOf(vs ...[]float64) float64 {
	m := 0.0
	for _, v := range vs {
		for _, x := range v {
			if !math.IsNaN(x) {
				m = max(m, x)
			}
		}
	}
	return m
}

func timeSpan(samples []Sample) span {
	if len(samples) == 0 {
		return span{0, 1}
	}
	return span{0, samples[len(samples)-1].T}
}

// smoothWindow evens out what arrives in bursts (a segment every 2 s, a playlist poll every
// target duration) so that the charts show rates, not the bursts' phase.
const smoothWindow = 4.0 // seconds

// scaled multiplies every value by f.
func scaled(vs []float64, f float64) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = v * f
	}
	return out
}

// egressChart (a): what the infrastructure sends, the seeder and the swarm's origin against
// the origin of the HTTP-only baseline, as multiples of the bitrate.
func egressChart(rep *Report) []byte {
	sm := rep.Samples
	t := column(sm, sampleTime)
	perByte := 8 / max(rep.Config.BitrateBps, 1) // bytes/s to multiples of the bitrate
	seeder := scaled(movingRatio(sm, smoothWindow, seederSent, sampleTime), perByte)
	total := scaled(movingRatio(sm, smoothWindow, func(s Sample) float64 { return seederSent(s) + swarmOrigin(s) }, sampleTime), perByte)
	base := scaled(movingRatio(sm, smoothWindow, baselineServed, sampleTime), perByte)
	ts := timeSpan(sm)
	p := newPlot(fmt.Sprintf("Egress, LiveTorrent vs HTTP only: %d viewers, %.0f kbit/s (%.0f s average)",
		rep.Config.Viewers, rep.Config.BitrateBps/1000, smoothWindow),
		"time (s)", "egress (x bitrate)", ts, span{0, max(maxOf(total, base), targetSeederEgressX)})
	p.line("HTTP only: origin", colorBaseline, t, base, false, false)
	p.line("LiveTorrent: seeder + origin (ingest, fallback)", colorSeeder, t, total, false, false)
	p.line("LiveTorrent: seeder alone", colorSwarm, t, seeder, true, false)
	p.line(fmt.Sprintf("target: seeder %.1fx", targetSeederEgressX), colorTarget,
		[]float64{ts.lo, ts.hi}, []float64{targetSeederEgressX, targetSeederEgressX}, true, false)
	return p.svg()
}

// shareChart (b): the share of what viewers received that came from other viewers.
func shareChart(rep *Report) []byte {
	sm := rep.Samples
	t := column(sm, sampleTime)
	ts := timeSpan(sm)
	p := newPlot("Share of viewers' bytes from other viewers", "time (s)", "from peers (%)", ts, span{0, 100})
	p.line(fmt.Sprintf("%.0f s average", smoothWindow), colorSwarm, t, scaled(movingRatio(sm, smoothWindow, fromPeers, received), 100), false, false)
	p.line("since the start", colorSeeder, t, column(sm, func(s Sample) float64 { return 100 * s.ShareFromPeersTotal }), false, false)
	p.line(fmt.Sprintf("target %.0f%%", 100*targetShareFromPeer), colorTarget,
		[]float64{ts.lo, ts.hi}, []float64{100 * targetShareFromPeer, 100 * targetShareFromPeer}, true, false)
	return p.svg()
}

// stallsChart (c): stalls of every viewer, the swarm's and the baseline client's side by
// side.
func stallsChart(rep *Report) []byte {
	top := 5.0 // whole-number ticks even when nobody stalled
	for _, v := range rep.Viewers {
		top = max(top, float64(v.Swarm.Stalls), float64(v.Baseline.Stalls))
	}
	p := newPlot(fmt.Sprintf("Stalls per viewer (in all: LiveTorrent %d, HTTP only %d)", rep.Summary.SwarmStalls, rep.Summary.BaselineStalls),
		"viewer", "stalls", span{0, float64(max(len(rep.Viewers), 1))}, span{0, top})
	baseline := rep.Config.Source != SourceSimulation // a simulation has no baseline clients
	for i, v := range rep.Viewers {
		x := float64(i)
		if !baseline {
			if v.Swarm.Stalls > 0 { // bars of height 0 only weigh down a chart of thousands
				p.bar(x+0.1, x+0.9, float64(v.Swarm.Stalls), colorSeeder)
			}
			continue
		}
		p.bar(x+0.1, x+0.5, float64(v.Swarm.Stalls), colorSeeder)
		p.bar(x+0.5, x+0.9, float64(v.Baseline.Stalls), colorBaseline)
	}
	p.key("LiveTorrent viewer", colorSeeder)
	if baseline {
		p.key("HTTP-only client", colorBaseline)
	}
	return p.svg()
}

// cdfPoints turns a histogram into its cumulative distribution at the bucket bounds, in
// ms and %, up to the first bound that holds everything; the overflow bucket has no bound
// and is left out.
func cdfPoints(h status.Histogram) (xs, ys []float64) {
	total := h.Total()
	if total == 0 {
		return nil, nil
	}
	var cum int64
	for i, b := range h.Bounds {
		cum += max(h.Counts[i], 0)
		xs = append(xs, ms(b))
		ys = append(ys, 100*float64(cum)/float64(total))
		if cum == total {
			break
		}
	}
	return xs, ys
}

// propagationChart (d): how long segments took from publication to a viewer, as a CDF on a
// log axis (delays span 100 ms to tens of seconds).
func propagationChart(rep *Report) []byte {
	xs, ys := cdfPoints(rep.PropagationSecondHalf)
	axs, ays := cdfPoints(rep.Propagation)
	target := ms(targetPropagation)
	left := 100.0
	if len(rep.Propagation.Bounds) > 0 {
		left = ms(rep.Propagation.Bounds[0])
	}
	right := max(maxOf(xs, axs), target)
	p := newPlot("Propagation delay, publication to arrival at a viewer (CDF)",
		"delay (ms, log scale)", "segments (%)", span{left, right}, span{0, 100}).withLogX(span{left, right})
	p.line(fmt.Sprintf("second half (%d segments)", rep.PropagationSecondHalf.Total()), colorSeeder, xs, ys, false, false)
	p.line(fmt.Sprintf("whole run, with tune-in (%d)", rep.Propagation.Total()), colorSwarm, axs, ays, true, false)
	p.line(fmt.Sprintf("target: p95 < %.0f ms", target), colorTarget, []float64{target, target}, []float64{0, 100}, true, false)
	p.line("95%", colorTarget, []float64{p.xr.lo, p.xr.hi}, []float64{95, 95}, true, false)
	return p.svg()
}

// resourcesChart (e): CPU and heap per viewer, an in-process estimate.
func resourcesChart(rep *Report) []byte {
	sm := rep.Samples
	t := column(sm, func(s Sample) float64 { return s.T })
	cpu := column(sm, func(s Sample) float64 { return s.CPUPercentPerViewer })
	heap := column(sm, func(s Sample) float64 { return s.HeapMiBPerViewer })
	p := newPlot("CPU and heap per viewer (whole process / viewers running)", "time (s)", "CPU per viewer (% of a core)",
		timeSpan(sm), span{0, maxOf(cpu)}).withRightAxis("heap per viewer (MiB)", span{0, maxOf(heap)})
	if rep.Summary.CPUPercentPerViewer != nil {
		p.line("CPU (left)", colorSeeder, t, cpu, false, false)
	}
	p.line("heap (right)", colorMemory, t, heap, false, true)
	return p.svg()
}
