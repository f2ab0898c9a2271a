package status

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantile(t *testing.T) {
	ms := time.Millisecond
	fixture := leecherSnapshot().Propagation // 10, 30, 40, 15 | 5 over 100, 200, 500, 1000 ms
	for _, c := range []struct {
		name string
		h    Histogram
		q    float64
		want time.Duration
	}{
		{"inside the first bucket", fixture, 0.05, 50 * ms},  // rank 5 of 10 in 0..100 ms
		{"top of the first bucket", fixture, 0.10, 100 * ms}, // rank 10 of 10
		{"median", fixture, 0.50, 275 * ms},                  // rank 50: 10 of 40 into 200..500 ms
		{"p95 at a bound", fixture, 0.95, 1000 * ms},         // rank 95: 15 of 15 into 500..1000 ms
		{"overflow gives the last bound", fixture, 0.99, 1000 * ms},
		{"q below 0 is clamped", fixture, -1, 0},
		{"q above 1 is clamped", fixture, 2, 1000 * ms},
		{"NaN", fixture, math.NaN(), 0},
		{"empty buckets are skipped", Histogram{
			Bounds: []time.Duration{time.Second, 2 * time.Second},
			Counts: []int64{0, 4, 0},
		}, 0.25, 1250 * ms},
		{"minimum is the lower edge of the first used bucket", Histogram{
			Bounds: []time.Duration{time.Second, 2 * time.Second},
			Counts: []int64{0, 4, 0},
		}, 0, time.Second},
		{"no observations", Histogram{Bounds: []time.Duration{time.Second}, Counts: []int64{0, 0}}, 0.5, 0},
		{"no bounds", Histogram{Counts: []int64{3}}, 0.5, 0},
		{"negative counts are ignored", Histogram{
			Bounds: []time.Duration{time.Second, 2 * time.Second},
			Counts: []int64{-5, 2, 0},
		}, 0.5, 1500 * ms},
	} {
		if got := c.h.Quantile(c.q); got != c.want {
			t.Errorf("%s: Quantile(%v) = %v, want %v", c.name, c.q, got, c.want)
		}
	}
}

func TestHistogramTotal(t *testing.T) {
	if got := leecherSnapshot().Propagation.Total(); got != 100 {
		t.Errorf("Total = %d, want 100", got)
	}
}
