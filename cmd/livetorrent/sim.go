package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/livetorrent/livetorrent/internal/bench"
	"github.com/livetorrent/livetorrent/internal/cliutil"
	"github.com/livetorrent/livetorrent/internal/sim"
)

// simSettings are the flags that override a scenario's settings, by scenario keyword.
var simSettings = []struct{ flag, setting string }{
	{"bitrate", "bitrate"}, {"piece-size", "piece"}, {"segment", "segment"}, {"seeder-upload", "seeder"},
	{"peers", "peers"}, {"max-peers", "maxpeers"}, {"latency", "latency"}, {"loss", "loss"},
	{"copies", "copies"}, {"seed", "seed"},
}

func simCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "sim",
		Usage: "simulate a swarm of thousands of viewers in virtual time (real engine cores, modelled network)",
		Description: `A seeder, N viewers and an HTTP origin run the real engine core with no sockets and no clock:
the simulator carries their messages over a modelled network (uplink and downlink capacity per
node, link latency, packet loss as TCP's reduced throughput, churn, route cuts) in virtual time.
Pieces carry lengths, not bytes, and nothing is verified. A run is deterministic: the same
scenario and seed give the same figures with any number of workers.

Scenarios: the built-in ones as the benchmark's (flash, steady, churn, routecut, slow) and
lowupload (viewers upload 0.9x), sized by --viewers and --duration, or a scenario file with
--script (see internal/sim/testdata). The flags below override the scenario's settings.
The summary is printed; the JSON report and SVG charts (the benchmark's shape) go to --out.

Examples:
   livetorrent sim --viewers 1000 --duration 2m
   livetorrent sim --viewers 10000 --duration 10m --bitrate 3M
   livetorrent sim --script internal/sim/testdata/churn.txt --seed 7`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "viewers", Value: 1000, Usage: "viewers of a built-in scenario, at most 100000"},
			&cli.DurationFlag{Name: "duration", Value: 2 * time.Minute, Usage: "simulated time"},
			&cli.StringFlag{Name: "scenario", Value: sim.ScenarioFlash, Usage: strings.Join(sim.Builtins(), ", ")},
			&cli.StringFlag{Name: "script", Usage: "a scenario file instead of a built-in scenario"},
			&cli.StringFlag{Name: "profile", Usage: "viewers' uplinks: residential, or uniform with --leecher-upload (default: the scenario's)"},
			&cli.StringFlag{Name: "leecher-upload", Value: "1.5x", Usage: "every viewer's uplink with --profile uniform"},
			&cli.StringFlag{Name: "bitrate", Usage: "stream bitrate in bits/s (default 3M)"},
			&cli.StringFlag{Name: "piece-size", Usage: "piece size, a power of two from 16k to 1M (default: nearest a sixteenth of a segment, 64k at 3 Mbit/s)"},
			&cli.StringFlag{Name: "segment", Usage: "segment duration (default 2s)"},
			&cli.StringFlag{Name: "seeder-upload", Usage: "seeder uplink as a multiple of the bitrate (default 2x)"},
			&cli.StringFlag{Name: "peers", Usage: "connections a joining viewer opens (default 8)"},
			&cli.StringFlag{Name: "max-peers", Usage: "connections a viewer accepts in all (default 30)"},
			&cli.StringFlag{Name: "latency", Usage: "one-way link latency range, such as 10ms-60ms"},
			&cli.StringFlag{Name: "loss", Usage: "mean packet loss of a node's access link, such as 0.5%, at most 10%"},
			&cli.StringFlag{Name: "copies", Usage: "the seeder's copies of each new piece (default 1)"},
			&cli.StringFlag{Name: "seed", Usage: "seed of every random draw (default 1)"},
			&cli.IntFlag{Name: "workers", Value: runtime.NumCPU(), Usage: "goroutines processing nodes (results do not depend on it)"},
			&cli.DurationFlag{Name: "progress", Value: 10 * time.Second, Usage: "virtual time between progress lines"},
			&cli.StringFlag{Name: "out", Value: "sim-out", Usage: "folder for the JSON report and the charts (created)"},
			&cli.StringFlag{Name: "json", Usage: "JSON report file (default: sim.json in --out)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to this file (go tool pprof)"},
			&cli.StringFlag{Name: "memprofile", Usage: "write a heap profile at the end of the run to this file (go tool pprof)"},
		},
		Action: func(c *cli.Context) error {
			sc, err := simScenario(c)
			if err != nil {
				return err
			}
			// Thousands of cores allocate fast and keep little: collecting less often trades
			// memory (plentiful here) for time.
			debug.SetGCPercent(400)
			if path := c.String("cpuprofile"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			fmt.Fprintf(stdout, "sim: %s, %v of a %.0f kbit/s stream, %d workers\n", sc.Name, sc.Duration, sc.Bitrate/1000, c.Int("workers"))
			opt := sim.Options{Workers: c.Int("workers"), Progress: stdout, ProgressEvery: c.Duration("progress")}
			var heapErr error
			if path := c.String("memprofile"); path != "" {
				opt.AtEnd = func() { heapErr = writeHeapProfile(path) }
			}
			res, err := sim.Run(sc, opt)
			if err != nil {
				return err
			}
			if heapErr != nil {
				return heapErr
			}
			fmt.Fprintln(stdout)
			res.PrintSummary(stdout)
			jsonPath := c.String("json")
			if jsonPath == "" {
				jsonPath = filepath.Join(c.String("out"), "sim.json")
			}
			if err := bench.WriteReport(res.Report, c.String("out"), jsonPath); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "charts: %v\nreport: %s\n", res.Report.Charts, jsonPath)
			return nil
		},
	}
}

// simScenario reads the scenario file or builds the built-in scenario, then applies the
// flags that override its settings.
func simScenario(c *cli.Context) (*sim.Scenario, error) {
	name, text := c.String("scenario"), ""
	if path := c.String("script"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		name, text = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), string(b)
		if c.IsSet("duration") {
			text += fmt.Sprintf("duration %v\n", c.Duration("duration"))
		}
	} else {
		var err error
		if v := c.Int("viewers"); v < 1 || v > sim.MaxViewers {
			return nil, cliutil.UsageError("--viewers %d: want 1 to %d", v, sim.MaxViewers)
		}
		if d := c.Duration("duration"); d < time.Second {
			return nil, cliutil.UsageError("--duration %v: want at least 1s", d)
		}
		if text, err = sim.Builtin(name, c.Int("viewers"), c.Duration("duration")); err != nil {
			return nil, cliutil.UsageError("%v", err)
		}
	}
	sc, err := sim.Parse(name, strings.NewReader(text))
	if err != nil {
		return nil, cliutil.UsageError("%v", err)
	}
	for _, s := range simSettings {
		if c.IsSet(s.flag) {
			if err := sc.Set(s.setting, c.String(s.flag)); err != nil {
				return nil, cliutil.UsageError("--%s: %v", s.flag, err)
			}
		}
	}
	if c.IsSet("profile") {
		args := []string{c.String("profile")}
		if args[0] == sim.ProfileUniform {
			args = append(args, c.String("leecher-upload"))
		}
		if err := sc.Set("profile", args...); err != nil {
			return nil, cliutil.UsageError("--profile: %v", err)
		}
	}
	return sc, nil
}

// writeHeapProfile writes what is live on the heap now.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
