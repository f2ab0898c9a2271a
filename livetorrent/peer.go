package livetorrent

import (
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// peer is everything the core knows about one connection. The fields a request round
// reads for every candidate (canRequest, depth, expectedAt, the exhausted memo) come first,
// so that a round touches one or two cache lines per peer.
type peer struct {
	h           PeerHandle
	slot        int  // small integer for peerSet bitsets, reused after the peer leaves
	gone        bool // closed or down: pending work for it is skipped
	peerChoking bool
	queuedFill  bool
	nActive     int
	outBytes    int
	depthCap    int           // after a REJECT(queue full): fewer requests until it recovers
	rate        float64       // bytes/s it delivers to us while it has requests outstanding (EWMA)
	latency     time.Duration // measured from answers to requests sent while it was idle
	reqq        uint32        // the requests it queues (its handshake's reqq; 0: unstated)
	exhausted   uint64        // pickState.gen+1 when a round left it with free slots (0: not)
	// Pieces it announced since that round, while exhausted is current: the only ones
	// that can be new work for it (empty when hintEnd <= hintFirst).
	hintFirst, hintEnd uint64
	hinted             bool         // in the current round: exhausted, only its hint can give work
	backoff            []pieceUntil // pieces not to ask it for until a time (after a REJECT)

	addr     string
	outbound bool
	seeder   bool // reached through the link's addresses: counted as the seeder in Stats
	ext      protocol.ExtHandshake
	upAt     time.Time

	window protocol.Window // the peer's advertised window; its pieces below First are forgotten
	have   rangeSet        // pieces it announced
	dseq   uint64          // descriptor sequence it holds (as far as we know)

	amChoking, amInterested bool
	peerInterested          bool
	optimistic              bool
	lastUseful              time.Time // it last had something we wanted
	lastData                time.Time // piece data last moved either way (checked each slow tick)
	dataSeen                int64     // bytesDown+bytesUp at lastData

	// Requests we sent, oldest first. Cancelled entries stay until they expire so that a
	// block racing the cancel is not counted as unrequested.
	sent []sentReq

	// Requests it sent us, served in order within our upload credit.
	queue    fifo
	inflight int // DATA bytes handed to the driver and not yet reported written
	// Part of inflight no longer counted against the node's upload budget because the peer
	// stopped taking our data (see checkWriteStalls), and when its writes last progressed.
	stalledBytes int
	writtenAt    time.Time
	waiting      bool // in uploadState.waiting

	// Measurements.
	recvRate    float64 // bytes/s it delivers to us, averaged over time (EWMA): tit-for-tat
	sendRate    float64 // bytes/s we upload to it (EWMA)
	busySince   time.Time
	busy        time.Duration
	tickDown    int
	tickUp      int
	tickRecv    int
	lastRate    time.Time
	bytesDown   int64
	bytesUp     int64
	unrequested int
	strikes     int
	snubbed     bool // a request to it waits longer than snubAfter (see checkSnubbed)

	records  bucket
	haves    bucket
	controls bucket

	// Publisher.
	spread     float64        // credit for pieces it re-uploaded
	publicTo   uint64         // every piece below this has been announced to it
	pubRejects map[uint64]int // piece -> requests refused for the copy limit
}

// hint tells p's next request round that pieces [first, end) changed for it. A peer that
// had nothing to give keeps that memo and looks at these pieces only; any other peer walks
// the whole order anyway.
func (s *Swarm) hint(p *peer, first, end uint64) {
	switch {
	case p.exhausted != s.pick.gen+1:
		p.exhausted = 0
	case p.hintEnd <= p.hintFirst:
		p.hintFirst, p.hintEnd = first, end
	default:
		p.hintFirst, p.hintEnd = min(p.hintFirst, first), max(p.hintEnd, end)
	}
}

type sentReq struct {
	ref       protocol.BlockRef
	at        time.Time
	cancelled bool
	idle      bool // nothing else was outstanding: the answer measures latency
}

type pieceUntil struct {
	piece uint64
	until time.Time
	n     int // refusals after the first
}

// fifo is a peer's queue of requests to serve. Each entry carries a node-wide arrival
// number, so that requests are served in arrival order across peers.
type fifo struct {
	buf  []queued
	head int
}

type queued struct {
	ref protocol.BlockRef
	seq uint64
	at  time.Time // when it arrived
}

func (q *fifo) len() int      { return len(q.buf) - q.head }
func (q *fifo) front() queued { return q.buf[q.head] }
func (q *fifo) push(r queued) { q.buf = append(q.buf, r) }
func (q *fifo) pop() protocol.BlockRef {
	r := q.buf[q.head].ref
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head > 64 && q.head*2 > len(q.buf) {
		n := copy(q.buf, q.buf[q.head:])
		q.buf, q.head = q.buf[:n], 0
	}
	return r
}

// remove deletes the first entry for r.
func (q *fifo) remove(r protocol.BlockRef) bool {
	i := q.index(r)
	if i < 0 {
		return false
	}
	copy(q.buf[i:], q.buf[i+1:])
	q.buf = q.buf[:len(q.buf)-1]
	return true
}

// removeBelow deletes the entries for pieces below first, calling fn for each in order, and
// reports whether it deleted any.
func (q *fifo) removeBelow(first uint64, fn func(protocol.BlockRef)) bool {
	n := q.head
	for i := q.head; i < len(q.buf); i++ {
		if q.buf[i].ref.Piece < first {
			fn(q.buf[i].ref)
			continue
		}
		q.buf[n] = q.buf[i]
		n++
	}
	removed := n < len(q.buf)
	clear(q.buf[n:])
	q.buf = q.buf[:n]
	return removed
}

// index returns the position in buf of the first entry for r, or -1.
func (q *fifo) index(r protocol.BlockRef) int {
	for i := q.head; i < len(q.buf); i++ {
		if q.buf[i].ref == r {
			return i
		}
	}
	return -1
}

func (s *Swarm) onPeerUp(e PeerUp) {
	if s.peerFor(e.Peer) != nil {
		return
	}
	if len(s.peers) >= s.cfg.MaxPeers {
		s.out = append(s.out, Action{Kind: ActClose, Peer: e.Peer, Err: ErrTooManyPeers})
		return
	}
	p := &peer{h: e.Peer, addr: e.Addr, outbound: e.Outbound, seeder: e.Seeder, ext: e.Ext, reqq: e.Ext.Reqq, upAt: s.now,
		amChoking: true, peerChoking: true, dseq: e.Ext.DescriptorSeq, lastUseful: s.now, lastData: s.now,
		latency: s.cfg.InitialLatency, rate: s.cfg.InitialPeerRate, lastRate: s.now}
	if e.Ext.UploadHint > 0 {
		p.rate = float64(e.Ext.UploadHint)
	}
	if e.Ext.HasWindow {
		p.window = e.Ext.Window
	}
	ns := s.now.UnixNano()
	p.records = newBucket(s.cfg.RecordRate, 256, ns)
	p.haves = newBucket(s.cfg.HaveRate, 1024, ns)
	p.controls = newBucket(controlRate, controlBurst, ns)
	if n := len(s.slots); n > 0 {
		p.slot = s.slots[n-1]
		s.slots = s.slots[:n-1]
	} else {
		p.slot = s.nslots
		s.nslots++
	}
	s.peers = append(s.peers, p)
	s.byHandle[p.h] = p
	s.sendInitialState(p)
}

// maxInitialRecords bounds the records of the initial exchange: with the descriptor, well
// within the receiver's burst of 256 (spec 4.5, 10.3), leaving room for the records relayed
// in the first second after it.
const maxInitialRecords = 240

// sendInitialState tells a new peer what we hold: descriptor, records (oldest first),
// window and HAVE ranges.
func (s *Swarm) sendInitialState(p *peer) {
	if s.desc == nil {
		return
	}
	if p.dseq < s.desc.Seq {
		s.send(p, protocol.DescriptorMsg{Raw: s.descRaw})
		p.dseq = s.desc.Seq
	}
	// Receivers allow a burst of 256 records and descriptors (spec section 10): send the
	// newest maxInitialRecords records, oldest first. Long windows keep older segments to
	// themselves, and announce no pieces of them (a HAVE needs the record sent first).
	segs := s.st.segs
	if len(segs) > maxInitialRecords {
		segs = segs[len(segs)-maxInitialRecords:]
	}
	leaf := s.leaf() && !p.seeder // a leaf leaves records and HAVEs to the peers that relay
	if leaf {
		segs = nil
	}
	for _, g := range segs {
		s.send(p, protocol.RecordMsg{Raw: g.raw})
		g.knownBy.set(p.slot)
	}
	if len(s.st.segs) == 0 {
		return
	}
	from := s.st.segs[len(s.st.segs)-min(len(s.st.segs), maxInitialRecords)].rec.FirstPiece
	w := s.st.window()
	s.send(p, w)
	s.windowSentFrom = max(s.windowSentFrom, w.First)
	if s.cfg.Role == RolePublisher {
		p.publicTo = from // older records are not sent: their pieces are not announced
		s.pubAnnouncePublic(p)
		return
	}
	if leaf {
		return
	}
	// The newest runs, within the receiver's HAVE burst (spec 10.3): pieces held in more
	// separate runs than that (a sparse holder of a long window) are older, and the least
	// useful to announce.
	var runs []protocol.Have
	s.st.heldRuns(from, w.End, func(first, end uint64) {
		runs = append(runs, protocol.Have{First: first, Count: uint32(end - first)})
	})
	for _, h := range runs[max(0, len(runs)-maxInitialHaves):] {
		s.send(p, h)
	}
}

// maxInitialHaves bounds the HAVEs of the initial exchange well within the receiver's burst
// of 1024 (spec 4.5, 10.3), leaving room for the announcements of the next second.
const maxInitialHaves = 960

// dropPeer forgets p: its requests are released, its pieces no longer count as available.
func (s *Swarm) dropPeer(p *peer) {
	p.gone = true
	for i := range p.sent {
		if !p.sent[i].cancelled {
			s.releaseBlock(p, p.sent[i].ref)
		}
	}
	p.sent, p.nActive, p.outBytes = nil, 0, 0
	s.upl.inflight -= p.inflight - p.stalledBytes // the driver drops what it had queued for p
	p.inflight, p.stalledBytes = 0, 0
	s.syncWaiter(p)
	for _, sp := range p.have.spans {
		s.markHeld(p, sp.first, sp.end, false)
	}
	p.have.reset()
	for i, q := range s.peers {
		if q == p {
			copy(s.peers[i:], s.peers[i+1:])
			s.peers[len(s.peers)-1] = nil
			s.peers = s.peers[:len(s.peers)-1]
			break
		}
	}
	delete(s.byHandle, p.h)
	if slot := &s.recent[uint64(p.h)%uint64(len(s.recent))]; *slot == p {
		*slot = nil
	}
	for _, g := range s.st.segs {
		g.knownBy.clear(p.slot)
	}
	s.askable.clear(p.slot)
	s.slots = append(s.slots, p.slot)
	if !p.amChoking {
		s.up.freed = true
	}
	s.refill()
}

// A peer changes its choke and interest state a few times a minute. Each change can start a
// request round (an UNCHOKE brings up to a pipeline of REQUESTs, a CHOKE cancels them all),
// so a flood of them costs far more than its bytes (spec 10.3).
const (
	controlRate  = 16 // CHOKE, UNCHOKE, INTERESTED and NOT_INTERESTED per second
	controlBurst = 64
)

func (s *Swarm) onControl(p *peer, c Control) {
	if !p.controls.take(s.now.UnixNano()) {
		s.closePeer(p, false, ErrFlood, "more than %d choke and interest messages/s", controlRate)
		return
	}
	switch c {
	case Choke:
		if p.peerChoking {
			return
		}
		p.peerChoking = true
		s.setAskable(p)
		// A peer that chokes us rejects what it had queued; the blocks go to other peers now
		// and a block still racing in is accepted.
		for i := range p.sent {
			if !p.sent[i].cancelled {
				s.cancelSent(p, i, false)
			}
		}
		s.refill()
	case Unchoke:
		if p.peerChoking {
			p.peerChoking = false
			s.setAskable(p)
			s.wantFill(p)
		}
	case Interested:
		if !p.peerInterested {
			p.peerInterested = true
			s.onPeerInterested(p)
		}
	case NotInterested:
		p.peerInterested = false
	}
}

func (s *Swarm) onMessage(p *peer, m protocol.Message) {
	switch m := m.(type) {
	case protocol.Have:
		s.onHave(p, m)
	case protocol.Data:
		s.onData(p, m)
	case protocol.Request:
		s.onRequest(p, m.BlockRef)
	case protocol.Cancel:
		s.onCancel(p, m.BlockRef)
	case protocol.Reject:
		s.onReject(p, m)
	case protocol.Window:
		s.onWindow(p, m)
	case protocol.RecordMsg:
		if !p.records.take(s.now.UnixNano()) {
			s.closePeer(p, false, ErrFlood, "more than %.0f records/s", s.cfg.RecordRate)
			return
		}
		s.onRecord(p, m.Raw)
	case protocol.DescriptorMsg:
		if !p.records.take(s.now.UnixNano()) {
			s.closePeer(p, false, ErrFlood, "more than %.0f descriptors/s", s.cfg.RecordRate)
			return
		}
		s.onDescriptor(p, m.Raw)
	}
}

func (s *Swarm) onHave(p *peer, h protocol.Have) {
	if !p.haves.take(s.now.UnixNano()) {
		s.closePeer(p, false, ErrFlood, "more than %.0f HAVE/s", s.cfg.HaveRate)
		return
	}
	first, end := max(h.First, p.window.First), h.End()
	// Pieces far beyond anything published cannot be real: ignore them.
	end = min(end, max(s.st.highest, p.window.End, first)+protocol.MaxWindowPieces)
	if first >= end {
		return
	}
	useful := false
	s.heardHave(p, first, end) // it holds their records
	p.have.add(first, end, func(a, b uint64) {
		s.markHeld(p, a, b, true)
		if !useful && s.cfg.Role == RoleViewer && s.wantsAny(a, b) {
			useful = true
		}
		if s.cfg.Role == RolePublisher {
			s.pubCredit(p, a, b)
		}
	})
	if p.have.len() > s.cfg.MaxHaveSpans {
		s.closePeer(p, false, ErrFlood, "more than %d disjoint HAVE ranges", s.cfg.MaxHaveSpans)
		return
	}
	if useful {
		s.hint(p, first, end)
		p.lastUseful = s.now
		s.setInterested(p, true)
		if !p.peerChoking {
			s.wantFill(p)
		}
	}
}

func (s *Swarm) onWindow(p *peer, w protocol.Window) {
	if len(s.st.segs) > 0 {
		s.play.sawWindow = true // the peer sends its records before its WINDOW
	}
	if w.First < p.window.First {
		w.First = p.window.First // first never moves back
	}
	p.window = protocol.Window{First: w.First, End: max(w.End, w.First)}
	p.have.removeBelow(w.First, func(a, b uint64) { s.markHeld(p, a, b, false) })
	// It discarded everything below First: what we asked there will not come.
	for i := range p.sent {
		if !p.sent[i].cancelled && p.sent[i].ref.Piece < w.First {
			s.cancelSent(p, i, false)
			s.refill()
		}
	}
}

// markHeld records that p holds (announced) or no longer holds every known piece in
// [first, end).
func (s *Swarm) markHeld(p *peer, first, end uint64, held bool) {
	word, bit := p.slot>>6, uint64(1)<<(p.slot&63)
	segs := s.st.segs
	i := 0
	if n := len(segs); n > 0 && segs[n-1].rec.FirstPiece <= first {
		i = n - 1
	} else {
		i = s.st.search(first)
	}
	for ; i < len(segs) && segs[i].rec.FirstPiece < end; i++ {
		g := segs[i]
		a, b := max(first, g.rec.FirstPiece), min(end, g.rec.EndPiece())
		for q := a; q < b; q++ {
			k := int(q - g.rec.FirstPiece)
			if held {
				g.held[k*s.holdWords+word] |= bit
				continue
			}
			g.held[k*s.holdWords+word] &^= bit
			if g.wanted && !g.verified[k] && g.avail(k, s.holdWords) == 1 {
				s.pick.gen++ // a sole holder that rations is asked after all (assignPiece)
			}
		}
		if g.wanted {
			s.pick.availChanged = true
		}
	}
}

// wantsAny reports whether a piece in [first, end) is wanted and not yet verified.
func (s *Swarm) wantsAny(first, end uint64) bool {
	segs := s.st.segs
	for i := s.st.search(first); i < len(segs) && segs[i].rec.FirstPiece < end; i++ {
		g := segs[i]
		if !g.wanted {
			continue
		}
		a, b := max(first, g.rec.FirstPiece), min(end, g.rec.EndPiece())
		for q := a; q < b; q++ {
			if !g.verified[q-g.rec.FirstPiece] {
				return true
			}
		}
	}
	return false
}

// peerHasWanted reports whether p announced a wanted piece we lack.
func (s *Swarm) peerHasWanted(p *peer) bool {
	for _, g := range s.st.segs {
		if !g.wanted {
			continue
		}
		found := false
		p.have.overlaps(g.rec.FirstPiece, g.rec.EndPiece(), func(a, b uint64) {
			for q := a; q < b && !found; q++ {
				found = !g.verified[q-g.rec.FirstPiece]
			}
		})
		if found {
			return true
		}
	}
	return false
}

func (s *Swarm) setInterested(p *peer, v bool) {
	if p.amInterested == v || s.cfg.Role == RolePublisher {
		return
	}
	p.amInterested = v
	if v {
		s.control(p, Interested)
	} else {
		s.control(p, NotInterested)
	}
}

// reviewInterest withdraws interest from peers that have had nothing we want for a while.
func (s *Swarm) reviewInterest() {
	quiet := max(5*time.Second, 2*s.times.target)
	for _, p := range s.peers {
		if !p.amInterested || s.now.Sub(p.lastUseful) < quiet {
			continue
		}
		if s.peerHasWanted(p) {
			p.lastUseful = s.now
			continue
		}
		s.setInterested(p, false)
	}
}

// strike penalises p for a piece that failed its hash.
func (s *Swarm) strike(p *peer) {
	p.strikes++
	if p.strikes >= s.cfg.MaxStrikes {
		s.closePeer(p, true, ErrBadData, "%d pieces failed their hash", p.strikes)
	}
}
