package status

import (
	"math"
	"slices"
	"time"
)

// Quantile estimates the q-quantile (0..1) of the distribution, interpolating linearly
// inside the bucket the quantile falls in (the first bucket starts at 0). A quantile in
// the overflow bucket returns the last bound, the most that is known about it. An empty
// histogram gives 0.
func (h Histogram) Quantile(q float64) time.Duration {
	if len(h.Bounds) == 0 || math.IsNaN(q) {
		return 0
	}
	q = min(max(q, 0), 1)
	// Counts are summed as floats so that absurd values cannot overflow.
	var total float64
	for _, c := range h.Counts {
		total += float64(max(c, 0))
	}
	if total == 0 {
		return 0
	}
	last := h.Bounds[len(h.Bounds)-1]
	rank := q * total
	var below float64
	for i, c := range h.Counts {
		if c <= 0 {
			continue
		}
		if i >= len(h.Bounds) {
			return last
		}
		if below+float64(c) >= rank {
			var lower time.Duration
			if i > 0 {
				lower = h.Bounds[i-1]
			}
			upper := h.Bounds[i]
			frac := (rank - below) / float64(c)
			return lower + time.Duration(math.Round(frac*float64(upper-lower)))
		}
		below += float64(c)
	}
	return last
}

// Total is the number of observations.
func (h Histogram) Total() int64 {
	var n int64
	for _, c := range h.Counts {
		n += max(c, 0)
	}
	return n
}

func (h Histogram) clone() Histogram {
	h.Bounds = slices.Clone(h.Bounds)
	h.Counts = slices.Clone(h.Counts)
	return h
}
