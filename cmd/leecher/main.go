// Command leecher watches a LiveTorrent stream: it joins the swarm from a link, downloads
// and verifies pieces from peers (and from the origin when a deadline demands it), relays
// them, and feeds a player over local HTTP or on stdout.
package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/livetorrent/livetorrent/internal/app"
	"github.com/livetorrent/livetorrent/internal/cliutil"
	"github.com/livetorrent/livetorrent/internal/status"
	"github.com/livetorrent/livetorrent/leecher"
)

func main() { cliutil.Main(newApp(os.Stdout, os.Stderr)) }

const env = "LIVETORRENT_LEECHER_"

func commonFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "listen", Value: "0.0.0.0:0", Usage: "TCP address other viewers connect to (port 0 = any)", EnvVars: []string{env + "LISTEN"}},
		&cli.DurationFlag{Name: "latency", Usage: "how far behind the live edge to play (at most 10m, and held to the stream's window less a segment)", DefaultText: "3 target durations, at least 8s", EnvVars: []string{env + "LATENCY"}},
		&cli.DurationFlag{Name: "startup-delay", Usage: "planned time from tune-in to the first segment's deadline; longer leaves more of the start to peers", DefaultText: "1s", EnvVars: []string{env + "STARTUP_DELAY"}},
		&cli.StringFlag{Name: "upload-rate", Value: "0", Usage: "upload cap in bytes/s (e.g. 1M); 0 = unlimited", EnvVars: []string{env + "UPLOAD_RATE"}},
		&cli.StringFlag{Name: "download-rate", Value: "0", Usage: "download cap in bytes/s; 0 = unlimited", EnvVars: []string{env + "DOWNLOAD_RATE"}},
		&cli.IntFlag{Name: "target-peers", Usage: "peer count to keep: new peers are dialled below it, idle ones closed above it", DefaultText: "50, or --max-peers if lower", EnvVars: []string{env + "TARGET_PEERS"}},
		&cli.StringSliceFlag{Name: "tracker", Usage: "tracker announce URL to use besides the link's (repeatable)", EnvVars: []string{env + "TRACKER"}},
		&cli.StringSliceFlag{Name: "peer", Usage: "host:port of a peer to keep connected besides the link's (repeatable)", EnvVars: []string{env + "PEER"}},
		&cli.BoolFlag{Name: "no-pex", Usage: "do not exchange peer addresses (BEP 11)", EnvVars: []string{env + "NO_PEX"}},
		&cli.BoolFlag{Name: "no-origin", Usage: "never fetch from the origin, peers only", EnvVars: []string{env + "NO_ORIGIN"}},
		&cli.Float64Flag{Name: "max-origin-share", Usage: "cap the origin's share of received bytes (0..1; 0 = no cap) beyond a cold-start allowance of two segments", EnvVars: []string{env + "MAX_ORIGIN_SHARE"}},
		&cli.StringFlag{Name: "metrics", Usage: "serve /metrics (Prometheus), /status.json and a status page at this address, e.g. 127.0.0.1:9091", EnvVars: []string{env + "METRICS"}},
		&cli.BoolFlag{Name: "status", Value: true, Usage: "a live status line on stderr when it is a terminal", EnvVars: []string{env + "STATUS"}},
		&cli.StringFlag{Name: "player", Usage: "start this player (mpv or ffplay) on the stream", EnvVars: []string{env + "PLAYER"}},
	}, append(cliutil.LimitFlags(env), append(cliutil.DHTFlags(env), cliutil.LogFlags(env)...)...)...)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "leecher",
		Usage:     "watch a LiveTorrent stream",
		UsageText: "leecher [flags] LINK          serve the stream to players over local HTTP\n   leecher play [flags] LINK     write the stream to stdout",
		Description: `LINK is the magnet link the seeder printed (magnet:?xs=urn:btpk:...).

Examples:
   leecher "magnet:?xs=urn:btpk:..."                 then: mpv http://127.0.0.1:8765/live.m3u8
   leecher --player mpv "magnet:?xs=urn:btpk:..."    starts mpv on the local playlist
   leecher play "magnet:?xs=urn:btpk:..." | mpv -
   leecher play "magnet:?xs=urn:btpk:..." | ffplay -

Flags go before LINK (before or after play). Logs go to stderr; in play mode stdout carries only media.
Exit codes: 0 stopped or stream ended, 1 failure, 2 usage, 3 configuration (bad link).`,
		Writer: stdout, ErrWriter: stderr,
		Flags: append(commonFlags(),
			&cli.StringFlag{Name: "http", Value: leecher.DefaultListenAddr, Usage: "local address players fetch /live.m3u8 from", EnvVars: []string{env + "HTTP"}},
			&cli.StringFlag{Name: "allow-origin", Usage: "let web pages of this origin (e.g. https://player.example, or *) read the stream by script, for hls.js; lets them see what you watch", EnvVars: []string{env + "ALLOW_ORIGIN"}}),
		Action: func(c *cli.Context) error { return run(c, c.String("http"), nil, stderr) },
		Commands: []*cli.Command{{
			Name:      "play",
			Usage:     "write the stream to stdout (MPEG-TS, or fMP4 init and fragments) for a player reading stdin",
			UsageText: "leecher play [flags] LINK | mpv -",
			Flags:     commonFlags(),
			Action: func(c *cli.Context) error {
				if err := cliutil.InheritFlags(c); err != nil {
					return err
				}
				// A player that exits closes the pipe: get EPIPE and stop, not a signal death.
				signal.Ignore(syscall.SIGPIPE)
				return run(c, "", stdout, stderr)
			},
		}},
	}
}

// statusLine is where the live status line goes: stderr when it is a terminal.
func statusLine(c *cli.Context, stderr io.Writer) io.Writer {
	if f, ok := stderr.(*os.File); ok && c.Bool("status") && status.IsTerminal(f) {
		return f
	}
	return nil
}

func run(c *cli.Context, httpAddr string, media io.Writer, stderr io.Writer) error {
	log, err := cliutil.Logger(c, stderr)
	if err != nil {
		return err
	}
	if c.NArg() != 1 {
		return cliutil.UsageError("want exactly one LINK (flags go before it); see leecher --help")
	}
	limits, err := cliutil.Limits(c)
	if err != nil {
		return err
	}
	up, err := cliutil.ParseRate(c.String("upload-rate"))
	if err != nil {
		return err
	}
	down, err := cliutil.ParseRate(c.String("download-rate"))
	if err != nil {
		return err
	}
	if media != nil && c.String("player") != "" {
		media = nil // the player is fed through its own stdin
	}
	targetPeers := 0 // the engine's default: 50, or fewer when --max-peers is lower
	if c.IsSet("target-peers") {
		if targetPeers = c.Int("target-peers"); targetPeers < 1 {
			return cliutil.UsageError("--target-peers %d: want at least 1", targetPeers)
		}
	}
	origin := c.String("allow-origin")
	if u, err := url.Parse(origin); origin != "" && origin != "*" &&
		(err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "") {
		return cliutil.UsageError("--allow-origin %q: want an origin such as https://player.example, or *", origin)
	}
	l, err := app.NewLeecher(app.LeecherConfig{
		Link: c.Args().First(), Listen: c.String("listen"), HTTPListen: httpAddr, AllowOrigin: strings.TrimSuffix(origin, "/"), Stdout: media,
		Player: c.String("player"), PlayerStderr: stderr, TargetLatency: c.Duration("latency"), StartupDelay: c.Duration("startup-delay"), UploadRate: up, DownloadRate: down,
		Limits: limits, TargetPeers: targetPeers, NoOrigin: c.Bool("no-origin"), MaxOriginShare: c.Float64("max-origin-share"), Logger: log,
		Trackers: c.StringSlice("tracker"), Peers: c.StringSlice("peer"), NoPex: c.Bool("no-pex"),
		Status: app.StatusOptions{Metrics: c.String("metrics"), Line: statusLine(c, stderr)},
		DHT: app.DHTOptions{Enabled: c.Bool("dht"), Listen: c.String("dht-listen"), Bootstrap: c.StringSlice("dht-bootstrap"),
			StateFile: cliutil.DHTStateFileFor(c.String("dht-state"), "leecher", c.StringSlice("dht-bootstrap"))},
		OnReady: func(url string) { fmt.Fprintf(stderr, "playlist: %s\n", url) },
	})
	if err != nil {
		return cliutil.ConfigError(err)
	}
	ctx, cancel := cliutil.SignalContext(c.Context)
	defer cancel()
	log.Info("joining", "stream", l.Link().Stream.InfoHash(), "name", l.Link().Name, "peers", len(l.Link().Peers))
	if a := l.StatusAddr(); a != nil {
		log.Info("status page", "url", "http://"+a.String()+"/")
	}
	start := time.Now()
	err = l.Run(ctx)
	log.Info("stopped", "after", time.Since(start).Round(time.Second))
	return err
}
