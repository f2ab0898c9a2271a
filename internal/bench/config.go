package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livetorrent/livetorrent/internal/app"
	"github.com/livetorrent/livetorrent/internal/cliutil"
)

// Scenarios: how viewers join, leave and connect.
const (
	ScenarioFlash    = "flash"    // everyone joins within the first 10 s
	ScenarioSteady   = "steady"   // joins spread over the first 30% of the run
	ScenarioChurn    = "churn"    // a share of viewers leaves and as many join, periodically
	ScenarioRouteCut = "routecut" // a share of viewers reaches neither the seeder nor the origin
	ScenarioSlow     = "slow"     // every viewer uploads a quarter of the bitrate
)

// Profiles: how viewers' upload caps are drawn.
const (
	ProfileResidential = "residential" // 1-3x the bitrate, one viewer in ten near zero
	ProfileUniform     = "uniform"     // every viewer the same cap (Config.LeecherUpload)
)

// Scenarios lists the accepted scenario names, for help texts.
func Scenarios() []string {
	return []string{ScenarioFlash, ScenarioSteady, ScenarioChurn, ScenarioRouteCut, ScenarioSlow}
}

// Profiles lists the accepted profile names.
func Profiles() []string { return []string{ProfileResidential, ProfileUniform} }

// Bitrates an ffmpeg origin can be asked for, in bits/s.
const (
	MinBitrate = 1_000_000
	MaxBitrate = 25_000_000
)

// Config describes one benchmark run. Zero values take the defaults documented per field.
type Config struct {
	Viewers  int           // viewers and baseline clients at once, default 50
	Duration time.Duration // measured time, default 60 s
	Scenario string        // default flash
	Profile  string        // default residential
	// BitrateBps, when set (bits/s, MinBitrate to MaxBitrate), makes ffmpeg encode a live
	// origin at about that bitrate; 0 loops the bundled sample (about 240 kbit/s).
	BitrateBps    int
	SampleDir     string        // the bundled sample, default testdata/sample
	SeederUpload  Rate          // default 2x the bitrate
	PieceSize     uint32        // the seeder's piece size, a power of two; default the seeder's (16 KiB)
	LeecherUpload Rate          // profile uniform: every viewer's cap, default 1.5x
	StartupDelay  time.Duration // the viewers' leecher --startup-delay, default the leecher's (1 s)
	Churn         float64       // scenario churn: share of viewers replaced each period, default 0.2
	CutShare      float64       // scenario routecut: share of viewers with cut routes, default 0.25
	Seed          uint64        // seeds the draws of caps, join times and churn, default 1

	OutDir   string        // where the JSON and charts go, default bench-out
	JSONPath string        // default OutDir/bench.json
	Progress time.Duration // interval of the progress line, default 5 s
	Out      io.Writer     // progress lines and the summary table
	Logger   *slog.Logger  // the nodes' logs
	FFmpeg   string        // ffmpeg program, default looked up in PATH
}

// Rate is an upload cap: a multiple of the stream's bitrate, or a fixed rate in bytes/s.
// The zero Rate means "the default".
type Rate struct {
	Multiple    float64 // of the bitrate
	BytesPerSec int     // used when Multiple is 0
	Unlimited   bool
}

// ParseRate reads "2x" or "1.5x" (a multiple of the bitrate), a rate in bytes/s as the
// other commands take it ("500k", "2M"), or "0" for no cap.
func ParseRate(s string) (Rate, error) {
	t := strings.TrimSpace(s)
	if m, ok := strings.CutSuffix(strings.ToLower(t), "x"); ok {
		v, err := strconv.ParseFloat(m, 64)
		if err != nil || v <= 0 || v > 1000 {
			return Rate{}, fmt.Errorf("rate %q: want a positive multiple of the bitrate such as 1.5x", s)
		}
		return Rate{Multiple: v}, nil
	}
	n, err := cliutil.ParseRate(t)
	if err != nil {
		return Rate{}, err
	}
	if n == 0 {
		return Rate{Unlimited: true}, nil
	}
	return Rate{BytesPerSec: n}, nil
}

// bytesPerSec resolves the cap for a stream of bitrateBps bits/s; 0 means no cap.
func (r Rate) bytesPerSec(bitrateBps float64) int {
	switch {
	case r.Unlimited:
		return 0
	case r.Multiple > 0:
		return max(1, int(r.Multiple*bitrateBps/8))
	}
	return r.BytesPerSec
}

func (r Rate) String() string {
	switch {
	case r.Unlimited:
		return "unlimited"
	case r.Multiple > 0:
		return strconv.FormatFloat(r.Multiple, 'g', -1, 64) + "x"
	}
	return cliutil.FormatRate(float64(r.BytesPerSec))
}

func (r Rate) isZero() bool { return r == Rate{} }

// Normalize fills in the defaults and rejects what cannot run; Run calls it, and a command
// may call it first to tell a usage error from a failure.
func (c *Config) Normalize() error {
	if c.Viewers == 0 {
		c.Viewers = 50
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if c.Scenario == "" {
		c.Scenario = ScenarioFlash
	}
	if c.Profile == "" {
		c.Profile = ProfileResidential
	}
	if c.SampleDir == "" {
		c.SampleDir = filepath.Join("testdata", "sample")
	}
	if c.SeederUpload.isZero() {
		c.SeederUpload = Rate{Multiple: 2}
	}
	if c.LeecherUpload.isZero() {
		c.LeecherUpload = Rate{Multiple: 1.5}
	}
	if c.Churn == 0 {
		c.Churn = 0.2
	}
	if c.CutShare == 0 {
		c.CutShare = 0.25
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.OutDir == "" {
		c.OutDir = "bench-out"
	}
	if c.JSONPath == "" {
		c.JSONPath = filepath.Join(c.OutDir, "bench.json")
	}
	if c.Progress <= 0 {
		c.Progress = 5 * time.Second
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Viewers < 1 || c.Viewers > 1000:
		return fmt.Errorf("viewers %d: want 1 to 1000", c.Viewers)
	case c.Duration < 5*time.Second:
		return fmt.Errorf("duration %v: want at least 5s", c.Duration)
	case !slices.Contains(Scenarios(), c.Scenario):
		return fmt.Errorf("scenario %q: want one of %s", c.Scenario, strings.Join(Scenarios(), ", "))
	case !slices.Contains(Profiles(), c.Profile):
		return fmt.Errorf("profile %q: want one of %s", c.Profile, strings.Join(Profiles(), ", "))
	case c.BitrateBps != 0 && (c.BitrateBps < MinBitrate || c.BitrateBps > MaxBitrate):
		return fmt.Errorf("bitrate %d bit/s: want 1 to 25 Mbit/s (or none for the bundled sample)", c.BitrateBps)
	case c.Churn < 0 || c.Churn > 0.9:
		return fmt.Errorf("churn %v: want a share from 0 to 0.9", c.Churn)
	case c.CutShare < 0 || c.CutShare > 0.9:
		return fmt.Errorf("cut share %v: want a share from 0 to 0.9", c.CutShare)
	case c.Scenario == ScenarioRouteCut && c.Viewers < 3:
		return errors.New("scenario routecut needs at least 3 viewers: cut viewers play from the others")
	}
	return app.CheckStartupDelay(c.StartupDelay)
}
