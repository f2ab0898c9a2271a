package livetorrent

// bucket is a token bucket on the caller's clock.
type bucket struct {
	tokens, rate, burst float64
	last                int64 // unix nanoseconds of the last refill
}

func newBucket(rate, burst float64, now int64) bucket {
	return bucket{tokens: burst, rate: rate, burst: burst, last: now}
}

func (b *bucket) take(now int64) bool {
	if now > b.last {
		b.tokens = min(b.burst, b.tokens+float64(now-b.last)*1e-9*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
