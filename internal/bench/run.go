package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/livetorrent/livetorrent/internal/app"
	"github.com/livetorrent/livetorrent/internal/status"
)

// Origin sources.
const (
	SourceSample = "sample" // the bundled sample, looped
	SourceFFmpeg = "ffmpeg" // a live ffmpeg encode
)

// runner holds one run's state. Only the goroutine in Run touches it, apart from the
// fields noted.
type runner struct {
	cfg     Config
	source  string
	bitrate float64 // bits/s of the stream, measured from the origin's segments
	slots   []slot

	swarmOrigin    *origin // the seeder's source and the viewers' fallback
	baselineOrigin *origin // the plain HLS clients' origin
	baselineURL    string
	enc            *encoder
	tmpDir         string

	seeder    *app.Seeder
	link      string
	seederRun *task
	seederErr atomic.Pointer[error] // set by the seeder's goroutine
	abort     context.CancelFunc    // ends the run early; safe from any goroutine

	viewers []*viewer         // by slot; nil before its join
	clients []*baselineClient // by slot

	started     time.Time
	samples     []Sample
	prev        totals
	propagation []status.Histogram // the viewers' merged propagation at each sample
}

// Run performs one benchmark, prints the summary table to cfg.Out and writes the report
// and charts into cfg.OutDir. It stops after cfg.Duration, or early when ctx ends (the
// report then covers what was measured), and leaves nothing running.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg}
	ctx, abort := context.WithCancel(ctx)
	defer abort()
	r.abort = abort
	defer r.closeOrigin()
	if err := r.openOrigin(ctx); err != nil {
		return nil, err
	}
	r.slots = plan(cfg, r.bitrate)
	r.viewers = make([]*viewer, len(r.slots))
	r.clients = make([]*baselineClient, len(r.slots))
	fmt.Fprintf(cfg.Out, "bench: %s, %d viewers, %v, %s origin at %.0f kbit/s, profile %s, seed %d\n",
		cfg.Scenario, cfg.Viewers, cfg.Duration, r.source, r.bitrate/1000, cfg.Profile, cfg.Seed)
	loopSample := r.source == SourceSample
	if err := r.startSeeder(ctx, r.swarmOrigin.URL+"index.m3u8", loopSample); err != nil {
		return nil, err
	}
	runErr := r.loop(ctx)
	stopErr := r.stopAll()
	if p := r.seederErr.Load(); p != nil {
		return nil, fmt.Errorf("seeder: %w", *p)
	}
	if runErr != nil {
		return nil, runErr
	}
	rep := r.report(ctx.Err() != nil)
	if stopErr != nil {
		rep.Warnings = append(rep.Warnings, stopErr.Error())
	}
	for i, v := range r.viewers {
		if v != nil && v.run.finished() && v.err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("viewer %d: %v", r.slots[i].ID, v.err))
		}
	}
	if err := writeReport(rep, cfg); err != nil {
		return rep, err
	}
	printSummary(cfg.Out, rep)
	return rep, nil
}

// openOrigin starts the two origins: both serve the same stream, each counts its own bytes.
func (r *runner) openOrigin(ctx context.Context) error {
	var err error
	if r.cfg.BitrateBps == 0 {
		r.source = SourceSample
		index := filepath.Join(r.cfg.SampleDir, "index.m3u8")
		pl, sizes, err := readLocalPlaylist(index)
		if err != nil {
			return fmt.Errorf("sample: %w (run from the repository root, or give --sample)", err)
		}
		r.bitrate = measuredBitrate(pl.Entries, sizes)
		// The seeder loops the finished playlist itself; the baseline needs an origin that
		// does the looping, on the same timeline.
		loop, err := newLoopedStream(index, encodeListSize)
		if err != nil {
			return fmt.Errorf("sample: %w", err)
		}
		if r.swarmOrigin, err = startOrigin(fileHandler(r.cfg.SampleDir)); err != nil {
			return err
		}
		if r.baselineOrigin, err = startOrigin(loop); err != nil {
			return err
		}
		r.baselineURL = r.baselineOrigin.URL + "live.m3u8"
		return nil
	}
	r.source = SourceFFmpeg
	program := r.cfg.FFmpeg
	if program == "" {
		if program, err = exec.LookPath("ffmpeg"); err != nil {
			return errors.New("--bitrate needs ffmpeg in PATH; without it only the bundled sample's bitrate (about 240 kbit/s) is available: leave --bitrate out")
		}
	}
	if r.tmpDir, err = os.MkdirTemp("", "livetorrent-bench-"); err != nil {
		return fmt.Errorf("encoder folder: %w", err)
	}
	// ffmpeg runs longer than the run so the stream never ends inside it; it is killed when
	// the run ends.
	if r.enc, err = startEncoder(ctx, program, r.tmpDir, r.cfg.BitrateBps, r.cfg.Duration+5*time.Minute); err != nil {
		return err
	}
	// The first segment can be larger (the encoder's start-up); measure the next two.
	pl, sizes, err := r.enc.waitSegments(ctx, r.tmpDir, 3, 30*time.Second)
	if err != nil {
		return err
	}
	r.bitrate = measuredBitrate(pl.Entries[1:], sizes[1:])
	if r.swarmOrigin, err = startOrigin(fileHandler(r.tmpDir)); err != nil {
		return err
	}
	if r.baselineOrigin, err = startOrigin(fileHandler(r.tmpDir)); err != nil {
		return err
	}
	r.baselineURL = r.baselineOrigin.URL + "index.m3u8"
	return nil
}

// closeOrigin stops the origins and the encoder and removes the encoder's folder.
func (r *runner) closeOrigin() {
	for _, o := range []*origin{r.swarmOrigin, r.baselineOrigin} {
		if o != nil {
			o.close()
		}
	}
	if r.enc != nil {
		r.enc.stop()
	}
	if r.tmpDir != "" {
		os.RemoveAll(r.tmpDir)
	}
}

// loop runs the schedule and samples once a second until the duration has passed or ctx
// ends.
func (r *runner) loop(ctx context.Context) error {
	evs := events(r.slots)
	r.started = time.Now()
	r.prev.cpu, r.prev.cpuOK = processCPU() // so that the first sample has a CPU figure
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	next := time.NewTimer(0)
	defer next.Stop()
	lastProgress := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-next.C:
			for len(evs) > 0 && evs[0].At <= time.Since(r.started) {
				if err := r.apply(ctx, evs[0]); err != nil {
					return err
				}
				evs = evs[1:]
			}
			if len(evs) > 0 {
				next.Reset(time.Until(r.started.Add(evs[0].At)))
			}
		case <-tick.C:
			elapsed := r.sample()
			if elapsed-lastProgress >= r.cfg.Progress-time.Second/2 {
				lastProgress = elapsed
				printProgress(r.cfg.Out, r.samples, r.cfg.Progress.Seconds(), r.bitrate)
			}
			if elapsed >= r.cfg.Duration-time.Second/2 {
				return nil
			}
		}
	}
}

func (r *runner) apply(ctx context.Context, e event) error {
	if e.Leave {
		r.leave(e.Slot)
		return nil
	}
	if err := r.startViewer(ctx, e.Slot); err != nil {
		return err
	}
	return r.startClient(ctx, e.Slot)
}
