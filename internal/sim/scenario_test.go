package sim

import (
	"strings"
	"testing"
	"time"
)

func TestParseScenario(t *testing.T) {
	sc, err := Parse("x", strings.NewReader(`# a comment
duration 90s
bitrate 5M
piece 128k
profile uniform 1.2x
latency 20ms-80ms
loss 0.5%
origin 30ms 50x
peers 6   # trailing comment
at 30s leave 20%
at 0s join 10 over 5s
at 40s cut 3
`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Duration != 90*time.Second || sc.Bitrate != 5e6 || sc.Piece != 128<<10 || sc.Profile != ProfileUniform ||
		sc.UniformUp != 1.2 || sc.LatencyMin != 20*time.Millisecond || sc.LatencyMax != 80*time.Millisecond ||
		sc.Loss != 0.005 || sc.OriginLat != 30*time.Millisecond || sc.OriginCap != 50 || sc.Peers != 6 {
		t.Errorf("settings %+v", sc)
	}
	want := []Command{{At: 0, Kind: CmdJoin, N: 10, Over: 5 * time.Second}, {At: 30 * time.Second, Kind: CmdLeave, Share: 0.2},
		{At: 40 * time.Second, Kind: CmdCut, N: 3}}
	if len(sc.Commands) != len(want) {
		t.Fatalf("commands %+v", sc.Commands)
	}
	for i, c := range want {
		if sc.Commands[i] != c {
			t.Errorf("command %d: %+v, want %+v", i, sc.Commands[i], c)
		}
	}
	for _, bad := range []string{"piece 100k", "at 5s jump 3", "at x join 3", "profile fancy", "peers 0",
		"latency 50ms-10ms", "loss 120%", "loss 15%", "bitrate fast", "at 1s join 20%",
		"at 0s join 60000\nat 1s join 40001"} {
		if _, err := Parse("bad", strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, name := range Builtins() {
		text, err := Builtin(name, 100, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(name, strings.NewReader(text)); err != nil {
			t.Errorf("built-in %s: %v", name, err)
		}
	}
}

// TestPieceFollowsBitrate: without a piece setting the piece size is the power of two
// nearest a sixteenth of a segment, following later bitrate and segment settings; a given
// piece size stays.
func TestPieceFollowsBitrate(t *testing.T) {
	for _, c := range []struct {
		lines string
		want  uint32
	}{
		{"", 64 << 10},
		{"bitrate 1M", 16 << 10},
		{"bitrate 3M\nsegment 6s", 128 << 10},
		{"bitrate 25M", 512 << 10},
		{"bitrate 400k", 16 << 10},
		{"bitrate 100M\nsegment 10s", 1 << 20},
		{"piece 32k\nbitrate 25M", 32 << 10},
	} {
		sc, err := Parse("x", strings.NewReader(c.lines))
		if err != nil {
			t.Fatal(err)
		}
		if sc.Piece != c.want {
			t.Errorf("%q: piece %d, want %d", c.lines, sc.Piece, c.want)
		}
	}
	sc := DefaultScenario()
	if err := sc.Set("piece", "128k"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Set("bitrate", "25M"); err != nil || sc.Piece != 128<<10 {
		t.Errorf("piece %d after a bitrate flag (%v), want the 128k set before", sc.Piece, err)
	}
}
