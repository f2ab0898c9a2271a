package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/livetorrent/livetorrent/internal/status"
)

// Report is what a run writes as JSON: how it was set up, what it measured, and the summary.
type Report struct {
	Config  ReportConfig   `json:"config"`
	Samples []Sample       `json:"samples"`
	Viewers []ViewerResult `json:"viewers"`
	// Propagation of all viewers, merged (bounds and sum in ns): the whole run, and what
	// the second half added.
	Propagation           status.Histogram `json:"propagation"`
	PropagationSecondHalf status.Histogram `json:"propagation_second_half"`
	Summary               Summary          `json:"summary"`
	Charts                []string         `json:"charts"` // file names, beside the JSON
	Notes                 []string         `json:"notes,omitempty"`
	Warnings              []string         `json:"warnings,omitempty"`
}

// ReportConfig is the run's configuration, resolved (defaults filled in, caps in bytes/s).
type ReportConfig struct {
	Viewers         int     `json:"viewers"`
	DurationS       float64 `json:"duration_s"`
	Scenario        string  `json:"scenario"`
	Profile         string  `json:"profile"`
	Source          string  `json:"source"`
	BitrateAskedBps int     `json:"bitrate_asked_bps,omitempty"`
	BitrateBps      float64 `json:"bitrate_bps"` // measured from the origin's segments
	SeederUpload    string  `json:"seeder_upload"`
	SeederUploadBps int     `json:"seeder_upload_bytes_per_s"` // 0 = no cap
	LeecherUpload   string  `json:"leecher_upload,omitempty"`  // profile uniform
	Churn           float64 `json:"churn,omitempty"`
	ChurnPeriodS    float64 `json:"churn_period_s,omitempty"`
	CutShare        float64 `json:"cut_share,omitempty"`
	Seed            uint64  `json:"seed"`
	PieceSize       uint32  `json:"piece_size,omitempty"`      // 0: the seeder's default
	StartupDelayS   float64 `json:"startup_delay_s,omitempty"` // 0: the leecher's default
}

// ViewerResult is one slot: the LiveTorrent viewer and the baseline client that mirrors it.
type ViewerResult struct {
	ID          int         `json:"id"`
	JoinS       float64     `json:"join_s"`
	LeaveS      float64     `json:"leave_s,omitempty"`
	UploadCap   int         `json:"upload_cap_bytes_per_s"`
	DownloadCap int         `json:"download_cap_bytes_per_s"`
	RouteCut    bool        `json:"route_cut,omitempty"`
	Swarm       SwarmViewer `json:"swarm"`
	Baseline    clientStats `json:"baseline"`
	Joined      bool        `json:"joined"`
}

// SwarmViewer is a LiveTorrent viewer's final figures, from its status snapshot.
type SwarmViewer struct {
	Segments int64   `json:"segments"`
	Stalls   int64   `json:"stalls"`
	StallS   float64 `json:"stall_s"`
	StartupS float64 `json:"startup_s"` // tune-in to the first segment played (0: never played)
	// When the viewer was last read (the end of the run, or its departure): media ready
	// ahead of the playhead, and how far behind the live edge it played (a segment's
	// publication to its playback). Both 0 if it never played.
	BufferS     float64 `json:"buffer_s"`
	BehindLiveS float64 `json:"behind_live_s"`
	// Block requests sent, refused by peers and duplicated (see status.Snapshot), and the
	// bytes received that were not needed, out of all received from peers.
	Requests   int64 `json:"requests"`
	Refused    int64 `json:"requests_refused"`
	Duplicates int64 `json:"duplicate_requests"`
	Wasted     int64 `json:"wasted_bytes"`
	Skipped    int64 `json:"skipped"`
	FromPeers  int64 `json:"from_peers_bytes"`
	FromSeeder int64 `json:"from_seeder_bytes"`
	FromOrigin int64 `json:"from_origin_bytes"`
	Sent       int64 `json:"sent_bytes"`
	Peers      int   `json:"peers"`
}

// report assembles the report from the samples and the viewers' final figures.
func (r *runner) report(interrupted bool) *Report {
	cfg := r.cfg
	rep := &Report{Config: ReportConfig{Viewers: cfg.Viewers, DurationS: cfg.Duration.Seconds(), Scenario: cfg.Scenario,
		Profile: cfg.Profile, Source: r.source, BitrateAskedBps: cfg.BitrateBps, BitrateBps: r.bitrate,
		SeederUpload: cfg.SeederUpload.String(), SeederUploadBps: cfg.SeederUpload.bytesPerSec(r.bitrate), Seed: cfg.Seed, PieceSize: cfg.PieceSize,
		StartupDelayS: cfg.StartupDelay.Seconds()},
		Samples: r.samples}
	if cfg.Profile == ProfileUniform && cfg.Scenario != ScenarioSlow {
		rep.Config.LeecherUpload = cfg.LeecherUpload.String()
	}
	switch cfg.Scenario {
	case ScenarioChurn:
		rep.Config.Churn, rep.Config.ChurnPeriodS = cfg.Churn, churnPeriod(cfg.Duration).Seconds()
	case ScenarioRouteCut:
		rep.Config.CutShare = cfg.CutShare
		rep.Notes = append(rep.Notes, "route cut: cut viewers reach neither the seeder nor the origin; "+
			"the baseline clients in the same slots cannot reach their origin and play nothing")
	}
	var hists []status.Histogram
	sum := Summary{Viewers: cfg.Viewers, BitrateBps: r.bitrate, Source: r.source, Interrupted: interrupted}
	for i, s := range r.slots {
		vr := ViewerResult{ID: s.ID, JoinS: s.Join.Seconds(), LeaveS: s.Leave.Seconds(), UploadCap: s.UploadRate,
			DownloadCap: s.DownloadRate, RouteCut: s.Cut}
		if v := r.viewers[i]; v != nil {
			l := v.last
			vr.Joined = true
			vr.Swarm = SwarmViewer{Segments: l.SegmentsPlayed, Stalls: l.Stalls, StallS: l.StallTime.Seconds(),
				StartupS: l.StartupDelay.Seconds(), Skipped: l.SegmentsSkipped, FromPeers: l.BytesFromPeers, FromSeeder: l.BytesFromSeeder,
				FromOrigin: l.BytesFromOrigin, Sent: l.BytesSent, Peers: l.Peers,
				BufferS: l.BufferAhead.Seconds(), BehindLiveS: l.BehindLive.Seconds(),
				Requests: l.RequestsSent, Refused: l.RequestsRefused, Duplicates: l.DuplicateRequests, Wasted: l.BytesWasted}
			hists = append(hists, l.Propagation)
			sum.ViewersTotal++
			sum.SwarmSegments += l.SegmentsPlayed
			sum.SwarmStalls += l.Stalls
			sum.SwarmViewersStalled += b2i(l.Stalls > 0)
			sum.SwarmNeverPlayed += b2i(l.SegmentsPlayed == 0)
		}
		if c := r.clients[i]; c != nil {
			st := c.c.stats()
			vr.Baseline = st
			sum.BaselineSegments += st.Segments
			sum.BaselineStalls += st.Stalls
			sum.BaselineStalled += b2i(st.Stalls > 0)
			sum.BaselineNeverPlayed += b2i(st.Segments == 0)
		}
		rep.Viewers = append(rep.Viewers, vr)
	}
	sum.Startup, sum.Requests = StartupOf(rep.Viewers), RequestsOf(rep.Viewers)
	rep.Propagation = mergeHistograms(hists)
	if len(r.propagation) > 0 {
		rep.PropagationSecondHalf = subtractHistogram(rep.Propagation, r.propagation[midSample(r.samples)])
	}
	sum.Propagation, sum.PropagationAll = percentiles(rep.PropagationSecondHalf), percentiles(rep.Propagation)

	sm := r.samples
	if len(sm) > 0 {
		sum.DurationS = sm[len(sm)-1].T
		last := sm[len(sm)-1]
		sum.ShareFromPeers = share(last.FromPeers, last.FromSeeder, last.FromOrigin)
	}
	sum.ShareFromPeersSecondHalf = secondHalfShare(sm)
	sum.SeederEgressX = secondHalfMultiple(sm, func(s Sample) int64 { return s.SeederSent }, r.bitrate)
	sum.SwarmOriginFallbackX = secondHalfMultiple(sm, func(s Sample) int64 { return s.FromOrigin }, r.bitrate)
	sum.SwarmOriginX = secondHalfMultiple(sm, func(s Sample) int64 { return s.SwarmOriginServed }, r.bitrate)
	sum.BaselineOriginX = secondHalfMultiple(sm, func(s Sample) int64 { return s.BaselineServed }, r.bitrate)
	if _, ok := processCPU(); ok {
		cpu := secondHalfMean(sm, func(s Sample) float64 { return s.CPUPercentPerViewer })
		sum.CPUPercentPerViewer = &cpu
	}
	sum.HeapMiBPerViewer = secondHalfMean(sm, func(s Sample) float64 { return s.HeapMiBPerViewer })
	sum.ResourcesNote = "in-process estimate: the whole process (seeder, viewers, baseline clients, origins) " +
		"divided by the viewers running, averaged over the second half; CPU is % of one core"
	sum.Targets = checkTargets(sum)
	rep.Summary = sum
	return rep
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeReport writes the charts and the JSON report (which lists the charts) into place.
func writeReport(rep *Report, cfg Config) error {
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	for _, c := range charts(rep) {
		if err := os.WriteFile(filepath.Join(cfg.OutDir, c.file), c.svg, 0o644); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
		rep.Charts = append(rep.Charts, c.file)
	}
	if dir := filepath.Dir(cfg.JSONPath); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("JSON folder: %w", err)
		}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("JSON report: %w", err)
	}
	if err := os.WriteFile(cfg.JSONPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("JSON report: %w", err)
	}
	return nil
}
