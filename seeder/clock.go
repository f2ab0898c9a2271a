package seeder

import (
	"context"
	"time"
)

// Clock is where the ingest reads the time and waits. Production uses SystemClock; tests
// use a stepped clock so reload and pacing schedules run fast and deterministically.
type Clock interface {
	Now() time.Time
	// Sleep waits for d (returning at once when d <= 0) or until ctx is done, whichever
	// comes first, and returns ctx.Err() in the latter case.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepUntil waits until t on clk.
func sleepUntil(ctx context.Context, clk Clock, t time.Time) error {
	return clk.Sleep(ctx, t.Sub(clk.Now()))
}
