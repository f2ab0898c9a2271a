package livetorrent

import (
	"errors"
	"fmt"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// Role says whether the core publishes the stream or watches it.
type Role int

const (
	// RoleViewer downloads, verifies, relays and delivers segments to a player.
	RoleViewer Role = iota
	// RolePublisher is the seeder: it holds every piece it publishes and uploads each new piece
	// a bounded number of times.
	RolePublisher
)

func (r Role) String() string {
	if r == RolePublisher {
		return "publisher"
	}
	return "viewer"
}

// Config tunes a Swarm. Zero values take the defaults documented on each field; only Stream
// is required.
type Config struct {
	Role   Role
	Stream protocol.Stream // the stream's identity; descriptors signed by another key are refused

	// Viewer playback.
	Rendition     int           // rendition id to play (default 0; the descriptor's first if absent); -1 = none (relay only)
	TargetLatency time.Duration // how far behind the live edge playback runs (default 3 x target duration, at least MinDefaultLatency; at most the window less a target duration)
	StartupDelay  time.Duration // planned time from tune-in to the first segment's deadline (default 1 s)
	TuneInWait    time.Duration // longest wait for more peers' records before choosing the start (default 500 ms)
	UrgentHorizon time.Duration // pieces due within this are picked by deadline, later ones rarest-first (default TargetLatency/2)

	// Requests we send.
	InitialPeerRate float64       // bytes/s assumed for a peer before it is measured (default 256 KiB/s)
	InitialLatency  time.Duration // request latency assumed before it is measured (default 100 ms)
	MaxPipeline     int           // most requests outstanding at one peer (default 64; also capped by its reqq)
	RequestTimeout  time.Duration // a request unanswered this long is dropped and re-requested (default 10 s)
	RejectBackoff   time.Duration // after a REJECT, do not ask that peer for the piece for this long (default 500 ms)
	ResortEvery     time.Duration // at most this often the pick order is re-sorted for availability (default 200 ms)

	// Requests we serve and choking.
	Reqq             int           // most requests we queue from one peer; advertised as reqq (default 256)
	UploadInFlight   int           // DATA bytes handed to the driver but not reported Written, per peer (default 64 KiB; -1: no limit, Written not needed)
	UploadQueueDelay time.Duration // all peers' unwritten DATA is kept near this much of our upload rate (default 100 ms)
	UnchokeSlots     int           // viewer: peers unchoked by tit-for-tat (default 8)
	RechokeEvery     time.Duration // viewer: tit-for-tat period (default 10 s)
	OptimisticEvery  time.Duration // rotation period of the optimistic unchoke (default 10 s)
	UploadHint       uint64        // our upload capacity in bytes/s, advertised as lt_up (0 = unknown)

	// Publisher.
	PublisherCopies int           // copies of each new piece uploaded before it must spread (default 2)
	PublicAfter     time.Duration // a new piece is announced to every peer after this (default target duration / 2, 0.5..2 s)
	SpreadCheck     time.Duration // period of the check that widens a piece that is not spreading (default 250 ms)

	// Origin fallback (viewer).
	DisableOrigin    bool          // never ask the driver to fetch from the origin
	OriginLead       time.Duration // fetch a piece from the origin when its deadline is this close and it is missing (default 1 s)
	MaxOriginFetches int           // origin fetches in flight (default 4)
	// MaxOriginShare caps the origin's share of the bytes a viewer receives (0 or 1 = no
	// cap), beyond an allowance of two segments for a cold start.
	MaxOriginShare float64
	// OriginJitter spreads the origin fetches of viewers that see the same piece late: each
	// waits a random time below it first (default OriginLead / 4; negative = none).
	OriginJitter time.Duration
	// Seed seeds the core's pseudo-random choices (origin jitter): the driver passes a
	// random value, simulations a fixed one.
	Seed uint64
	// NoPayload is for simulators only: nothing is verified. Pieces are carried as
	// lengths: the core keeps no piece bytes, sends DATA blocks of zero bytes with the
	// right length, takes any DATA or origin data of the right length as the genuine
	// piece, skips record signatures, and delivers segments without bytes. It lets one
	// process run thousands of cores; no command or application sets it.
	NoPayload bool

	// Limits.
	TickInterval    time.Duration // housekeeping period while peers are connected (default 100 ms)
	MaxPeers        int           // connections accepted (default 200)
	TargetPeers     int           // above this many, a viewer closes peers idle for IdlePeerTimeout (default 50, or MaxPeers if lower; at most MaxPeers)
	IdlePeerTimeout time.Duration // default 2 min
	MaxStoreBytes   int64         // piece bytes kept, oldest evicted beyond it (default 512 MiB)
	MaxSegmentLen   uint64        // larger segments are relayed as records but never downloaded (default 256 MiB)
	MaxHaveSpans    int           // disjoint HAVE ranges kept per peer; more is a flood (default 4096)
	MaxStrikes      int           // bad pieces from one peer before it is banned (default 2)
	MaxUnrequested  int           // unrequested DATA bytes from one peer before it is closed (default 1 MiB)
	RecordRate      float64       // RECORD and DESCRIPTOR messages per second per peer (default 16, burst 256)
	HaveRate        float64       // HAVE messages per second per peer (default 512, burst 1024)
}

// Defaults of the limits that the commands expose as flags (the other defaults are on the
// Config fields).
const (
	DefaultMaxPeers      = 200
	DefaultReqq          = 256
	DefaultRecordRate    = 16
	DefaultMaxStoreBytes = 512 << 20
)

// Errors reported in Close actions. Close.Err wraps one of them.
var (
	ErrProtocol     = errors.New("protocol violation")
	ErrFlood        = errors.New("message flood")
	ErrBadData      = errors.New("bad piece data")
	ErrBadSignature = errors.New("badly signed stream data")
	ErrTooManyPeers = errors.New("too many peers")
	ErrIdle         = errors.New("idle peer closed to make room")
)

// unlimitedInFlight disables upload credit: Written events are not needed.
const unlimitedInFlight = 1<<31 - 1

func (c *Config) setDefaults() error {
	if err := c.Stream.Validate(); err != nil {
		return err
	}
	if c.Stream.Key == (protocol.PublicKey{}) {
		return fmt.Errorf("livetorrent: config: stream key is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.StartupDelay, time.Second)
	def(&c.TuneInWait, 500*time.Millisecond)
	def(&c.InitialLatency, 100*time.Millisecond)
	def(&c.RequestTimeout, 10*time.Second)
	def(&c.RejectBackoff, 500*time.Millisecond)
	def(&c.IdlePeerTimeout, 2*time.Minute)
	def(&c.ResortEvery, 200*time.Millisecond)
	def(&c.RechokeEvery, 10*time.Second)
	def(&c.OptimisticEvery, 10*time.Second)
	def(&c.SpreadCheck, 250*time.Millisecond)
	def(&c.UploadQueueDelay, 100*time.Millisecond)
	def(&c.OriginLead, time.Second)
	switch {
	case c.OriginJitter == 0:
		c.OriginJitter = c.OriginLead / 4
	case c.OriginJitter < 0:
		c.OriginJitter = 0
	}
	def(&c.TickInterval, 100*time.Millisecond)
	if c.InitialPeerRate <= 0 {
		c.InitialPeerRate = 256 << 10
	}
	defInt(&c.MaxPipeline, 64)
	defInt(&c.Reqq, DefaultReqq)
	c.Reqq = min(c.Reqq, protocol.MaxReqq)
	switch {
	case c.UploadInFlight < 0:
		c.UploadInFlight = unlimitedInFlight // the driver paces uploads itself
	case c.UploadInFlight == 0:
		c.UploadInFlight = 64 << 10
	default:
		c.UploadInFlight = max(c.UploadInFlight, protocol.BlockSize)
	}
	defInt(&c.UnchokeSlots, 8)
	defInt(&c.PublisherCopies, 2)
	defInt(&c.MaxOriginFetches, 4)
	defInt(&c.MaxPeers, DefaultMaxPeers)
	defInt(&c.TargetPeers, min(50, c.MaxPeers))
	if c.TargetPeers > c.MaxPeers {
		return fmt.Errorf("livetorrent: config: target peers %d above max peers %d", c.TargetPeers, c.MaxPeers)
	}
	defInt(&c.MaxHaveSpans, 4096)
	defInt(&c.MaxStrikes, 2)
	defInt(&c.MaxUnrequested, 1<<20)
	if c.MaxStoreBytes <= 0 {
		c.MaxStoreBytes = DefaultMaxStoreBytes
	}
	if c.MaxSegmentLen == 0 {
		c.MaxSegmentLen = 256 << 20
	}
	if c.RecordRate <= 0 {
		c.RecordRate = DefaultRecordRate
	}
	if c.HaveRate <= 0 {
		c.HaveRate = 512
	}
	if c.Role != RoleViewer && c.Role != RolePublisher {
		return fmt.Errorf("livetorrent: config: unknown role %d", c.Role)
	}
	return nil
}

// MinDefaultLatency is the least default target latency. Three target durations (what
// RFC 8216 Section 6.3.3 advises at least) leave short segments too little time to cross
// the swarm: with 2 s segments a piece has about 4 s to reach a viewer before its origin
// fallback starts, while in a swarm of thousands it crosses several relay hops of uplinks
// near the bitrate and arrives after about 4 s at the median. A flash crowd then falls back
// on the origin all at once and stalls (see NOTES.md, "Target latency").
const MinDefaultLatency = 8 * time.Second

// streamTimes are the durations that depend on the descriptor, fixed when it arrives.
type streamTimes struct {
	target      time.Duration // EXT-X-TARGETDURATION
	window      time.Duration // how long pieces are kept behind the live edge
	latency     time.Duration // TargetLatency
	horizon     time.Duration // UrgentHorizon
	publicAfter time.Duration
}

func (c *Config) timesFor(d *protocol.Descriptor) streamTimes {
	t := streamTimes{target: d.TargetDuration, window: d.WindowDuration, latency: c.TargetLatency,
		horizon: c.UrgentHorizon, publicAfter: c.PublicAfter}
	if t.latency <= 0 {
		t.latency = max(3*t.target, MinDefaultLatency)
	}
	if most := max(t.window-t.target, t.target); t.latency > most {
		// Segments further behind the live edge than the window are evicted before their
		// deadline: a viewer asked to play later would wait for media it can never hold.
		t.latency = most
	}
	if t.horizon <= 0 {
		t.horizon = t.latency / 2
	}
	if t.publicAfter <= 0 {
		t.publicAfter = min(max(t.target/2, 500*time.Millisecond), 2*time.Second)
	}
	return t
}
