package sim

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/livetorrent/livetorrent/internal/bench"
)

// Text is the run's summary and a line per interval: only virtual-time figures, so the
// same scenario gives the same text on any machine and with any worker count. The
// scenario tests compare it with a golden file, so that a change of the engine's policy
// shows as a reviewable difference.
func (r *Result) Text() string {
	var b strings.Builder
	sc, rep := r.sc, r.Report
	s := rep.Summary
	last := r.points[len(r.points)-1]
	fmt.Fprintf(&b, "scenario %s: %v of a %.0f kbit/s stream, %v segments, %d KiB pieces, seed %d\n",
		sc.Name, sc.Duration, sc.Bitrate/1000, sc.Segment, sc.Piece>>10, sc.Seed)
	fmt.Fprintf(&b, "viewers: %d at most, %d joined, %d left, %d cut; uplinks %.2fx demand (second half)\n",
		s.Viewers, r.joined, r.left, r.cut, r.upDemand)
	fmt.Fprintf(&b, "egress, second half: seeder %.2fx, origin fallback %.2fx, origin in all %.2fx (HTTP only %.2fx)\n",
		s.SeederEgressX, s.SwarmOriginFallbackX, s.SwarmOriginX, s.BaselineOriginX)
	t := last.tot
	fmt.Fprintf(&b, "bytes: from peers %.2f%%, seeder %.2f%%, origin %.2f%%; second half from peers %.2f%%\n",
		100*bench.Ratio(t.fromPeers, t.received()), 100*bench.Ratio(t.fromSeeder, t.received()), 100*bench.Ratio(t.fromOrigin, t.received()),
		100*r.Report.Summary.ShareFromPeersSecondHalf)
	fmt.Fprintf(&b, "playback: %d segments, %d stalls (%d viewers, %.1f s), %d skipped, %d never played; startup p50/p95/max %.1f/%.1f/%.1f s\n",
		s.SwarmSegments, s.SwarmStalls, s.SwarmViewersStalled, t.stallTime.Seconds(), t.skipped, s.SwarmNeverPlayed,
		s.Startup.P50S, s.Startup.P95S, s.Startup.MaxS)
	fmt.Fprintf(&b, "propagation p50/p95/p99: second half %.0f/%.0f/%.0f ms (%d), whole run %.0f/%.0f/%.0f ms (%d)\n",
		s.Propagation.P50Ms, s.Propagation.P95Ms, s.Propagation.P99Ms, s.Propagation.Segments,
		s.PropagationAll.P50Ms, s.PropagationAll.P95Ms, s.PropagationAll.P99Ms, s.PropagationAll.Segments)
	fmt.Fprintf(&b, "requests %d, duplicates %.1f%%, wasted %.1f%% of downloads, origin fetches %d (%d cancelled), timeouts %d, closes %d\n",
		t.requests, 100*bench.Ratio(t.dups, t.requests), 100*bench.Ratio(t.wasted, t.downloaded), t.fetches, t.cancels, t.timeouts, t.closes)
	fmt.Fprintf(&b, "engine events %d\n", r.Events)
	for _, tg := range s.Targets {
		met := "missed"
		if tg.Met {
			met = "met"
		}
		fmt.Fprintf(&b, "target %s: want %s, got %s: %s\n", tg.Name, tg.Want, tg.Got, met)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "t\tviewers\tseeder x\tfallback x\tfrom peers\tstalls\tsegments\tevents\t")
	every := intervalFor(sc.Duration)
	prev := r.points[0]
	for _, p := range r.points[1:] {
		if p.t%every != 0 && p != last {
			continue
		}
		sec := float64(p.t-prev.t) / 1e9
		x := func(a, b int64) float64 { return float64(a-b) / sec * 8 / sc.Bitrate }
		fmt.Fprintf(tw, "%.0fs\t%d\t%.2f\t%.2f\t%.1f%%\t%d\t%d\t%d\t\n", float64(p.t)/1e9, p.viewers,
			x(p.seeder, prev.seeder), x(p.tot.fromOrigin, prev.tot.fromOrigin),
			100*bench.Ratio(p.tot.fromPeers-prev.tot.fromPeers, p.tot.received()-prev.tot.received()),
			p.tot.stalls-prev.tot.stalls, p.tot.segments-prev.tot.segments, p.events-prev.events)
		prev = p
	}
	tw.Flush()
	return b.String()
}

// intervalFor picks the golden table's interval: about ten lines.
func intervalFor(d time.Duration) vtime {
	for _, iv := range []time.Duration{5, 10, 15, 30, 60, 120, 300, 600} {
		if d/(iv*time.Second) <= 12 {
			return vtime(iv * time.Second)
		}
	}
	return vtime(1200 * time.Second)
}

// PrintSummary writes the summary for a person: the golden text's figures, the
// simulator's speed and the targets.
func (r *Result) PrintSummary(w io.Writer) {
	io.WriteString(w, r.Text())
	fmt.Fprintf(w, "\nsimulator: %d events in %.1f s wall: %.0f events/s, %.2f simulated seconds per wall second\n",
		r.Events, r.Wall.Seconds(), float64(r.Events)/r.Wall.Seconds(), r.Simulated.Seconds()/r.Wall.Seconds())
	if c := r.Report.Summary.CPUPercentPerViewer; c != nil {
		fmt.Fprintf(w, "simulator cost per viewer: %.3f%% of a core, %.2f MiB of heap\n", *c, r.Report.Summary.HeapMiBPerViewer)
	}
}
