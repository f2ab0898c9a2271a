package cliutil

import (
	"io"
	"slices"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// TestInheritFlags: values typed before a subcommand reach it (a bool, a duration, a
// repeatable string), a value typed after it wins, and flags left alone keep their
// defaults.
func TestInheritFlags(t *testing.T) {
	flags := func() []cli.Flag {
		return []cli.Flag{
			&cli.BoolFlag{Name: "dht", Value: true},
			&cli.DurationFlag{Name: "latency"},
			&cli.StringSliceFlag{Name: "peer"},
			&cli.IntFlag{Name: "max-peers", Value: 200},
			&cli.StringFlag{Name: "rate", Value: "0"},
		}
	}
	type seen struct {
		dht      bool
		latency  time.Duration
		peers    []string
		maxPeers int
		rate     string
	}
	var got seen
	app := &cli.App{Name: "x", Flags: flags(), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(*cli.Context) error { return nil },
		Commands: []*cli.Command{{Name: "play", Flags: flags(), Action: func(c *cli.Context) error {
			if err := InheritFlags(c); err != nil {
				return err
			}
			got = seen{c.Bool("dht"), c.Duration("latency"), c.StringSlice("peer"), c.Int("max-peers"), c.String("rate")}
			return nil
		}}}}
	args := []string{"x", "--dht=false", "--latency", "5s", "--peer", "a:1", "--peer", "b:2", "--rate", "1M",
		"play", "--rate", "2M", "LINK"}
	if err := app.Run(args); err != nil {
		t.Fatal(err)
	}
	want := seen{false, 5 * time.Second, []string{"a:1", "b:2"}, 200, "2M"}
	if got.dht != want.dht || got.latency != want.latency || !slices.Equal(got.peers, want.peers) ||
		got.maxPeers != want.maxPeers || got.rate != want.rate {
		t.Fatalf("play saw %+v, want %+v", got, want)
	}
}
