// Command livetorrent holds the project's tools; "demo" runs a whole swarm on one machine.
package main

import (
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/livetorrent/livetorrent/internal/app"
	"github.com/livetorrent/livetorrent/internal/cliutil"
	"github.com/livetorrent/livetorrent/leecher"
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
				&cli.DurationFlag{Name: "duration", Usage: "stop after this long (default: until Ctrl-C)"},
			}, cliutil.LogFlags(env)...),
			Action: func(c *cli.Context) error {
				log, err := cliutil.Logger(c, stderr)
				if err != nil {
					return err
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
		}},
	}
}
