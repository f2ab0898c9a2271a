package sim

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
)

// Options are what a run needs beyond its scenario.
type Options struct {
	// Workers is how many goroutines process nodes (default 1). Results do not depend on
	// it: nodes are independent within a window and their messages are merged in a fixed
	// order.
	Workers int
	// Progress, when set, gets a line every ProgressEvery of virtual time (default 10 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// AtEnd, when set, is called after the last window while every node is still live
	// (for a heap profile of the run's state).
	AtEnd func()
}

// Sim is one run: the nodes, their partitions, the audience and the stream.
type Sim struct {
	sc    *Scenario
	opt   Options
	width vtime // window: no message crosses between nodes in less than this
	epoch time.Time

	nodes   []*node
	parts   []*part
	present []int32 // viewers present, in join order (swap-removed on leave)
	pos     map[int32]int
	rng     *rand.Rand // the audience's draws: caps, latencies, who leaves
	zeros   []byte     // every payload: a segment's worth of zero bytes, never written
	cmds    []Command  // joins expanded one per viewer
	next    int        // first command not applied
	joined  int        // viewers that joined so far
	str     stream
	err     error

	metrics metrics
	started time.Time
}

// part is one worker's share of the nodes (id modulo the worker count) and its calendar.
type part struct {
	id     int
	cal    calendar
	active []int32   // nodes listed for this window
	out    [][]event // messages its nodes sent in this window, per destination partition
	in     inbox     // messages bound for its nodes, by window of arrival
}

const second = vtime(time.Second)

// reannounceEvery is how often a viewer that lost neighbours asks the tracker for more.
const reannounceEvery = 10 * second

// Run simulates the scenario and returns its result.
func Run(sc *Scenario, opt Options) (*Result, error) {
	s, err := newSim(sc, opt)
	if err != nil {
		return nil, err
	}
	s.started = time.Now()
	end := vtime(sc.Duration)
	every := vtime(opt.ProgressEvery)
	if every <= 0 {
		every = 10 * second
	}
	s.sample(0)
	for k := int64(0); vtime(k)*s.width < end; k++ {
		ws := vtime(k) * s.width
		we := ws + s.width
		s.applyCommands(we)
		if ws%reannounceEvery == 0 && ws > 0 {
			s.reannounce(ws)
		}
		s.parallel(func(p *part) { s.process(p, k, we) })
		s.parallel(func(p *part) { s.merge(p) })
		if s.err != nil {
			return nil, s.err
		}
		if we%second == 0 {
			s.sample(we)
			if opt.Progress != nil && we%every == 0 {
				s.printProgress(opt.Progress)
			}
		}
	}
	if opt.AtEnd != nil {
		opt.AtEnd()
	}
	return s.result(), nil
}

func newSim(sc *Scenario, opt Options) (*Sim, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if opt.Workers < 1 {
		opt.Workers = 1
	}
	s := &Sim{sc: sc, opt: opt, width: windowFor(sc), epoch: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		pos: map[int32]int{}, rng: rand.New(rand.NewPCG(sc.Seed, 0x73696d))}
	for w := range opt.Workers {
		s.parts = append(s.parts, &part{id: w, cal: newCalendar(s.width), in: newInbox(s.width), out: make([][]event, opt.Workers)})
	}
	s.zeros = make([]byte, s.maxSegment()+int(sc.Piece))
	if err := s.str.init(sc, s.epoch); err != nil {
		return nil, err
	}
	origin := s.addNode(roleOrigin)
	origin.upNs = nsPerByte(sc.OriginCap * sc.Bitrate / 8)
	origin.srv = newOriginServer()
	seeder := s.addNode(roleSeeder)
	seeder.upCap = sc.SeederUp * sc.Bitrate / 8
	seeder.upNs = nsPerByte(seeder.upCap)
	seeder.access = s.drawAccess()
	var err error
	seeder.sw, err = livetorrent.New(livetorrent.Config{Role: livetorrent.RolePublisher, Stream: s.str.desc.Stream,
		PublisherCopies: sc.Copies, UploadHint: uint64(seeder.upCap), MaxPeers: sc.SeederPeers, NoPayload: true, Seed: 1})
	if err != nil {
		return nil, err
	}
	seeder.push(event{at: 0, kind: evPublish})
	s.schedule(seeder)
	for _, c := range sc.Commands {
		if c.Kind != CmdJoin {
			s.cmds = append(s.cmds, c)
			continue
		}
		for i := range c.N {
			at := c.At
			if c.N > 1 {
				at += c.Over * time.Duration(i) / time.Duration(c.N)
			}
			s.cmds = append(s.cmds, Command{At: at, Kind: CmdJoin, N: 1})
		}
	}
	slices.SortStableFunc(s.cmds, func(a, b Command) int { return int(a.At - b.At) })
	return s, nil
}

// windowFor is the window width: at most the smallest latency between two nodes (links and
// the origin), rounded down to a divisor of a second so that samples and commands fall on
// window boundaries.
func windowFor(sc *Scenario) vtime {
	minLat := sc.LatencyMin
	if !sc.NoOrigin {
		minLat = min(minLat, sc.OriginLat)
	}
	w := time.Millisecond
	for _, d := range []time.Duration{2, 4, 5, 10, 20, 25, 50, 100, 200, 250, 500} {
		if d*time.Millisecond <= minLat {
			w = d * time.Millisecond
		}
	}
	return vtime(w)
}

func nsPerByte(bytesPerSec float64) float64 {
	if bytesPerSec <= 0 {
		return 0
	}
	return 1e9 / bytesPerSec
}

func (s *Sim) wall(t vtime) time.Time { return s.epoch.Add(time.Duration(t)) }

func (s *Sim) virtual(t time.Time) vtime { return vtime(t.Sub(s.epoch)) }

func (s *Sim) addNode(r role) *node {
	id := len(s.nodes)
	n := &node{id: int32(id), role: r, wake: never, cal: -1, part: s.parts[id%len(s.parts)],
		rng: rand.New(rand.NewPCG(s.sc.Seed, uint64(id)))}
	s.nodes = append(s.nodes, n)
	return n
}

// schedule lists a node in its partition's calendar after events were queued for it
// outside its worker (between windows).
func (s *Sim) schedule(n *node) {
	s.parts[int(n.id)%len(s.parts)].cal.add(n, n.nextTime())
}

// parallel runs fn for every partition, one goroutine each.
func (s *Sim) parallel(fn func(p *part)) {
	if len(s.parts) == 1 {
		fn(s.parts[0])
		return
	}
	var wg sync.WaitGroup
	for _, p := range s.parts[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); fn(p) }()
	}
	fn(s.parts[0])
	wg.Wait()
}

// process runs the partition's nodes that have events in window k, up to end: first those
// that receive messages in it (each runs on its group from the inbox), then the rest of
// those its calendar lists.
func (s *Sim) process(p *part, k int64, end vtime) {
	for _, msgs := range p.in.take(k, len(s.parts), len(s.nodes)) {
		if n := s.nodes[msgs[0].to]; !n.gone {
			sortEvents(msgs)
			s.runListed(p, n, msgs, end)
		}
	}
	p.active = p.cal.take(k, s.nodes, p.active[:0])
	for _, id := range p.active {
		if n := s.nodes[id]; n.cal == k && !n.gone {
			s.runListed(p, n, nil, end)
		}
	}
}

// runListed runs n on in and its own events up to end and lists it in the calendar for
// its next own event. Any entry it had is stale from here on.
func (s *Sim) runListed(p *part, n *node, in []event, end vtime) {
	n.cal = -1
	s.run(n, in, end)
	if !n.gone {
		p.cal.add(n, n.nextTime())
	}
}

// merge files the messages sent in the window for the partition's receivers in its inbox.
// The queues order events by time, sender and the sender's numbering, so the order in which
// they are filed here does not matter.
func (s *Sim) merge(p *part) {
	for _, q := range s.parts {
		msgs := q.out[p.id]
		for i := range msgs {
			p.in.add(&msgs[i])
		}
		clear(msgs)
		q.out[p.id] = msgs[:0]
	}
}

// applyCommands carries out the commands due before end, between windows.
func (s *Sim) applyCommands(end vtime) {
	for s.next < len(s.cmds) && vtime(s.cmds[s.next].At) < end {
		c := s.cmds[s.next]
		s.next++
		at := vtime(c.At)
		count := func() int {
			if c.Share > 0 {
				return int(math.Round(c.Share * float64(len(s.present))))
			}
			return c.N
		}
		switch c.Kind {
		case CmdJoin:
			if err := s.join(at); err != nil && s.err == nil {
				s.err = err
			}
		case CmdLeave:
			for range min(count(), len(s.present)) {
				s.leave(s.present[s.rng.IntN(len(s.present))], at)
			}
		case CmdCut:
			var open []int32
			for _, id := range s.present {
				if !s.nodes[id].cut {
					open = append(open, id)
				}
			}
			for range min(count(), len(open)) {
				i := s.rng.IntN(len(open))
				s.cutRoutes(s.nodes[open[i]], at)
				open = slices.Delete(open, i, i+1)
			}
		}
	}
}

func (s *Sim) errorf(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, args...)
	}
}
