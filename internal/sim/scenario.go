package sim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livetorrent/livetorrent/internal/cliutil"
	"github.com/livetorrent/livetorrent/protocol"
)

// Scenario is one simulation: the stream, the network and the timed commands. A scenario
// file has one setting per line, then commands; "#" starts a comment:
//
//	duration 60s
//	bitrate 3M
//	profile residential
//	at 0s join 40 over 10s
//	at 30s leave 25%
//	at 30s join 10 over 2s
//	at 40s cut 5
//
// Settings (defaults in DefaultScenario):
//
//	duration D         simulated time
//	bitrate B          stream bitrate in bits/s (3M, 800k)
//	segment D          segment duration (the descriptor's target duration)
//	piece N            piece size in bytes, a power of two from 16k to 1M (default: the
//	                   power of two nearest a sixteenth of a segment, 64k at 3 Mbit/s in
//	                   2 s segments; it follows bitrate and segment until set)
//	window D           the descriptor's window
//	jitter F           segment sizes vary by up to +-F of the mean (0.1)
//	profile residential | uniform Xx
//	                   viewers' uplinks: residential is 1-3x the bitrate with one viewer
//	                   in ten at 0.05x; uniform gives every viewer Xx
//	download Xx        every viewer's downlink (10x)
//	seeder Xx          the seeder's uplink (2x)
//	latency A-B        one-way link latency: each node draws an access delay in [A/2, B/2],
//	                   a link's latency is the sum of its ends' (A-B)
//	loss P             mean packet loss of a node's access (0.5%); links combine both ends
//	origin D Xx        the HTTP origin: one-way latency and capacity (40ms 1000x); "origin
//	                   none" disables the fallback
//	peers N            connections a joining viewer opens (the tracker's answer, 8)
//	maxpeers N         connections a viewer accepts in all (30)
//	seederpeers N      connections the seeder accepts (200)
//	copies N           the seeder's PublisherCopies (1, as the seeder command)
//	seed N             seeds every random draw
//
// Commands, applied in time order (at equal times in file order):
//
//	at T join N [over D]   N viewers join, spread evenly over D (default: at once)
//	at T leave N | P%      that many present viewers, drawn at random, leave
//	at T cut N | P%        that many present viewers lose their routes to the seeder and
//	                       the origin (they keep their viewer neighbours)
type Scenario struct {
	Name     string
	Duration time.Duration
	Bitrate  float64 // bits/s
	Segment  time.Duration
	Piece    uint32
	pieceSet bool // Piece was given; otherwise it follows Bitrate and Segment (autoPiece)
	Window   time.Duration
	Jitter   float64

	Profile     string  // "residential" or "uniform"
	UniformUp   float64 // multiple of the bitrate, profile uniform
	DownUp      float64 // viewers' downlink, multiple of the bitrate
	SeederUp    float64 // multiple of the bitrate
	LatencyMin  time.Duration
	LatencyMax  time.Duration
	Loss        float64
	OriginLat   time.Duration
	OriginCap   float64 // multiple of the bitrate
	NoOrigin    bool
	Peers       int
	MaxPeers    int
	SeederPeers int
	Copies      int
	Seed        uint64

	Commands []Command
}

// Command kinds.
const (
	CmdJoin  = "join"
	CmdLeave = "leave"
	CmdCut   = "cut"
)

// Command is one timed change of the audience or the network.
type Command struct {
	At    time.Duration
	Kind  string
	N     int           // a count, or 0 when Share is used
	Share float64       // a share of the viewers present (leave, cut)
	Over  time.Duration // join: spread over this long
}

// Profiles of viewers' uplinks.
const (
	ProfileResidential = "residential"
	ProfileUniform     = "uniform"
)

// Residential profile, as the benchmark's: one viewer in ten uploads next to nothing.
const (
	weakUpload = 0.05
	weakShare  = 0.1
)

// DefaultScenario is the base every scenario file starts from.
func DefaultScenario() Scenario {
	return Scenario{Duration: time.Minute, Bitrate: 3_000_000, Segment: 2 * time.Second, Piece: 64 << 10,
		Window: 30 * time.Second, Jitter: 0.1, Profile: ProfileResidential, UniformUp: 1.5, DownUp: 10, SeederUp: 2,
		LatencyMin: 10 * time.Millisecond, LatencyMax: 60 * time.Millisecond, Loss: 0.0,
		OriginLat: 40 * time.Millisecond, OriginCap: 1000, Peers: 8, MaxPeers: 30, SeederPeers: 200, Copies: 1, Seed: 1}
}

// Parse reads a scenario file.
func Parse(name string, r io.Reader) (*Scenario, error) {
	sc := DefaultScenario()
	sc.Name = name
	in := bufio.NewScanner(r)
	line := 0
	for in.Scan() {
		line++
		text, _, _ := strings.Cut(in.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if err := sc.apply(f); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &sc, nil
}

// Set changes one setting as a scenario line would ("bitrate", "5M"), then checks the
// scenario again.
func (sc *Scenario) Set(setting string, args ...string) error {
	if setting == "at" {
		return fmt.Errorf("commands are not settings")
	}
	if err := sc.apply(append([]string{setting}, args...)); err != nil {
		return err
	}
	return sc.Validate()
}

func (sc *Scenario) apply(f []string) error {
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	var err error
	switch f[0] {
	case "at":
		return sc.command(f)
	case "duration":
		sc.Duration, err = time.ParseDuration(arg(1))
	case "bitrate":
		var n int
		n, err = cliutil.ParseRate(arg(1))
		sc.Bitrate = float64(n)
		sc.followPiece()
	case "segment":
		sc.Segment, err = time.ParseDuration(arg(1))
		sc.followPiece()
	case "piece":
		sc.Piece, err = parsePieceSize(arg(1))
		sc.pieceSet = true
	case "window":
		sc.Window, err = time.ParseDuration(arg(1))
	case "jitter":
		sc.Jitter, err = strconv.ParseFloat(arg(1), 64)
	case "profile":
		sc.Profile = arg(1)
		if sc.Profile == ProfileUniform {
			sc.UniformUp, err = parseMultiple(arg(2))
		}
	case "download":
		sc.DownUp, err = parseMultiple(arg(1))
	case "seeder":
		sc.SeederUp, err = parseMultiple(arg(1))
	case "latency":
		lo, hi, ok := strings.Cut(arg(1), "-")
		if !ok {
			hi = lo
		}
		if sc.LatencyMin, err = time.ParseDuration(lo); err == nil {
			sc.LatencyMax, err = time.ParseDuration(hi)
		}
	case "loss":
		sc.Loss, err = parseShare(arg(1))
	case "origin":
		if arg(1) == "none" {
			sc.NoOrigin = true
			break
		}
		if sc.OriginLat, err = time.ParseDuration(arg(1)); err == nil && arg(2) != "" {
			sc.OriginCap, err = parseMultiple(arg(2))
		}
	case "peers":
		sc.Peers, err = strconv.Atoi(arg(1))
	case "maxpeers":
		sc.MaxPeers, err = strconv.Atoi(arg(1))
	case "seederpeers":
		sc.SeederPeers, err = strconv.Atoi(arg(1))
	case "copies":
		sc.Copies, err = strconv.Atoi(arg(1))
	case "seed":
		sc.Seed, err = strconv.ParseUint(arg(1), 10, 64)
	default:
		return fmt.Errorf("unknown setting %q", f[0])
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f[0], err)
	}
	return nil
}

// command parses "at T join N [over D]", "at T leave N|P%", "at T cut N|P%".
func (sc *Scenario) command(f []string) error {
	if len(f) < 4 {
		return fmt.Errorf("want: at TIME join|leave|cut COUNT")
	}
	at, err := time.ParseDuration(f[1])
	if err != nil || at < 0 {
		return fmt.Errorf("at %q: want a time such as 30s", f[1])
	}
	c := Command{At: at, Kind: f[2]}
	if !slices.Contains([]string{CmdJoin, CmdLeave, CmdCut}, c.Kind) {
		return fmt.Errorf("unknown command %q", c.Kind)
	}
	if s, ok := strings.CutSuffix(f[3], "%"); ok && c.Kind != CmdJoin {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > 100 {
			return fmt.Errorf("%s %q: want a count or a share such as 20%%", c.Kind, f[3])
		}
		c.Share = v / 100
	} else if c.N, err = strconv.Atoi(f[3]); err != nil || c.N < 0 {
		return fmt.Errorf("%s %q: want a count", c.Kind, f[3])
	}
	rest := f[4:]
	if c.Kind == CmdJoin && len(rest) == 2 && rest[0] == "over" {
		if c.Over, err = time.ParseDuration(rest[1]); err != nil || c.Over < 0 {
			return fmt.Errorf("join over %q: want a duration", rest[1])
		}
		rest = nil
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected %q", strings.Join(rest, " "))
	}
	sc.Commands = append(sc.Commands, c)
	return nil
}

func parseMultiple(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.ToLower(s), "x"), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q: want a multiple of the bitrate such as 1.5x", s)
	}
	return v, nil
}

// followPiece sets the piece size from the bitrate and the segment duration unless a
// scenario or flag gave one: 64 KiB pieces at 25 Mbit/s left 25 stalls in a 1,000-viewer
// flash crowd that 256 KiB pieces did not, and at 1 Mbit/s took 4.5% of the bytes from the
// origin against 1.2% with 16 KiB.
func (sc *Scenario) followPiece() {
	if !sc.pieceSet {
		sc.Piece = autoPiece(sc.Bitrate, sc.Segment)
	}
}

// autoPiece is the power of two from 16 KiB to 1 MiB nearest (on a log scale) to a
// sixteenth of a segment.
func autoPiece(bitrate float64, segment time.Duration) uint32 {
	want := bitrate / 8 * segment.Seconds() / 16
	p := uint32(16 << 10)
	for p < 1<<20 && float64(p)*math.Sqrt2 < want {
		p <<= 1
	}
	return p
}

// parsePieceSize reads a size with binary multiples: "65536", "64k", "1M".
func parsePieceSize(s string) (uint32, error) {
	t := strings.ToLower(strings.TrimSuffix(s, "B"))
	shift := 0
	switch {
	case strings.HasSuffix(t, "k"):
		shift, t = 10, t[:len(t)-1]
	case strings.HasSuffix(t, "m"):
		shift, t = 20, t[:len(t)-1]
	}
	v, err := strconv.ParseUint(t, 10, 32)
	if err != nil || v<<shift > 1<<30 {
		return 0, fmt.Errorf("%q: want a size such as 64k", s)
	}
	return uint32(v << shift), nil
}

func parseShare(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q: want a share such as 0.5%%", s)
	}
	if pct {
		v /= 100
	}
	if v >= 1 {
		return 0, fmt.Errorf("%q: want a share below 100%%", s)
	}
	return v, nil
}

// MaxViewers bounds the viewers a scenario may join in all: a 10,000-viewer run of ten
// simulated minutes holds about 4.5 GiB, and the state grows with every viewer.
const MaxViewers = 100_000

// MaxLoss bounds the mean access loss: beyond it TCP barely moves data, and the model (one
// fast retransmit per lost message) no longer describes it.
const MaxLoss = 0.1

// Validate rejects settings the simulator cannot run.
func (sc *Scenario) Validate() error {
	joins := 0
	for _, c := range sc.Commands {
		if c.Kind == CmdJoin {
			joins += min(c.N, MaxViewers+1)
		}
	}
	switch {
	case joins > MaxViewers:
		return fmt.Errorf("%d joins: want at most %d viewers in all", joins, MaxViewers)
	case sc.Loss > MaxLoss:
		return fmt.Errorf("loss %v%%: want at most %v%%", sc.Loss*100, MaxLoss*100)
	case sc.Duration < time.Second:
		return fmt.Errorf("duration %v: want at least 1s", sc.Duration)
	case sc.Bitrate < 8000:
		return fmt.Errorf("bitrate %v: want at least 8k", sc.Bitrate)
	case sc.Segment < 100*time.Millisecond || sc.Segment > time.Minute:
		return fmt.Errorf("segment %v: want 100ms to 1m", sc.Segment)
	case !protocol.ValidPieceSize(sc.Piece):
		return fmt.Errorf("piece %d: want a power of two from 16k to 1M", sc.Piece)
	case sc.Window < 2*sc.Segment:
		return fmt.Errorf("window %v: want at least two segments", sc.Window)
	case sc.Jitter < 0 || sc.Jitter > 0.5:
		return fmt.Errorf("jitter %v: want 0 to 0.5", sc.Jitter)
	case sc.Profile != ProfileResidential && sc.Profile != ProfileUniform:
		return fmt.Errorf("profile %q: want residential or uniform", sc.Profile)
	case sc.SeederUp <= 0 || sc.DownUp <= 0:
		return fmt.Errorf("seeder and download capacities must be positive")
	case sc.LatencyMin < time.Millisecond || sc.LatencyMax < sc.LatencyMin:
		return fmt.Errorf("latency %v-%v: want at least 1ms, low before high", sc.LatencyMin, sc.LatencyMax)
	case !sc.NoOrigin && (sc.OriginLat < sc.LatencyMin/2 || sc.OriginCap <= 0):
		return fmt.Errorf("origin: latency at least half the smallest link latency and a positive capacity")
	case sc.Peers < 1 || sc.MaxPeers < sc.Peers || sc.SeederPeers < 1:
		return fmt.Errorf("peers %d, maxpeers %d, seederpeers %d: want 1 <= peers <= maxpeers", sc.Peers, sc.MaxPeers, sc.SeederPeers)
	case sc.Copies < 1:
		return fmt.Errorf("copies %d: want at least 1", sc.Copies)
	}
	slices.SortStableFunc(sc.Commands, func(a, b Command) int {
		switch {
		case a.At < b.At:
			return -1
		case a.At > b.At:
			return 1
		}
		return 0
	})
	return nil
}

// Builtin scenarios, sized by the caller, as the benchmark's.
const (
	ScenarioFlash     = "flash"     // everyone joins within the first 10 s
	ScenarioSteady    = "steady"    // joins spread over the first 30% of the run
	ScenarioChurn     = "churn"     // a fifth of the viewers is replaced every minute (or third of the run)
	ScenarioRouteCut  = "routecut"  // a quarter of the viewers loses its routes to seeder and origin
	ScenarioSlow      = "slow"      // every viewer uploads a quarter of the bitrate
	ScenarioLowUpload = "lowupload" // every viewer uploads 0.9x: less than the audience needs
)

// Builtins lists the built-in scenario names.
func Builtins() []string {
	return []string{ScenarioFlash, ScenarioSteady, ScenarioChurn, ScenarioRouteCut, ScenarioSlow, ScenarioLowUpload}
}

// Builtin returns the script of a built-in scenario for viewers over d.
func Builtin(name string, viewers int, d time.Duration) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "duration %v\n", d)
	join := func(over time.Duration) { fmt.Fprintf(&b, "at 0s join %d over %v\n", viewers, over) }
	flash := min(10*time.Second, d/2)
	switch name {
	case ScenarioFlash:
		join(flash)
	case ScenarioSteady:
		join(d * 3 / 10)
	case ScenarioChurn:
		join(flash)
		period := min(time.Minute, d/3)
		k := max(1, int(math.Round(0.2*float64(viewers))))
		for at := period; at < d; at += period {
			fmt.Fprintf(&b, "at %v leave %d\nat %v join %d over 2s\n", at, k, at, k)
		}
	case ScenarioRouteCut:
		join(flash)
		fmt.Fprintf(&b, "at %v cut 25%%\n", flash)
	case ScenarioSlow:
		fmt.Fprintf(&b, "profile uniform 0.25x\n")
		join(flash)
	case ScenarioLowUpload:
		fmt.Fprintf(&b, "profile uniform 0.9x\n")
		join(flash)
	default:
		return "", fmt.Errorf("scenario %q: want one of %s", name, strings.Join(Builtins(), ", "))
	}
	return b.String(), nil
}
