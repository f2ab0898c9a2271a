package app

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// The seeder process restarts with the same key on the same address. The viewers (peers
// only: no origin) reconnect, accept the restarted seeder's new records (fresh piece numbers,
// a newer descriptor) and receive its segments within two segment durations, with no stall.
func TestSeederRestartRecovers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	originURL := sampleOrigin(t)
	cfg := SeederConfig{Key: prototest.Key("restart"), PieceFile: filepath.Join(t.TempDir(), "restart.pieces")}
	sctx, scancel := context.WithCancel(ctx)
	first, firstDone := runSeeder(t, sctx, originURL, cfg)
	listen := first.Node.Addr().String()
	var viewers []*Leecher
	for range 2 {
		viewers = append(viewers, startLeecher(t, ctx, &wg, LeecherConfig{Link: first.Link().String(), NoOrigin: true}))
	}
	for _, v := range viewers {
		waitPlayed(ctx, v, 3)
	}
	const target = 2 * time.Second // the sample's target duration

	scancel()
	<-firstDone
	restart := time.Now()
	var second *Seeder
	for second == nil { // the old listener may take a moment to go
		if l, err := net.Listen("tcp", listen); err == nil {
			l.Close()
			cfg.Listen = listen
			second, _ = runSeeder(t, ctx, originURL, cfg)
		} else if time.Since(restart) > 5*time.Second {
			t.Fatalf("the seeder's address stays busy: %v", err)
		}
	}

	// A viewer has recovered once it holds a segment the restarted seeder published after
	// the restart (what it publishes at once is its backlog: media the viewers hold). The
	// wait for the next segment is the origin's pace, not the viewers' recovery, so the
	// bound applies from that segment's publication.
	recovered := make([]time.Time, len(viewers))
	published := make([]time.Time, len(viewers))
	for poll := time.Now(); time.Since(restart) < 20*time.Second; poll = time.Now() {
		done := true
		for i, v := range viewers {
			st := coreStats(ctx, v.Node)
			if recovered[i].IsZero() && st.NewestPublished.After(restart) {
				recovered[i], published[i] = poll, st.NewestPublished
			}
			done = done && !recovered[i].IsZero()
		}
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, v := range viewers {
		waitPlayed(ctx, v, nodeStats(ctx, v.Node).Delivered+2)
	}
	for i, v := range viewers {
		s := snapshot(t, ctx, v)
		st := coreStats(ctx, v.Node)
		if recovered[i].IsZero() {
			t.Fatalf("viewer %d holds nothing the restarted seeder published", i)
		}
		took := recovered[i].Sub(published[i])
		t.Logf("viewer %d: the restarted seeder's first new segment %v after the restart, held %v after its publication; %d segments played, %d stalls, %d skipped, %d duplicate records",
			i, recovered[i].Sub(restart).Round(time.Millisecond), took.Round(time.Millisecond), s.SegmentsPlayed, s.Stalls, s.SegmentsSkipped, st.DuplicateSegments)
		if took > 2*target {
			t.Errorf("viewer %d: recovered %v after the restarted seeder's first new segment, want within two segment durations (%v)", i, took, 2*target)
		}
		if s.Stalls != 0 || s.SegmentsSkipped != 0 {
			t.Errorf("viewer %d: %d stalls, %d skipped across the restart", i, s.Stalls, s.SegmentsSkipped)
		}
	}
	if d := second.Node.Addr().String(); d != listen {
		t.Fatalf("the restarted seeder listens on %s, not %s", d, listen)
	}
}
