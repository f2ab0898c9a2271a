package sim

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/livetorrent/livetorrent/internal/bench"
	"github.com/livetorrent/livetorrent/internal/status"
	"github.com/livetorrent/livetorrent/livetorrent"
)

// totals are viewers' counters added up.
type totals struct {
	fromPeers, fromSeeder, fromOrigin              int64
	segments, stalls, skipped                      int64
	stallTime                                      time.Duration
	prop                                           [len(livetorrent.PropagationBounds) + 1]int64
	propSum                                        time.Duration
	requests, dups, wasted, downloaded             int64
	fetches, cancels, timeouts, closes, idleCloses int64
}

func (t *totals) add(st *livetorrent.Stats) {
	t.fromPeers += st.VerifiedFromPeers
	t.fromSeeder += st.VerifiedFromSeeder
	t.fromOrigin += st.BytesFromOrigin
	t.segments += st.SegmentsDelivered
	t.stalls += st.Stalls
	t.skipped += st.SegmentsSkipped
	t.stallTime += st.StallTime
	for i, c := range st.Propagation {
		t.prop[i] += c
	}
	t.propSum += st.PropagationSum
	t.requests += st.RequestsSent
	t.dups += st.DuplicateRequests
	t.wasted += st.BytesWasted
	t.downloaded += st.BytesDownloaded
	t.fetches += st.OriginFetches
	t.cancels += st.OriginCancels
	t.timeouts += st.RequestTimeouts
	t.closes += st.Closes
	t.idleCloses += st.IdleCloses
}

func (t *totals) received() int64 { return t.fromPeers + t.fromSeeder + t.fromOrigin }

func (t *totals) histogram() status.Histogram {
	return status.Histogram{Bounds: livetorrent.PropagationBounds[:], Counts: slices.Clone(t.prop[:]), Sum: t.propSum}
}

// point is the deterministic state of the run at a sample: what the golden summary and
// the report's samples are computed from.
type point struct {
	t        vtime
	viewers  int
	upCap    float64 // uplinks of the seeder and the viewers present, bytes/s
	tot      totals
	seeder   int64 // DATA bytes the seeder uploaded
	origin   int64 // bytes the origin served: the seeder's ingest and fallback fetches
	events   int64
	cpu      time.Duration
	cpuOK    bool
	heapMiB  float64
	wallTime time.Duration
}

type metrics struct {
	departed totals // frozen figures of viewers that left
	points   []point
	peak     int
}

func (m *metrics) depart(n *node) { m.departed.add(&n.final.stats) }

// sample records the state at t (between windows).
func (s *Sim) sample(t vtime) {
	p := point{t: t, viewers: len(s.present), tot: s.metrics.departed, wallTime: time.Since(s.started)}
	seeder := s.nodes[seederID]
	p.upCap = seeder.upCap
	for _, id := range s.present {
		n := s.nodes[id]
		st := n.sw.Stats()
		p.tot.add(&st)
		p.upCap += n.upCap
	}
	p.seeder = seeder.sw.Stats().BytesUploaded
	p.origin = s.nodes[originID].originBytes + s.str.ingested
	for _, n := range s.nodes {
		p.events += n.handled
	}
	p.cpu, p.cpuOK = bench.ProcessCPU()
	if p.viewers > 0 {
		p.heapMiB = bench.HeapBytes() / (1 << 20) / float64(p.viewers)
	}
	s.metrics.peak = max(s.metrics.peak, p.viewers)
	s.metrics.points = append(s.metrics.points, p)
}

func (s *Sim) printProgress(w io.Writer) {
	pts := s.metrics.points
	p := pts[len(pts)-1]
	q := pts[max(0, len(pts)-11)]
	sec := float64(p.t-q.t) / 1e9
	rate := func(a, b int64) float64 { return bench.Multiple(float64(a-b)/sec, s.sc.Bitrate) }
	wall := (p.wallTime - q.wallTime).Seconds()
	fmt.Fprintf(w, "%6.0fs  viewers %5d  seeder %5.2fx  origin fallback %5.2fx  from peers %5.1f%%  stalls %d  events %.3g (%.0f/s)  %.2fx real time\n",
		float64(p.t)/1e9, p.viewers, rate(p.seeder, q.seeder), rate(p.tot.fromOrigin, q.tot.fromOrigin),
		100*bench.Ratio(p.tot.fromPeers-q.tot.fromPeers, p.tot.received()-q.tot.received()), p.tot.stalls,
		float64(p.events), float64(p.events-q.events)/max(wall, 1e-9), sec/max(wall, 1e-9))
}

// Result is a finished run: the benchmark-shaped report and the figures the golden
// summary is made of.
type Result struct {
	Report *bench.Report
	Events int64         // events given to engine cores
	Wall   time.Duration // the run's wall-clock time
	// Simulated is the virtual time covered.
	Simulated time.Duration

	sc       *Scenario
	points   []point
	joined   int
	left     int
	cut      int
	upDemand float64 // mean over the second half: uplinks / what the viewers present need
}

// samples turns the points into the benchmark's samples.
func (s *Sim) samples() []bench.Sample {
	pts := s.metrics.points
	var out []bench.Sample
	for i := 1; i < len(pts); i++ {
		p, q := pts[i], pts[i-1]
		dt := float64(p.t-q.t) / 1e9
		b := s.sc.Bitrate
		sm := bench.Sample{T: float64(p.t) / 1e9, Viewers: p.viewers,
			SeederBps: float64(p.seeder-q.seeder) / dt, FallbackBps: float64(p.tot.fromOrigin-q.tot.fromOrigin) / dt,
			SwarmOriginBps: float64(p.origin-q.origin) / dt, BaselineBps: float64(p.tot.received()-q.tot.received()) / dt,
			ShareFromPeers:      bench.Ratio(p.tot.fromPeers-q.tot.fromPeers, p.tot.received()-q.tot.received()),
			ShareFromPeersTotal: bench.Ratio(p.tot.fromPeers, p.tot.received()),
			SegmentsPlayed:      p.tot.segments, Stalls: p.tot.stalls, HeapMiBPerViewer: p.heapMiB,
			SeederSent: p.seeder, FromPeers: p.tot.fromPeers, FromSeeder: p.tot.fromSeeder, FromOrigin: p.tot.fromOrigin,
			SwarmOriginServed: p.origin, BaselineServed: p.tot.received()}
		sm.SeederX, sm.FallbackX = bench.Multiple(sm.SeederBps, b), bench.Multiple(sm.FallbackBps, b)
		sm.SwarmOriginX, sm.BaselineX = bench.Multiple(sm.SwarmOriginBps, b), bench.Multiple(sm.BaselineBps, b)
		if p.cpuOK && q.cpuOK && p.viewers > 0 {
			// The simulator's cost: the share of a core that simulating one viewer in real
			// time would take.
			sm.CPUPercentPerViewer = 100 * (p.cpu - q.cpu).Seconds() / dt / float64(p.viewers)
		}
		out = append(out, sm)
	}
	return out
}

func (s *Sim) result() *Result {
	sc := s.sc
	pts := s.metrics.points
	last := pts[len(pts)-1]
	r := &Result{Events: last.events, Wall: time.Since(s.started), Simulated: time.Duration(last.t), sc: sc, points: pts,
		joined: s.joined}
	sm := s.samples()
	rep := &bench.Report{Config: bench.ReportConfig{Viewers: s.metrics.peak, DurationS: sc.Duration.Seconds(), Scenario: sc.Name,
		Profile: sc.Profile, Source: bench.SourceSimulation, BitrateBps: sc.Bitrate,
		SeederUpload: fmt.Sprintf("%gx", sc.SeederUp), SeederUploadBps: int(sc.SeederUp * sc.Bitrate / 8), Seed: sc.Seed},
		Samples: sm}
	if sc.Profile == ProfileUniform {
		rep.Config.LeecherUpload = fmt.Sprintf("%gx", sc.UniformUp)
	}
	var hists []status.Histogram
	sum := bench.Summary{Viewers: s.metrics.peak, ViewersTotal: s.joined, DurationS: sc.Duration.Seconds(),
		BitrateBps: sc.Bitrate, Source: bench.SourceSimulation}
	for _, n := range s.nodes[seederID+1:] {
		f := n.final
		if !n.gone {
			f = figuresOf(n.sw)
		} else {
			r.left++
		}
		st := &f.stats
		if n.cut {
			r.cut++
		}
		vr := bench.ViewerResult{ID: int(n.id - seederID - 1), JoinS: float64(n.joinAt) / 1e9, UploadCap: int(n.upCap),
			DownloadCap: int(sc.DownUp * sc.Bitrate / 8), RouteCut: n.cut, Joined: true,
			Swarm: bench.SwarmViewer{Segments: st.SegmentsDelivered, Stalls: st.Stalls, StallS: st.StallTime.Seconds(),
				StartupS: st.StartupDelay.Seconds(), Skipped: st.SegmentsSkipped, FromPeers: st.VerifiedFromPeers, FromSeeder: st.VerifiedFromSeeder,
				FromOrigin: st.BytesFromOrigin, Sent: st.BytesUploaded, Peers: st.Peers,
				BufferS: f.buffer.Seconds(), BehindLiveS: f.behind.Seconds(),
				Requests: st.RequestsSent, Refused: st.RejectsReceived, Duplicates: st.DuplicateRequests, Wasted: st.BytesWasted}}
		if n.gone {
			vr.LeaveS = float64(n.leaveAt) / 1e9
		}
		var t totals
		t.add(st)
		hists = append(hists, t.histogram())
		sum.SwarmSegments += st.SegmentsDelivered
		sum.SwarmStalls += st.Stalls
		sum.SwarmViewersStalled += b2i(st.Stalls > 0)
		sum.SwarmNeverPlayed += b2i(st.SegmentsDelivered == 0)
		rep.Viewers = append(rep.Viewers, vr)
	}
	sum.Startup, sum.Requests = bench.StartupOf(rep.Viewers), bench.RequestsOf(rep.Viewers)
	rep.Propagation = bench.MergeHistograms(hists)
	mid := pts[0]
	if len(sm) > 0 {
		mid = pts[bench.MidSample(sm)+1]
	}
	rep.PropagationSecondHalf = bench.SubtractHistogram(rep.Propagation, mid.tot.histogram())
	sum.Propagation, sum.PropagationAll = bench.PercentilesOf(rep.PropagationSecondHalf), bench.PercentilesOf(rep.Propagation)
	sum.ShareFromPeers = bench.Ratio(last.tot.fromPeers, last.tot.received())
	sum.ShareFromPeersSecondHalf = bench.SecondHalfShare(sm)
	sum.SeederEgressX = bench.SecondHalfMultiple(sm, func(s bench.Sample) int64 { return s.SeederSent }, sc.Bitrate)
	sum.SwarmOriginFallbackX = bench.SecondHalfMultiple(sm, func(s bench.Sample) int64 { return s.FromOrigin }, sc.Bitrate)
	sum.SwarmOriginX = bench.SecondHalfMultiple(sm, func(s bench.Sample) int64 { return s.SwarmOriginServed }, sc.Bitrate)
	sum.BaselineOriginX = bench.SecondHalfMultiple(sm, func(s bench.Sample) int64 { return s.BaselineServed }, sc.Bitrate)
	if last.cpuOK {
		cpu := bench.SecondHalfMean(sm, func(s bench.Sample) float64 { return s.CPUPercentPerViewer })
		sum.CPUPercentPerViewer = &cpu
	}
	sum.HeapMiBPerViewer = bench.SecondHalfMean(sm, func(s bench.Sample) float64 { return s.HeapMiBPerViewer })
	sum.ResourcesNote = "simulator cost, not a viewer's: the simulator's CPU per simulated second and its heap, " +
		"divided by the viewers present, averaged over the second half; CPU is % of one core"
	r.upDemand = s.uploadOverDemand()
	sum.Targets = targets(sum, r.upDemand)
	rep.Summary = sum
	rep.Notes = append(rep.Notes,
		"simulated in virtual time: real engine cores without payload (nothing is hashed or verified), a modelled network",
		"HTTP-only baseline modelled, not run: its origin would send every byte the viewers received",
		fmt.Sprintf("%d events in %.1f s wall (%.0f events/s, %.2fx real time)", r.Events, r.Wall.Seconds(),
			float64(r.Events)/r.Wall.Seconds(), r.Simulated.Seconds()/r.Wall.Seconds()))
	r.Report = rep
	return r
}

// uploadOverDemand is the uplink capacity of the seeder and the viewers present over what
// the viewers present need, averaged over the second half.
func (s *Sim) uploadOverDemand() float64 {
	pts := s.metrics.points
	var sum float64
	var n int
	for _, p := range pts[len(pts)/2:] {
		if p.viewers > 0 {
			sum += p.upCap / (float64(p.viewers) * s.sc.Bitrate / 8)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Targets of the simulated swarm (the issue's, for 10,000 viewers).
const (
	targetSeederX    = 1.2
	targetShare      = 0.99
	targetSpareUp    = 1.2
	targetPropagateP = time.Second
)

func targets(s bench.Summary, upDemand float64) []bench.Target {
	stalls := bench.Target{Name: fmt.Sprintf("stalls where upload > %.1fx demand", targetSpareUp), Want: "0",
		Got: fmt.Sprintf("%d (%d never played), upload %.2fx demand", s.SwarmStalls, s.SwarmNeverPlayed, upDemand)}
	if upDemand > targetSpareUp {
		stalls.Met = s.SwarmStalls == 0 && s.SwarmNeverPlayed == 0
	} else {
		stalls.Got = fmt.Sprintf("not applicable: upload %.2fx demand (%d stalls)", upDemand, s.SwarmStalls)
		stalls.Met = true
	}
	return []bench.Target{
		{Name: "seeder egress", Want: fmt.Sprintf("<= %.1fx", targetSeederX), Got: fmt.Sprintf("%.2fx", s.SeederEgressX),
			Met: s.SeederEgressX <= targetSeederX},
		{Name: "share from peers", Want: fmt.Sprintf(">= %.0f%%", 100*targetShare), Got: fmt.Sprintf("%.1f%%", 100*s.ShareFromPeers),
			Met: s.ShareFromPeers >= targetShare},
		stalls,
		{Name: "propagation p95 (second half)", Want: fmt.Sprintf("< %.0f ms", float64(targetPropagateP)/1e6),
			Got: fmt.Sprintf("%.0f ms", s.Propagation.P95Ms), Met: s.Propagation.Segments > 0 && s.Propagation.P95Ms < float64(targetPropagateP)/1e6},
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
