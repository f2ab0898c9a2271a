package status

import (
	"context"
	"sync"
	"time"
)

// Source returns the current snapshot of a seeder or leecher. It is called once per
// sampling interval and should return quickly; its context expires after one interval.
type Source func(ctx context.Context) (Snapshot, error)

const (
	// DefaultWindow is the averaging window for rates when NewMonitor is given none.
	DefaultWindow = 5 * time.Second

	sampleInterval = time.Second
	// maxSamples bounds the ring whatever window a caller asks for.
	maxSamples = 3600
)

// Monitor samples a Source once a second and keeps the latest snapshot with its rates
// filled in. Its methods are safe for concurrent use.
type Monitor struct {
	src    Source
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	latest  Snapshot
	history sampleRing
}

// NewMonitor returns a Monitor over src that averages rates over window (DefaultWindow
// when window <= 0). Call Run to start sampling.
func NewMonitor(src Source, window time.Duration) *Monitor {
	if window <= 0 {
		window = DefaultWindow
	}
	// One slot per interval in the window, plus one so the window's far edge is still
	// there when ticks arrive a little late.
	n := int(window/sampleInterval) + 1
	n = max(2, min(n, maxSamples))
	return &Monitor{
		src:     src,
		window:  window,
		now:     time.Now,
		history: sampleRing{buf: make([]sample, n)},
	}
}

// Run samples the source immediately and then once a second until ctx ends. A failed
// sample is skipped: the previous snapshot stays current.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(sampleInterval)
	defer t.Stop()
	for {
		m.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Monitor) poll(ctx context.Context) {
	// A source that hangs must not stall sampling forever.
	ctx, cancel := context.WithTimeout(ctx, sampleInterval)
	defer cancel()
	snap, err := m.src(ctx)
	if err != nil || ctx.Err() != nil {
		return
	}
	m.sample(m.now(), snap)
}

// Latest returns the most recent snapshot with rates filled in; the zero Snapshot
// before the first successful sample.
func (m *Monitor) Latest() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.latest
	s.Propagation = s.Propagation.clone() // callers may keep or modify what they got
	return s
}

// sample records snap as taken at now and computes its rates against the oldest
// sample still inside the window.
func (m *Monitor) sample(now time.Time, snap Snapshot) {
	cur := sample{at: now, sent: snap.BytesSent, received: received(snap)}
	// The source may reuse its histogram's arrays for the next snapshot.
	snap.Propagation = snap.Propagation.clone()

	m.mu.Lock()
	defer m.mu.Unlock()
	snap.SendRate, snap.ReceiveRate = 0, 0
	if base, ok := m.history.baseFor(now, m.window); ok {
		elapsed := now.Sub(base.at).Seconds()
		snap.SendRate = rate(cur.sent-base.sent, elapsed)
		snap.ReceiveRate = rate(cur.received-base.received, elapsed)
	}
	snap.EgressMultiple = 0
	if snap.BitrateBps > 0 {
		snap.EgressMultiple = snap.SendRate * 8 / snap.BitrateBps
	}
	m.history.push(cur)
	m.latest = snap
}

func received(s Snapshot) int64 {
	return s.BytesFromPeers + s.BytesFromSeeder + s.BytesFromOrigin
}

// rate is 0 rather than negative when a counter went backwards (the source was
// replaced or reset): a negative transfer rate means nothing to anyone reading it.
func rate(delta int64, seconds float64) float64 {
	if delta <= 0 || seconds <= 0 {
		return 0
	}
	return float64(delta) / seconds
}

type sample struct {
	at             time.Time
	sent, received int64
}

// sampleRing holds the last len(buf) samples, oldest first from start.
type sampleRing struct {
	buf   []sample
	start int
	n     int
}

func (r *sampleRing) push(s sample) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = s
		r.n++
		return
	}
	r.buf[r.start] = s
	r.start = (r.start + 1) % len(r.buf)
}

// baseFor returns the sample to measure rates at now against: the oldest one taken
// within window before now, or, when every sample is older (the source failed for a
// while), the newest one.
func (r *sampleRing) baseFor(now time.Time, window time.Duration) (sample, bool) {
	var newest sample
	found := false
	for i := 0; i < r.n; i++ {
		s := r.buf[(r.start+i)%len(r.buf)]
		if !s.at.Before(now) {
			break // clock went backwards: nothing to measure against
		}
		if now.Sub(s.at) <= window {
			return s, true
		}
		newest, found = s, true
	}
	return newest, found
}
