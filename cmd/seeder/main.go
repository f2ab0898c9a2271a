// Command seeder publishes a live HLS stream into a LiveTorrent swarm: it follows the origin's
// playlist, signs every segment with the publisher key and uploads it to viewers.
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/livetorrent/livetorrent/internal/app"
	"github.com/livetorrent/livetorrent/internal/cliutil"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/seeder"
)

func main() { cliutil.Main(newApp(os.Stdout, os.Stderr)) }

const env = "LIVETORRENT_SEEDER_"

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "seeder",
		Usage:     "publish a live HLS stream into a LiveTorrent swarm",
		UsageText: "seeder [flags] SOURCE\n   seeder keygen [--key FILE]",
		Description: `SOURCE is the origin's HLS playlist: an http(s) URL, or the path of the playlist an
encoder writes into a folder. A master playlist is resolved to one variant.
The seeder prints the stream's link on stdout; viewers open it with the leecher.

Examples:
   seeder --key channel.key --tracker udp://tracker.example:6969/announce https://origin.example/live/index.m3u8
   seeder --loop --listen 127.0.0.1:6881 testdata/sample/index.m3u8
   ffmpeg -re -i input.mp4 -f hls -hls_time 2 /srv/live/index.m3u8 & seeder /srv/live/index.m3u8

Flags go before SOURCE. Exit codes: 0 stopped, 1 failure, 2 usage, 3 configuration.`,
		Writer: stdout, ErrWriter: stderr,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "key", Value: "seeder.key", Usage: "publisher key file (PEM PKCS#8 Ed25519), created with mode 0600 if missing", EnvVars: []string{env + "KEY"}},
			&cli.StringFlag{Name: "piece-file", Usage: "file that keeps the stream's piece numbering across restarts, so viewers accept a restarted seeder at once (default: beside the key file, one per salt; \"-\": none)", EnvVars: []string{env + "PIECE_FILE"}},
			&cli.StringFlag{Name: "salt", Usage: "stream salt (text, up to 64 bytes), to publish several streams with one key", EnvVars: []string{env + "SALT"}},
			&cli.StringFlag{Name: "name", Usage: "stream name shown to viewers", EnvVars: []string{env + "NAME"}},
			&cli.StringFlag{Name: "listen", Value: "0.0.0.0:6881", Usage: "TCP address peers connect to", EnvVars: []string{env + "LISTEN"}},
			&cli.StringSliceFlag{Name: "advertise", Usage: "host:port viewers dial, put in the link (repeatable; default: the listen address)", EnvVars: []string{env + "ADVERTISE"}},
			&cli.StringSliceFlag{Name: "tracker", Usage: "tracker announce URL (http, https or udp), announced to and put in the link (repeatable)", EnvVars: []string{env + "TRACKER"}},
			&cli.StringFlag{Name: "upload-rate", Value: "0", Usage: "upload cap in bytes/s (e.g. 2M); 0 = unlimited", EnvVars: []string{env + "UPLOAD_RATE"}},
			&cli.IntFlag{Name: "copies", Value: 1, Usage: "uploads of each new piece before peers must spread it", EnvVars: []string{env + "COPIES"}},
			&cli.StringFlag{Name: "metrics", Usage: "serve /metrics (Prometheus), /status.json and a status page at this address, e.g. 127.0.0.1:9090", EnvVars: []string{env + "METRICS"}},
			&cli.BoolFlag{Name: "loop", Usage: "replay a finished (VOD) playlist forever as a live stream", EnvVars: []string{env + "LOOP"}},
			&cli.IntFlag{Name: "variant", Usage: "master playlist variant: 0 = highest bandwidth, n = n-th listed", EnvVars: []string{env + "VARIANT"}},
			&cli.IntFlag{Name: "piece-size", Value: 16384, Usage: "piece size in bytes, a power of two 16384..1048576, about a sixteenth to a fiftieth of a segment (262144 for 25 Mbit/s in 2 s segments); keep it for the stream's lifetime", EnvVars: []string{env + "PIECE_SIZE"}},
			&cli.DurationFlag{Name: "window", Value: 30 * time.Second, Usage: "how long peers keep pieces behind the live edge", EnvVars: []string{env + "WINDOW"}},
		}, append(cliutil.LimitFlags(env), append(cliutil.DHTFlags(env), cliutil.LogFlags(env)...)...)...),
		Action: func(c *cli.Context) error { return runSeeder(c, stdout, stderr) },
		Commands: []*cli.Command{{
			Name:      "keygen",
			Usage:     "create a publisher key file (mode 0600) and print the stream's link key",
			UsageText: "seeder keygen [--key FILE]",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "key", Value: "seeder.key", Usage: "key file to create (refuses to overwrite)"}},
			Action: func(c *cli.Context) error {
				if err := cliutil.InheritFlags(c); err != nil { // "seeder --key F keygen"
					return err
				}
				priv, err := seeder.Keygen(c.String("key"))
				if err != nil {
					return cliutil.ConfigError(err)
				}
				fmt.Fprintf(stdout, "%s\n", protocol.StreamOf(priv, nil).Key)
				return nil
			},
		}},
	}
}

func runSeeder(c *cli.Context, stdout, stderr io.Writer) error {
	log, err := cliutil.Logger(c, stderr)
	if err != nil {
		return err
	}
	if c.NArg() != 1 {
		return cliutil.UsageError("want exactly one SOURCE (flags go before it); see seeder --help")
	}
	limits, err := cliutil.Limits(c)
	if err != nil {
		return err
	}
	upload, err := cliutil.ParseRate(c.String("upload-rate"))
	if err != nil {
		return err
	}
	// The library reads zero as "the default"; on the command line it was typed.
	if n := c.Int("copies"); n < 1 {
		return cliutil.UsageError("--copies %d: want at least 1", n)
	}
	if n := c.Int("piece-size"); n <= 0 || n > protocol.MaxPieceSize || !protocol.ValidPieceSize(uint32(n)) {
		return cliutil.UsageError("--piece-size %d: want a power of two from 16384 to 1048576", n)
	}
	if n := c.Int("variant"); n < 0 {
		return cliutil.UsageError("--variant %d: want 0 (the highest bandwidth) or a variant's position from 1", n)
	}
	if d := c.Duration("window"); d <= 0 {
		return cliutil.UsageError("--window %v: want a positive duration", d)
	}
	key, created, err := seeder.LoadOrCreateKey(c.String("key"))
	if err != nil {
		return cliutil.ConfigError(err)
	}
	if created {
		log.Info("created publisher key", "file", c.String("key"))
	}
	salt := []byte(c.String("salt")) // text here; the link carries it as hex
	pieceFile := c.String("piece-file")
	switch pieceFile {
	case "":
		pieceFile = seeder.DefaultPieceFile(c.String("key"), salt)
	case "-":
		pieceFile = ""
	}
	sd, err := app.NewSeeder(app.SeederConfig{
		Source: c.Args().First(), Loop: c.Bool("loop"), Variant: c.Int("variant"), Key: key, Salt: salt,
		Name: c.String("name"), PieceSize: uint32(c.Int("piece-size")), Window: c.Duration("window"), PieceFile: pieceFile,
		Listen: c.String("listen"), Advertise: c.StringSlice("advertise"), Trackers: c.StringSlice("tracker"), UploadRate: upload,
		Copies: c.Int("copies"), Limits: limits, Logger: log,
		Status: app.StatusOptions{Metrics: c.String("metrics")},
		DHT: app.DHTOptions{Enabled: c.Bool("dht"), Listen: c.String("dht-listen"), Bootstrap: c.StringSlice("dht-bootstrap"),
			StateFile: cliutil.DHTStateFileFor(c.String("dht-state"), "seeder", c.StringSlice("dht-bootstrap"))},
	})
	if err != nil {
		return cliutil.ConfigError(err)
	}
	fmt.Fprintln(stdout, sd.Link().String())
	ctx, cancel := cliutil.SignalContext(c.Context)
	defer cancel()
	log.Info("seeding", "source", c.Args().First(), "listen", sd.Node.Addr(), "info-hash", sd.Link().Stream.InfoHash())
	if a := sd.StatusAddr(); a != nil {
		log.Info("status page", "url", "http://"+a.String()+"/")
	}
	return sd.Run(ctx)
}
