package livetorrent

import (
	"fmt"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// Swarm is the engine core for one stream: a deterministic state machine. Handle takes the
// current time and one event and returns the actions to perform. It never blocks, starts
// goroutines, reads a clock or does I/O; it is not safe for concurrent use.
type Swarm struct {
	cfg     Config
	desc    *protocol.Descriptor
	descRaw []byte
	times   streamTimes
	ps      uint32            // piece size, fixed by the first descriptor
	pointer DescriptorPointer // the newest descriptor known from outside the swarm

	st    store
	peers []*peer // connection order; iteration order must be deterministic
	// askable has the slots of the peers we can expect a piece from: they unchoke us and
	// answer our requests (see otherAskable).
	askable  peerSet
	byHandle map[PeerHandle]*peer
	// recent caches byHandle by the handle's low bits: most events are for one of a few
	// dozen connected peers, and a map lookup per event showed in profiles.
	recent [64]*peer
	slots  []int // free peer slots
	nslots int
	// holdWords is the words per piece of segment.held: slots stay below MaxPeers.
	holdWords int

	now time.Time
	out []Action

	// Work collected during one Handle call and done once at its end.
	verifiedNow []uint64
	fillAll     bool
	fillFor     []*peer

	pick   pickState
	play   playState
	pub    pubState
	origin originState
	up     chokeState
	upl    uploadState
	rel    relayState

	nextTick       time.Time
	wakeSent       time.Time
	windowSentAt   time.Time
	windowSentFrom uint64
	lastSlow       time.Time

	stats Stats
}

// New returns a core for cfg.Stream.
func New(cfg Config) (*Swarm, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Swarm{cfg: cfg, byHandle: make(map[PeerHandle]*peer), holdWords: (cfg.MaxPeers + 63) / 64}
	s.st.noPayload = cfg.NoPayload
	s.play.bySeq = make(map[uint64]*segment)
	return s, nil
}

// Config returns the configuration with defaults applied.
func (s *Swarm) Config() Config { return s.cfg }

// Pointer is the newest descriptor pointer the core was given (zero if none).
func (s *Swarm) Pointer() DescriptorPointer { return s.pointer }

// Descriptor returns the stream descriptor the core holds, or nil. Read-only.
func (s *Swarm) Descriptor() *protocol.Descriptor { return s.desc }

// LocalExtHandshake returns the live keys of our extended handshake: reqq, window,
// descriptor sequence, upload hint and version. The driver sets LiveID, PexID, Client, Port
// and YourIP.
func (s *Swarm) LocalExtHandshake() protocol.ExtHandshake {
	h := protocol.ExtHandshake{LiveID: 1, Version: protocol.Version, Reqq: uint32(s.cfg.Reqq),
		UploadHint: s.cfg.UploadHint}
	if s.desc != nil {
		h.DescriptorSeq = s.desc.Seq
	}
	if len(s.st.segs) > 0 {
		h.Window, h.HasWindow = s.st.window(), true
	}
	return h
}

// Handle processes one event at time now (which must not go backwards; an earlier time is
// treated as the latest seen). The returned actions must be executed in order; the slice is
// reused by the next call.
func (s *Swarm) Handle(now time.Time, ev Event) []Action {
	s.begin(now)
	switch e := ev.(type) {
	case PeerUp:
		s.onPeerUp(e)
	case PeerDown:
		if p := s.peerFor(e.Peer); p != nil {
			s.dropPeer(p)
		}
	case Received:
		return s.HandleReceived(now, e.Peer, e.Msg)
	case ControlReceived:
		if p := s.peerFor(e.Peer); p != nil {
			s.onControl(p, e.Kind)
		}
	case Written:
		return s.HandleWritten(now, e.Peer, e.Bytes)
	case Tick:
		s.play.recheck = true // time passed: a held first segment, a missing init segment
		if !s.now.Before(s.nextTick) {
			s.housekeeping()
		}
	case Publish:
		s.onPublish(e)
	case OriginData:
		s.onOriginData(e)
	case DescriptorPointer:
		if e.Seq > s.pointer.Seq {
			s.pointer = e
		}
	}
	s.finish()
	return s.out
}

// HandleReceived is Handle(now, Received{Peer: peer, Msg: msg}) without boxing the event:
// the entry for the most frequent events of a driver that runs many cores.
func (s *Swarm) HandleReceived(now time.Time, peer PeerHandle, msg protocol.Message) []Action {
	if p := s.begin(now).peerFor(peer); p != nil {
		s.onMessage(p, msg)
	}
	s.finish()
	return s.out
}

// HandleWritten is Handle(now, Written{Peer: peer, Bytes: n}) without boxing the event.
func (s *Swarm) HandleWritten(now time.Time, peer PeerHandle, n int) []Action {
	if p := s.begin(now).peerFor(peer); p != nil {
		s.onWritten(p, n)
	}
	s.finish()
	return s.out
}

// begin starts handling an event at now: the previous call's actions are dropped.
func (s *Swarm) begin(now time.Time) *Swarm {
	s.out = s.out[:0]
	if now.After(s.now) {
		s.now = now
	}
	return s
}

// finish does the work an event left pending: announce verified pieces, deliver, request
// more, and ask for the next tick.
func (s *Swarm) finish() {
	s.announceVerified()
	if s.cfg.Role == RoleViewer {
		if !s.play.tuned {
			s.tuneInCheck()
		}
		s.deliverReady()
		if s.fillAll {
			s.fill(s.peers)
			s.filledAll()
		} else {
			for _, p := range s.fillFor {
				if !p.gone {
					s.fill1(p)
				}
			}
		}
	}
	s.fillAll = false
	for _, p := range s.fillFor {
		p.queuedFill = false
	}
	clear(s.fillFor)
	s.fillFor = s.fillFor[:0]
	if s.nextTick.IsZero() || !s.nextTick.After(s.now) {
		s.nextTick = s.now.Add(s.cfg.TickInterval)
	} else if s.tickPeriod() < slowTick {
		// Deadline work became pending while idle: come back within TickInterval.
		s.wakeBy(s.now.Add(s.cfg.TickInterval))
	}
	if !s.nextTick.Equal(s.wakeSent) {
		s.wakeSent = s.nextTick
		s.out = append(s.out, Action{Kind: ActWakeAt, At: s.nextTick})
	}
}

// housekeeping runs on ticks: deadline work every TickInterval, bookkeeping whose
// precision does not matter (rates, timeouts, interest, choking, WINDOW) once a second.
func (s *Swarm) housekeeping() {
	s.evict()
	s.updateUploadRate()
	s.relaySweep()
	slow := s.now.Sub(s.lastSlow) >= slowTick
	if slow {
		s.lastSlow = s.now
		for _, p := range s.peers {
			s.updateRates(p)
			s.expireRequests(p)
			s.checkSnubbed(p)
		}
		s.checkWriteStalls()
		s.chokeTick()
		s.windowTick()
		s.pruneIdle()
	}
	if s.cfg.Role == RoleViewer {
		s.tuneInCheck()
		marked := s.markLate()
		s.originCheck()
		s.skipMissing()
		if slow {
			s.reviewInterest()
		}
		if slow || s.timeToFill(marked) {
			s.refill()
		}
	} else {
		s.pubTick()
	}
	s.nextTick = s.now.Add(s.tickPeriod())
}

// slowTick is the period of the bookkeeping part of housekeeping, and the tick period of
// an idle core.
const slowTick = time.Second

// tickPeriod is TickInterval while deadlines or the publisher's rationing need watching,
// slowTick otherwise.
func (s *Swarm) tickPeriod() time.Duration {
	switch {
	case s.cfg.Role == RolePublisher && (len(s.pub.demanded) > 0 || s.pub.publicEnd < s.st.window().End):
	case s.cfg.Role == RoleViewer && (s.pick.dirty || len(s.pick.order) > 0 || len(s.origin.inflight) > 0):
	default:
		return slowTick
	}
	return s.cfg.TickInterval
}

// broadcast sends m to every peer; the message is boxed once for all of them.
func (s *Swarm) broadcast(m protocol.Message) {
	for _, p := range s.peers {
		s.out = append(s.out, Action{Kind: ActSend, Peer: p.h, Msg: m})
	}
}

// wakeBy makes the next tick come no later than t.
func (s *Swarm) wakeBy(t time.Time) {
	if t.After(s.now) && t.Before(s.nextTick) {
		s.nextTick = t
	}
}

// peerFor returns the connected peer with handle h.
func (s *Swarm) peerFor(h PeerHandle) *peer {
	slot := &s.recent[uint64(h)%uint64(len(s.recent))]
	if p := *slot; p != nil && p.h == h {
		return p
	}
	p := s.byHandle[h]
	if p != nil {
		*slot = p
	}
	return p
}

func (s *Swarm) send(p *peer, m protocol.Message) {
	s.out = append(s.out, Action{Kind: ActSend, Peer: p.h, Msg: m})
}

func (s *Swarm) control(p *peer, c Control) {
	s.out = append(s.out, Action{Kind: ActControl, Peer: p.h, Control: c})
}

// closePeer closes p's connection and forgets it.
func (s *Swarm) closePeer(p *peer, ban bool, err error, format string, args ...any) {
	if p.gone {
		return
	}
	if format != "" {
		err = fmt.Errorf("%w: %s", err, fmt.Sprintf(format, args...))
	}
	s.out = append(s.out, Action{Kind: ActClose, Peer: p.h, Err: err, Ban: ban})
	s.stats.Closes++
	if ban {
		s.stats.Bans++
	}
	s.dropPeer(p)
}

// wantFill schedules a request round for p at the end of this Handle call.
func (s *Swarm) wantFill(p *peer) {
	if s.fillAll || p.queuedFill {
		return
	}
	p.queuedFill = true
	s.fillFor = append(s.fillFor, p)
}

// announceVerified sends one HAVE per run of adjacent pieces verified in this call to the
// peers that lack some of it, and always to the seeder, which measures how its pieces
// spread (announceRun). (A viewer relays at once; the publisher announces its own pieces
// by its upload policy instead.)
func (s *Swarm) announceVerified() {
	v := s.verifiedNow
	if len(v) == 0 {
		return
	}
	s.verifiedNow = v[:0]
	if s.cfg.Role != RoleViewer {
		return
	}
	sortU64(v)
	for i := 0; i < len(v); {
		j := i + 1
		for j < len(v) && v[j] == v[j-1]+1 && j-i < protocol.MaxHaveCount {
			j++
		}
		s.announceRun(v[i], v[j-1]+1)
		i = j
	}
}

func sortU64(v []uint64) {
	for i := 1; i < len(v); i++ { // nearly always sorted already: insertion sort
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}
