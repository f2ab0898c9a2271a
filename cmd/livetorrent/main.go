// Command livetorrent holds the project's tools; "demo" runs a whole swarm on one machine,
// "bench" measures a swarm against plain HLS on one machine, "sim" simulates thousands of
// viewers in virtual time.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/livetorrent/livetorrent/internal/app"
	"github.com/livetorrent/livetorrent/internal/bench"
	"github.com/livetorrent/livetorrent/internal/cliutil"
	"github.com/livetorrent/livetorrent/leecher"
	"github.com/livetorrent/livetorrent/protocol"
)

func main() { cliutil.Main(newApp(os.Stdout, os.Stderr)) }

const env = "LIVETORRENT_"

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:   "livetorrent",
		Usage:  "LiveTorrent tools",
		Writer: stdout, ErrWriter: stderr,
		Commands: []*cli.Command{{
			Name:  "demo",
			Usage: "run a live stream through a seeder and several leechers on this machine (loopback only)",
			Description: `The bundled sample (testdata/sample, 12 s made by testdata/sample/make.sh) is served by
an HTTP origin on 127.0.0.1 and looped as a live stream by a seeder; leechers join it and swarm.
The first leecher serves the stream to players: open the printed URL in mpv, ffplay or VLC.

Examples:
   livetorrent demo
   livetorrent demo --leechers 8 --seeder-upload 60k --duration 1m`,
			Flags: append([]cli.Flag{
				&cli.StringFlag{Name: "sample", Value: "testdata/sample", Usage: "folder with a finished HLS stream (index.m3u8)", EnvVars: []string{env + "DEMO_SAMPLE"}},
				&cli.IntFlag{Name: "leechers", Value: 4, Usage: "number of viewers"},
				&cli.StringFlag{Name: "http", Value: leecher.DefaultListenAddr, Usage: "player address of the first viewer"},
				&cli.StringFlag{Name: "seeder-upload", Value: "0", Usage: "seeder upload cap in bytes/s; 0 = unlimited"},
				&cli.StringFlag{Name: "leecher-upload", Value: "0", Usage: "each viewer's upload cap in bytes/s; 0 = unlimited"},
				&cli.StringFlag{Name: "metrics", Usage: "serve the seeder's /metrics, /status.json and status page here (e.g. 127.0.0.1:9090); viewers get their own ports"},
				&cli.DurationFlag{Name: "duration", Usage: "stop after this long", DefaultText: "until Ctrl-C"},
			}, cliutil.LogFlags(env)...),
			Action: func(c *cli.Context) error {
				log, err := cliutil.Logger(c, stderr)
				if err != nil {
					return err
				}
				// The library reads zero leechers as "the default"; here it was typed.
				if n := c.Int("leechers"); n < 1 || n > app.MaxDemoLeechers {
					return cliutil.UsageError("--leechers %d: want 1 to %d", n, app.MaxDemoLeechers)
				}
				if d := c.Duration("duration"); d < 0 {
					return cliutil.UsageError("--duration %v: want a positive duration, or none to run until stopped", d)
				}
				su, err := cliutil.ParseRate(c.String("seeder-upload"))
				if err != nil {
					return err
				}
				lu, err := cliutil.ParseRate(c.String("leecher-upload"))
				if err != nil {
					return err
				}
				ctx, cancel := cliutil.SignalContext(c.Context)
				defer cancel()
				_, err = app.RunDemo(ctx, app.DemoConfig{SampleDir: c.String("sample"), Leechers: c.Int("leechers"),
					HTTPListen: c.String("http"), SeederUpload: su, LeecherUpload: lu, Duration: c.Duration("duration"),
					Every: 2 * time.Second, Out: stdout, Logger: log, Metrics: c.String("metrics")})
				return err
			},
		}, benchCommand(stdout, stderr), simCommand(stdout, stderr)},
	}
}

func benchCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure a LiveTorrent swarm against plain HLS from the origin, side by side on this machine (loopback only)",
		Description: `One seeder and N in-process viewers swarm a live stream over loopback TCP while N plain HLS
clients fetch the same stream from a second origin. Both origins count what they send. Figures
are sampled every second; at the end a table is printed and a JSON report and SVG charts are
written into --out. The origin is the bundled sample looped as live, or with --bitrate a live
ffmpeg encode (needs ffmpeg in PATH).

Scenarios: flash (all join within 10 s), steady (joins over the first 30% of the run), churn
(--churn of the viewers replaced every minute, or every third of a shorter run), routecut
(--cut-share of the viewers reach neither the seeder nor the origin), slow (every viewer
uploads 0.25x the bitrate). Profiles: residential (uploads 1-3x the bitrate, one viewer in ten
0.05x; downloads 10x), uniform (every viewer --leecher-upload).

Examples:
   livetorrent bench
   livetorrent bench --viewers 20 --duration 40s --scenario churn
   livetorrent bench --bitrate 5M --profile uniform --leecher-upload 1.2x`,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "viewers", Value: 50, Usage: "viewers (and as many baseline clients) at once"},
			&cli.DurationFlag{Name: "duration", Value: time.Minute, Usage: "how long to measure"},
			&cli.StringFlag{Name: "scenario", Value: bench.ScenarioFlash, Usage: strings.Join(bench.Scenarios(), ", ")},
			&cli.StringFlag{Name: "profile", Value: bench.ProfileResidential, Usage: strings.Join(bench.Profiles(), ", ")},
			&cli.StringFlag{Name: "bitrate", Usage: "encode a live ffmpeg origin at this bitrate in bits/s, 1M to 25M (default: the bundled sample)"},
			&cli.StringFlag{Name: "sample", Value: "testdata/sample", Usage: "folder with the bundled sample (index.m3u8)"},
			&cli.StringFlag{Name: "seeder-upload", Value: "2x", Usage: "seeder upload cap: a multiple of the bitrate (2x), bytes/s (500k), or 0 for none"},
			&cli.StringFlag{Name: "leecher-upload", Value: "1.5x", Usage: "every viewer's upload cap with --profile uniform"},
			&cli.Float64Flag{Name: "churn", Value: 0.2, Usage: "scenario churn: share of viewers replaced each period"},
			&cli.Float64Flag{Name: "cut-share", Value: 0.25, Usage: "scenario routecut: share of viewers whose routes are cut"},
			&cli.StringFlag{Name: "piece-size", Usage: "the seeder's piece size, a power of two from 16k to 1M (default: the seeder's, 16k)"},
			&cli.DurationFlag{Name: "startup-delay", Usage: "the viewers' planned time from tune-in to the first segment's deadline, as leecher --startup-delay", DefaultText: "the leecher's, 1s"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the random draws (caps, join times, churn)"},
			&cli.StringFlag{Name: "out", Value: "bench-out", Usage: "folder for the JSON report and the charts (created)"},
			&cli.StringFlag{Name: "json", Usage: "JSON report file (default: bench.json in --out)"},
		}, cliutil.LogFlags(env)...),
		Action: func(c *cli.Context) error {
			log, err := cliutil.Logger(c, stderr)
			if err != nil {
				return err
			}
			cfg := bench.Config{Viewers: c.Int("viewers"), Duration: c.Duration("duration"), Scenario: c.String("scenario"),
				Profile: c.String("profile"), SampleDir: c.String("sample"), Churn: c.Float64("churn"), CutShare: c.Float64("cut-share"),
				StartupDelay: c.Duration("startup-delay"), Seed: c.Uint64("seed"), OutDir: c.String("out"), JSONPath: c.String("json"), Out: stdout, Logger: log}
			if err := cliutil.RejectTypedZero(c, "viewers", "duration", "churn", "cut-share", "seed"); err != nil {
				return err
			}
			if b := c.String("bitrate"); b != "" {
				bps, err := cliutil.ParseRate(b)
				if err != nil {
					return cliutil.UsageError("--bitrate %q: want bits per second such as 5M", b)
				}
				cfg.BitrateBps = bps
			}
			if ps := c.String("piece-size"); ps != "" {
				n, err := cliutil.ParseSize(ps)
				if err != nil || !protocol.ValidPieceSize(uint32(n)) || n != int64(uint32(n)) {
					return cliutil.UsageError("--piece-size %q: want a power of two from 16k to 1M", ps)
				}
				cfg.PieceSize = uint32(n)
			}
			if cfg.SeederUpload, err = bench.ParseRate(c.String("seeder-upload")); err != nil {
				return cliutil.UsageError("--seeder-upload: %v", err)
			}
			if cfg.LeecherUpload, err = bench.ParseRate(c.String("leecher-upload")); err != nil {
				return cliutil.UsageError("--leecher-upload: %v", err)
			}
			if err := cfg.Normalize(); err != nil {
				return cliutil.UsageError("%v", err)
			}
			ctx, cancel := cliutil.SignalContext(c.Context)
			defer cancel()
			if _, err := bench.Run(ctx, cfg); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "report: %s\n", cfg.JSONPath)
			return nil
		},
	}
}
