package bench

import (
	"math"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/status"
)

// steadySamples is a hand-made run: one sample a second for n seconds, the seeder sending
// rate bytes/s after a start-up burst of burst bytes in the first second.
func steadySamples(n int, rate, burst int64) []Sample {
	var out []Sample
	for i := 1; i <= n; i++ {
		out = append(out, Sample{T: float64(i), SeederSent: burst + rate*int64(i), BaselineServed: 10 * rate * int64(i),
			FromPeers: 90 * int64(i), FromSeeder: 5 * int64(i), FromOrigin: 5 * int64(i)})
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSecondHalfMultiple(t *testing.T) {
	// 8000 bit/s is 1000 bytes/s: a seeder sending 1200 bytes/s sends 1.2x. The burst falls
	// in the first half and does not count.
	sm := steadySamples(20, 1200, 50_000)
	if got := secondHalfMultiple(sm, func(s Sample) int64 { return s.SeederSent }, 8000); !near(got, 1.2) {
		t.Errorf("seeder: %v, want 1.2", got)
	}
	if got := secondHalfMultiple(sm, func(s Sample) int64 { return s.BaselineServed }, 8000); !near(got, 12) {
		t.Errorf("baseline: %v, want 12", got)
	}
	if got := secondHalfMultiple(sm[:1], func(s Sample) int64 { return s.SeederSent }, 8000); got != 0 {
		t.Errorf("one sample: %v, want 0", got)
	}
	if got := secondHalfMultiple(sm, func(s Sample) int64 { return s.SeederSent }, 0); got != 0 {
		t.Errorf("no bitrate: %v, want 0", got)
	}
}

func TestSecondHalfShare(t *testing.T) {
	// The first 10 s come from the origin only (a flash crowd's start), the next 10 s as
	// steadySamples: the whole run's share is diluted, the second half's is not.
	var sm []Sample
	for i := 1; i <= 10; i++ {
		sm = append(sm, Sample{T: float64(i), FromOrigin: 100 * int64(i)})
	}
	for _, s := range steadySamples(10, 0, 0) {
		s.T += 10
		s.FromOrigin += 1000
		sm = append(sm, s)
	}
	if got := secondHalfShare(sm); !near(got, 0.9) {
		t.Errorf("second half: %v, want 0.9", got)
	}
	last := sm[len(sm)-1]
	if got := share(last.FromPeers, last.FromSeeder, last.FromOrigin); !near(got, 0.45) {
		t.Errorf("whole run: %v, want 0.45", got)
	}
	if got := secondHalfShare(sm[:1]); got != 0 {
		t.Errorf("one sample: %v, want 0", got)
	}
}

func TestSecondHalfMean(t *testing.T) {
	var sm []Sample
	for i := 1; i <= 10; i++ {
		sm = append(sm, Sample{T: float64(i), HeapMiBPerViewer: float64(i)})
	}
	// Samples at 5 s to 10 s: mean 7.5.
	if got := secondHalfMean(sm, func(s Sample) float64 { return s.HeapMiBPerViewer }); !near(got, 7.5) {
		t.Errorf("mean %v, want 7.5", got)
	}
}

func TestMovingRatio(t *testing.T) {
	sm := steadySamples(10, 1000, 4000)
	rates := movingRatio(sm, 4, seederSent, sampleTime)
	// The first sample's window starts at t=0 with nothing sent: burst and one second.
	if !near(rates[0], 5000) {
		t.Errorf("first rate %v, want 5000", rates[0])
	}
	// From 4 s on, the window no longer reaches the burst at t=0.
	for i := 4; i < len(rates); i++ {
		if !near(rates[i], 1000) {
			t.Errorf("rate at %v s: %v, want 1000", sm[i].T, rates[i])
		}
	}
	shares := movingRatio(sm, 4, fromPeers, received)
	if !near(shares[9], 0.9) {
		t.Errorf("share %v, want 0.9", shares[9])
	}
	flat := []Sample{{T: 1}, {T: 2}}
	if r := movingRatio(flat, 4, fromPeers, received); !math.IsNaN(r[1]) {
		t.Errorf("nothing received: %v, want NaN", r[1])
	}
}

func TestMergeHistogramsAndQuantiles(t *testing.T) {
	bounds := []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, time.Second}
	a := status.Histogram{Bounds: bounds, Counts: []int64{50, 30, 0, 0}, Sum: 10 * time.Second}
	b := status.Histogram{Bounds: bounds, Counts: []int64{0, 10, 10, 0}, Sum: 12 * time.Second}
	other := status.Histogram{Bounds: []time.Duration{time.Second}, Counts: []int64{7, 0}}
	m := mergeHistograms([]status.Histogram{{}, a, b, other})
	if want := []int64{50, 40, 10, 0}; len(m.Counts) != 4 || m.Counts[0] != 50 || m.Counts[1] != 40 || m.Counts[2] != 10 {
		t.Fatalf("merged counts %v, want %v", m.Counts, want)
	}
	if m.Total() != 100 || m.Sum != 22*time.Second {
		t.Fatalf("total %d, sum %v", m.Total(), m.Sum)
	}
	// 50 of 100 within 100 ms: p50 is the first bucket's top. p95: 5 of the 10 in the
	// 500 ms to 1 s bucket, halfway: 750 ms. p99: 9 of those 10, 950 ms.
	for _, c := range []struct {
		q    float64
		want float64
	}{{0.5, 100}, {0.95, 750}, {0.99, 950}} {
		if got := ms(m.Quantile(c.q)); math.Abs(got-c.want) > 0.5 {
			t.Errorf("p%.0f = %v ms, want %v", 100*c.q, got, c.want)
		}
	}
	half := subtractHistogram(m, a)
	if half.Total() != 20 || half.Counts[1] != 10 || half.Counts[2] != 10 || half.Sum != 12*time.Second {
		t.Errorf("second half %+v, want b", half)
	}
	if p := percentiles(half); p.Segments != 20 || p.P50Ms != 500 {
		t.Errorf("second half percentiles %+v", p)
	}
	xs, ys := cdfPoints(m)
	if len(xs) != 3 || xs[2] != 1000 || ys[0] != 50 || ys[2] != 100 {
		t.Errorf("cdf %v %v", xs, ys)
	}
}

func TestCheckTargets(t *testing.T) {
	good := Summary{SeederEgressX: 1.1, ShareFromPeers: 0.98, Propagation: Percentiles{Segments: 10, P95Ms: 400}}
	for _, tg := range checkTargets(good) {
		if !tg.Met {
			t.Errorf("%s: %s, want %s: not met", tg.Name, tg.Got, tg.Want)
		}
	}
	bad := Summary{SeederEgressX: 1.3, ShareFromPeers: 0.9, SwarmStalls: 1, Propagation: Percentiles{Segments: 10, P95Ms: 1000}}
	for _, tg := range checkTargets(bad) {
		if tg.Met {
			t.Errorf("%s: %s met %s", tg.Name, tg.Got, tg.Want)
		}
	}
}

func TestPlaybackModel(t *testing.T) {
	var p playback
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at   time.Duration
		late time.Duration
	}{
		{0, 0},               // starts playing: 2 s of media
		{1 * time.Second, 0}, // early: plays from 2 s to 4 s
		{4500 * time.Millisecond, 500 * time.Millisecond}, // needed at 4 s: a stall
		{6500 * time.Millisecond, 0},                      // playback resumed at 4.5 s, this one plays at 6.5 s
	}
	for i, s := range steps {
		if late := p.complete(t0.Add(s.at), 2*time.Second); late != s.late {
			t.Errorf("segment %d: late %v, want %v", i, late, s.late)
		}
	}
}

func TestStartupOf(t *testing.T) {
	var vs []ViewerResult
	for i := range 20 { // 1..20 s; a viewer that never played does not count
		vs = append(vs, ViewerResult{Swarm: SwarmViewer{Segments: 1, StartupS: float64(i + 1)}})
	}
	vs = append(vs, ViewerResult{Swarm: SwarmViewer{StartupS: 0}})
	got := StartupOf(vs)
	if want := (StartupPercentiles{Viewers: 20, P50S: 11, P95S: 20, MaxS: 20}); got != want {
		t.Errorf("StartupOf = %+v, want %+v", got, want)
	}
	if got := StartupOf(nil); got != (StartupPercentiles{}) {
		t.Errorf("StartupOf(nil) = %+v", got)
	}
}
