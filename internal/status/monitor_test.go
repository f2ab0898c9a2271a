package status

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

var epoch = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*max(1, math.Abs(want))
}

func at(seconds int) time.Time { return epoch.Add(time.Duration(seconds) * time.Second) }

// leecherSnapshot is a leecher a little way into a stream, the fixture most tests use.
func leecherSnapshot() Snapshot {
	return Snapshot{
		Role: "leecher", Stream: "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00", Name: "Test <b>channel</b>",
		Uptime:          95 * time.Second,
		Peers:           7,
		BytesSent:       3_800_000,
		BytesFromPeers:  9_300_000,
		BytesFromSeeder: 500_000,
		BytesFromOrigin: 200_000,
		PiecesVerified:  1200,
		PiecesRejected:  3,
		DeadlineMisses:  4,
		SegmentsPlayed:  40,
		SegmentsSkipped: 1,
		Retunes:         1,
		Stalls:          2,
		StallTime:       1500 * time.Millisecond,
		MissingRequests: 5,
		BufferAhead:     6100 * time.Millisecond,
		BehindLive:      8200 * time.Millisecond,
		Propagation: Histogram{
			Bounds: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second},
			Counts: []int64{10, 30, 40, 15, 5},
			Sum:    42 * time.Second,
		},
	}
}

func TestMonitorRatesOverWindow(t *testing.T) {
	m := NewMonitor(nil, 5*time.Second)
	// Counters grow faster and faster (i² kB), so the result shows which sample the
	// rate was measured against.
	snapAt := func(i int64) Snapshot {
		return Snapshot{
			Role:            "seeder",
			BitrateBps:      2_000_000,
			BytesSent:       i * i * 1000,
			BytesFromPeers:  i * i * 100,
			BytesFromSeeder: i * i * 10,
			BytesFromOrigin: i * i,
		}
	}
	type want struct{ send, receive, egress float64 }
	check := func(step string, w want) {
		t.Helper()
		got := m.Latest()
		if !near(got.SendRate, w.send) || !near(got.ReceiveRate, w.receive) || !near(got.EgressMultiple, w.egress) {
			t.Errorf("%s: send %v receive %v egress %v, want %v %v %v",
				step, got.SendRate, got.ReceiveRate, got.EgressMultiple, w.send, w.receive, w.egress)
		}
	}

	m.sample(at(0), snapAt(0))
	check("first sample", want{0, 0, 0})

	m.sample(at(1), snapAt(1))
	check("one second", want{1000, 111, 1000 * 8 / 2e6})

	for i := 2; i <= 7; i++ {
		m.sample(at(i), snapAt(int64(i)))
	}
	// Against t=2, the oldest sample not older than the window: (49-4)/5 kB/s.
	check("full window", want{9000, 999, 9000 * 8 / 2e6})

	// The source failed for a while: every sample is older than the window, so the
	// newest one (t=7) is the base.
	m.sample(at(20), snapAt(20))
	check("after a gap", want{(400_000 - 49_000) / 13.0, (44_400 - 5_439) / 13.0, (400_000 - 49_000) / 13.0 * 8 / 2e6})
}

func TestMonitorRatesNeverNegative(t *testing.T) {
	m := NewMonitor(nil, 0)
	m.sample(at(0), Snapshot{BytesSent: 5000, BytesFromPeers: 5000})
	m.sample(at(1), Snapshot{BytesSent: 1000, BytesFromPeers: 1000}) // counters reset
	if s := m.Latest(); s.SendRate != 0 || s.ReceiveRate != 0 {
		t.Errorf("after a reset: send %v receive %v, want 0 0", s.SendRate, s.ReceiveRate)
	}
	m.sample(at(-10), Snapshot{BytesSent: 9000, BytesFromPeers: 9000}) // clock went back
	if s := m.Latest(); s.SendRate != 0 || s.ReceiveRate != 0 {
		t.Errorf("clock went back: send %v receive %v, want 0 0", s.SendRate, s.ReceiveRate)
	}
}

func TestMonitorNoEgressWithoutBitrate(t *testing.T) {
	m := NewMonitor(nil, time.Second)
	m.sample(at(0), Snapshot{Role: "seeder"})
	m.sample(at(1), Snapshot{Role: "seeder", BytesSent: 1 << 20})
	if s := m.Latest(); s.SendRate != 1<<20 || s.EgressMultiple != 0 {
		t.Errorf("send %v egress %v, want %v 0", s.SendRate, s.EgressMultiple, 1<<20)
	}
}

func TestMonitorRingIsBounded(t *testing.T) {
	m := NewMonitor(nil, 1000*time.Hour)
	if n := len(m.history.buf); n != maxSamples {
		t.Fatalf("ring holds %d samples, want %d", n, maxSamples)
	}
	for i := range 3 * maxSamples {
		m.sample(at(i), Snapshot{BytesSent: int64(i) * 10})
	}
	if m.history.n != maxSamples {
		t.Errorf("ring has %d samples, want %d", m.history.n, maxSamples)
	}
	if s := m.Latest(); s.SendRate != 10 {
		t.Errorf("send rate %v, want 10", s.SendRate)
	}
}

func TestMonitorLatestIsACopy(t *testing.T) {
	m := NewMonitor(nil, 0)
	src := leecherSnapshot()
	m.sample(at(0), src)
	src.Propagation.Counts[0] = 999 // the source reuses its arrays
	got := m.Latest()
	got.Propagation.Bounds[0] = 0 // and so does a caller
	again := m.Latest()
	if again.Propagation.Counts[0] != 10 || again.Propagation.Bounds[0] != 100*time.Millisecond {
		t.Errorf("stored histogram changed: %+v", again.Propagation)
	}
}

func TestMonitorSkipsFailedSample(t *testing.T) {
	fail := false
	m := NewMonitor(func(context.Context) (Snapshot, error) {
		if fail {
			return Snapshot{Role: "broken"}, errors.New("node gone")
		}
		return leecherSnapshot(), nil
	}, 0)
	m.now = func() time.Time { return epoch }
	m.poll(context.Background())
	fail = true
	m.poll(context.Background())
	if got := m.Latest(); got.Role != "leecher" || m.history.n != 1 {
		t.Errorf("after a failed sample: role %q, %d samples; want the earlier snapshot, 1 sample", got.Role, m.history.n)
	}
}

func TestMonitorRun(t *testing.T) {
	m := NewMonitor(func(context.Context) (Snapshot, error) { return leecherSnapshot(), nil }, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()

	// Run samples at once, without waiting for the first tick.
	deadline := time.Now().Add(5 * time.Second)
	for m.Latest().Role == "" {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot after 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if got := m.Latest(); got.Peers != 7 || got.Name != "Test <b>channel</b>" {
		t.Errorf("latest = %+v", got)
	}
}
