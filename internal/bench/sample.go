package bench

import (
	"context"
	"fmt"
	"io"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/livetorrent/livetorrent/internal/status"
)

// Sample is the state of the run at one moment: rates over the last interval, cumulative
// counters since the start (from which any interval can be recomputed). Rates are bytes per
// second; the _x fields are the same rates as multiples of the stream's bitrate.
type Sample struct {
	T       float64 `json:"t_s"`     // since the start of the run
	Viewers int     `json:"viewers"` // running now

	SeederBps      float64 `json:"seeder_egress_bytes_per_s"`
	SeederX        float64 `json:"seeder_egress_x"`
	FallbackBps    float64 `json:"swarm_origin_fallback_bytes_per_s"` // viewers' range requests to the origin
	FallbackX      float64 `json:"swarm_origin_fallback_x"`
	SwarmOriginBps float64 `json:"swarm_origin_egress_bytes_per_s"` // the swarm's origin server: ingest + fallback + playlists
	SwarmOriginX   float64 `json:"swarm_origin_egress_x"`
	BaselineBps    float64 `json:"baseline_origin_egress_bytes_per_s"`
	BaselineX      float64 `json:"baseline_origin_egress_x"`

	ShareFromPeers      float64 `json:"share_from_peers"`       // of what viewers received in this interval
	ShareFromPeersTotal float64 `json:"share_from_peers_total"` // since the start

	SegmentsPlayed   int64 `json:"segments_played"`
	Stalls           int64 `json:"stalls"`
	BaselineSegments int64 `json:"baseline_segments_played"`
	BaselineStalls   int64 `json:"baseline_stalls"`

	// The whole process (both sides) divided by the viewers running: an in-process estimate.
	CPUPercentPerViewer float64 `json:"cpu_percent_per_viewer,omitempty"`
	HeapMiBPerViewer    float64 `json:"heap_mib_per_viewer"`

	SeederSent        int64 `json:"seeder_sent_bytes"`
	FromPeers         int64 `json:"viewers_from_peers_bytes"`
	FromSeeder        int64 `json:"viewers_from_seeder_bytes"`
	FromOrigin        int64 `json:"viewers_from_origin_bytes"`
	SwarmOriginServed int64 `json:"swarm_origin_served_bytes"`
	BaselineServed    int64 `json:"baseline_origin_served_bytes"`
}

// totals are the cumulative counters a sample is computed from.
type totals struct {
	at                                        time.Duration
	seeder, peers, fromSeeder, origin         int64
	swarmOrigin, baseline                     int64
	segments, stalls, baseSegments, baseStall int64
	cpu                                       time.Duration
	cpuOK                                     bool
}

// sample reads every node, client and origin, appends the run's state and returns the time
// it stands for.
func (r *runner) sample() time.Duration {
	// Viewers answer in parallel: one busy node must not delay the others' figures.
	var wg sync.WaitGroup
	running := 0
	for _, v := range r.viewers {
		if v != nil && v.running {
			running++
			wg.Add(1)
			go func() { defer wg.Done(); r.snapshot(v) }()
		}
	}
	wg.Wait()
	var t totals
	for i, v := range r.viewers {
		if v != nil {
			t.peers += v.last.BytesFromPeers
			t.fromSeeder += v.last.BytesFromSeeder
			t.origin += v.last.BytesFromOrigin
			t.segments += v.last.SegmentsPlayed
			t.stalls += v.last.Stalls
		}
		if c := r.clients[i]; c != nil {
			st := c.c.stats()
			t.baseSegments += st.Segments
			t.baseStall += st.Stalls
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s, err := r.seeder.Snapshot(ctx); err == nil {
		t.seeder = s.BytesSent
	} else {
		t.seeder = r.prev.seeder // a busy seeder: count its bytes at the next sample
	}
	t.swarmOrigin, t.baseline = r.swarmOrigin.bytesServed(), r.baselineOrigin.bytesServed()
	t.cpu, t.cpuOK = processCPU()
	t.at = time.Since(r.started)
	elapsed := t.at

	s := Sample{T: elapsed.Seconds(), Viewers: running, SegmentsPlayed: t.segments, Stalls: t.stalls,
		BaselineSegments: t.baseSegments, BaselineStalls: t.baseStall,
		SeederSent: t.seeder, FromPeers: t.peers, FromSeeder: t.fromSeeder, FromOrigin: t.origin,
		SwarmOriginServed: t.swarmOrigin, BaselineServed: t.baseline}
	p := r.prev
	if dt := (t.at - p.at).Seconds(); dt > 0 {
		s.SeederBps = float64(t.seeder-p.seeder) / dt
		s.FallbackBps = float64(t.origin-p.origin) / dt
		s.SwarmOriginBps = float64(t.swarmOrigin-p.swarmOrigin) / dt
		s.BaselineBps = float64(t.baseline-p.baseline) / dt
		if t.cpuOK && p.cpuOK && running > 0 {
			s.CPUPercentPerViewer = 100 * (t.cpu - p.cpu).Seconds() / dt / float64(running)
		}
	}
	s.SeederX, s.FallbackX = multiple(s.SeederBps, r.bitrate), multiple(s.FallbackBps, r.bitrate)
	s.SwarmOriginX, s.BaselineX = multiple(s.SwarmOriginBps, r.bitrate), multiple(s.BaselineBps, r.bitrate)
	s.ShareFromPeers = share(t.peers-p.peers, t.fromSeeder-p.fromSeeder, t.origin-p.origin)
	s.ShareFromPeersTotal = share(t.peers, t.fromSeeder, t.origin)
	if running > 0 {
		s.HeapMiBPerViewer = heapBytes() / (1 << 20) / float64(running)
	}
	r.propagation = append(r.propagation, r.mergedPropagation())
	r.prev = t
	r.samples = append(r.samples, s)
	return elapsed
}

// mergedPropagation is the viewers' propagation histograms added up, departed viewers' too.
func (r *runner) mergedPropagation() status.Histogram {
	var hs []status.Histogram
	for _, v := range r.viewers {
		if v != nil {
			hs = append(hs, v.last.Propagation)
		}
	}
	return mergeHistograms(hs)
}

// multiple is a byte rate as a multiple of a bitrate in bits/s.
func multiple(bytesPerSec, bitrateBps float64) float64 {
	if bitrateBps <= 0 {
		return 0
	}
	return bytesPerSec * 8 / bitrateBps
}

// share is the part of received bytes that came from other viewers.
func share(peers, seeder, origin int64) float64 { return Ratio(peers, peers+seeder+origin) }

// Ratio is part/whole, 0 when whole is not positive.
func Ratio(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// heapBytes is the memory held by live and not yet collected heap objects.
func heapBytes() float64 {
	m := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return float64(m[0].Value.Uint64())
}

// printProgress prints a line of figures averaged over the last interval (the samples'
// one-second rates jump with every segment).
func printProgress(w io.Writer, samples []Sample, window, bitrateBps float64) {
	last := func(vs []float64) float64 { return vs[len(vs)-1] }
	x := func(counter func(Sample) float64) float64 {
		return multiple(last(movingRatio(samples, window, counter, sampleTime)), bitrateBps)
	}
	s := samples[len(samples)-1]
	fmt.Fprintf(w, "%5.0fs  viewers %3d  seeder %5.2fx  origin fallback %5.2fx  baseline origin %6.2fx  from peers %5.1f%%  stalls %d (baseline %d)  segments %d (baseline %d)\n",
		s.T, s.Viewers, x(seederSent), x(fallback), x(baselineServed), 100*last(movingRatio(samples, window, fromPeers, received)),
		s.Stalls, s.BaselineStalls, s.SegmentsPlayed, s.BaselineSegments)
}
