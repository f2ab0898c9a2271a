package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// printSummary writes the summary as a table: the swarm and the baseline side by side, and
// the design targets with whether the run met them.
func printSummary(w io.Writer, rep *Report) {
	s := rep.Summary
	fmt.Fprintf(w, "\nLiveTorrent bench: %s, %d viewers (%d in all), %.0f s, %s origin at %.0f kbit/s, profile %s, seed %d",
		rep.Config.Scenario, s.Viewers, s.ViewersTotal, s.DurationS, s.Source, s.BitrateBps/1000, rep.Config.Profile, rep.Config.Seed)
	if d := rep.Config.StartupDelayS; d > 0 {
		fmt.Fprintf(w, ", viewers' startup delay %g s", d)
	}
	if s.Interrupted {
		fmt.Fprint(w, " (interrupted)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tLiveTorrent swarm\tHTTP-only baseline")
	fmt.Fprintf(tw, "egress, x bitrate (second half)\tseeder %.2fx + origin fallback %.2fx\torigin %.2fx\n",
		s.SeederEgressX, s.SwarmOriginFallbackX, s.BaselineOriginX)
	fmt.Fprintf(tw, "origin server egress (incl. seeder ingest)\t%.2fx\t%.2fx\n", s.SwarmOriginX, s.BaselineOriginX)
	fmt.Fprintf(tw, "share from peers, whole run / second half\t%.1f%% / %.1f%%\t-\n", 100*s.ShareFromPeers, 100*s.ShareFromPeersSecondHalf)
	fmt.Fprintf(tw, "segments played\t%d\t%d\n", s.SwarmSegments, s.BaselineSegments)
	fmt.Fprintf(tw, "stalls (viewers with a stall)\t%d (%d)\t%d (%d)\n", s.SwarmStalls, s.SwarmViewersStalled, s.BaselineStalls, s.BaselineStalled)
	fmt.Fprintf(tw, "viewers that never played\t%d\t%d\n", s.SwarmNeverPlayed, s.BaselineNeverPlayed)
	fmt.Fprintf(tw, "startup p50 / p95 / max (tune-in to first segment played)\t%.1f / %.1f / %.1f s\t-\n", s.Startup.P50S, s.Startup.P95S, s.Startup.MaxS)
	rq := s.Requests
	fmt.Fprintf(tw, "block requests (refused, duplicated); bytes received but not needed\t%d (%.1f%%, %.1f%%); %.1f%%\t-\n",
		rq.Sent, 100*Ratio(rq.Refused, rq.Sent), 100*Ratio(rq.Duplicates, rq.Sent), 100*Ratio(rq.WastedBytes, rq.WastedBytes+rq.KeptBytes))
	for _, p := range []struct {
		name string
		p    Percentiles
	}{{"second half", s.Propagation}, {"whole run, with tune-in", s.PropagationAll}} {
		fmt.Fprintf(tw, "propagation p50 / p95 / p99, %s (%d segments)\t%.0f / %.0f / %.0f ms\t-\n",
			p.name, p.p.Segments, p.p.P50Ms, p.p.P95Ms, p.p.P99Ms)
	}
	cpu := "not measured"
	if s.CPUPercentPerViewer != nil {
		cpu = fmt.Sprintf("%.2f%% of a core", *s.CPUPercentPerViewer)
	}
	fmt.Fprintf(tw, "CPU per viewer (in-process estimate)\t%s\t(both sides together)\n", cpu)
	fmt.Fprintf(tw, "heap per viewer (in-process estimate)\t%.2f MiB\t(both sides together)\n", s.HeapMiBPerViewer)
	tw.Flush()

	fmt.Fprintln(w, "\ntargets")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range s.Targets {
		met := "no"
		if t.Met {
			met = "yes"
		}
		fmt.Fprintf(tw, "%s\twant %s\tgot %s\tmet: %s\n", t.Name, t.Want, t.Got, met)
	}
	tw.Flush()
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	for _, n := range rep.Warnings {
		fmt.Fprintln(w, "warning:", n)
	}
	if len(rep.Charts) > 0 {
		fmt.Fprintf(w, "charts: %v\n", rep.Charts)
	}
}
