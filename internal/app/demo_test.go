package app

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The README's first command, shortened: the bundled sample through a seeder and two
// viewers on loopback. Viewers connect, play segments, and the figures are printed.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	figs, err := RunDemo(context.Background(), DemoConfig{SampleDir: filepath.Join("..", "..", "testdata", "sample"),
		Leechers: 2, HTTPListen: "127.0.0.1:0", Duration: 9 * time.Second, Every: time.Second, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) < 5 {
		t.Fatalf("%d figure lines:\n%s", len(figs), out.String())
	}
	last := figs[len(figs)-1]
	if last.Peers < 1 || last.Segments < 4 || last.BytesPlayed == 0 || last.BitrateBps <= 0 || last.SeederEgressX <= 0 {
		t.Fatalf("figures %+v\n%s", last, out.String())
	}
	for _, want := range []string{"link:    magnet:?xs=urn:btpk:", "watch:   mpv http://127.0.0.1:", "from peers"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("%s", out.String())
}

// TestDemoRejects: a viewer count or duration the demo cannot run is an error before
// anything starts, not a run with the defaults or a failure halfway.
func TestDemoRejects(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "sample")
	for _, cfg := range []DemoConfig{
		{SampleDir: sample, Leechers: -1},
		{SampleDir: sample, Leechers: MaxDemoLeechers + 1},
		{SampleDir: sample, Leechers: 2, Duration: -time.Second},
	} {
		if figs, err := RunDemo(context.Background(), cfg); err == nil || figs != nil {
			t.Errorf("leechers %d, duration %v: %d figures, error %v; want an error", cfg.Leechers, cfg.Duration, len(figs), err)
		}
	}
}
