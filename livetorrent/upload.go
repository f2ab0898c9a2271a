package livetorrent

import (
	"cmp"
	"slices"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// uploadState is the node-wide upload credit. Blocks handed to the driver wait in its
// socket queues; keeping that backlog near UploadQueueDelay of our measured upload rate
// means a block requested now leaves soon, instead of behind everything already queued.
// Requests are served in arrival order across peers: when several peers ask for a fresh
// piece, the first copy completes quickly and its holder starts relaying, instead of all
// copies crawling in parallel.
type uploadState struct {
	inflight int     // DATA bytes handed to the driver, not yet reported written
	rate     float64 // bytes/s reported written (EWMA)
	written  int     // since the last rate update
	lastRate time.Time
	waiting  []waiter // peers with queued requests, in no particular order
	seq      uint64   // arrival number of the last queued request
	backlog  bool     // requests waited for the in-flight budget since the last slow tick
}

func (s *Swarm) uploadBudget() int {
	if s.cfg.UploadInFlight == unlimitedInFlight {
		return unlimitedInFlight
	}
	return max(protocol.BlockSize, int(s.upl.rate*s.cfg.UploadQueueDelay.Seconds()))
}

func (s *Swarm) onWritten(p *peer, n int) {
	n = min(n, p.inflight)
	p.inflight -= n
	p.writtenAt = s.now
	uncounted := min(n, p.stalledBytes) // already taken out of the budget
	p.stalledBytes -= uncounted
	s.upl.inflight -= n - uncounted
	s.upl.written += n
	s.syncWaiter(p)
	s.pumpAll()
}

// uploadStallAfter is how long a peer's handed-out blocks may go without any write
// progress before they stop holding the node's upload budget. The budget is about 100 ms of
// uplink: a peer that stops reading its socket (and so never lets our blocks out) would
// otherwise hold it for good, and every other peer would get nothing until the driver's
// write timeout (30 s) closed the connection.
const uploadStallAfter = 2 * time.Second

// checkWriteStalls (each slow tick) takes the blocks of peers whose writes made no progress
// for uploadStallAfter out of the upload budget, and chokes those peers until they drain.
func (s *Swarm) checkWriteStalls() {
	released := false
	for _, p := range s.peers {
		if p.inflight <= p.stalledBytes || s.now.Sub(p.writtenAt) < uploadStallAfter {
			continue
		}
		s.upl.inflight -= p.inflight - p.stalledBytes
		p.stalledBytes = p.inflight
		s.choke(p)
		released = true
	}
	if released {
		s.pumpAll()
	}
}

// waiter is a peer with queued requests and copies of what choosing whom to serve next
// reads of it (servesBefore, its in-flight bytes, its queue length). That choice follows
// every written block and scans all waiting peers; reading each peer's state and queue
// instead was about 8% of a 10,000-viewer simulation's CPU time. syncWaiter keeps the
// copies current: every change to a peer's queue, in-flight bytes or relay score calls it.
type waiter struct {
	p        *peer
	front    queued  // p.queue.front()
	score    float64 // relayScore(p)
	inflight int     // p.inflight
	queued   int     // p.queue.len()
}

// syncWaiter adds, updates or removes p's entry in the waiting list.
func (s *Swarm) syncWaiter(p *peer) {
	u := &s.upl
	keep := !p.gone && p.queue.len() > 0
	if !keep && !p.waiting {
		return
	}
	k := 0
	for k < len(u.waiting) && u.waiting[k].p != p {
		k++
	}
	if !keep {
		if k < len(u.waiting) {
			last := len(u.waiting) - 1
			u.waiting[k] = u.waiting[last]
			u.waiting[last] = waiter{}
			u.waiting = u.waiting[:last]
		}
		p.waiting = false
		return
	}
	w := waiter{p: p, front: p.queue.front(), score: relayScore(p), inflight: p.inflight, queued: p.queue.len()}
	if k == len(u.waiting) {
		u.waiting = append(u.waiting, w)
		p.waiting = true
		return
	}
	u.waiting[k] = w
}

// updateUploadRate folds the bytes written since the last call into the rate estimate.
func (s *Swarm) updateUploadRate() {
	u := &s.upl
	if dt := s.now.Sub(u.lastRate).Seconds(); dt > 0 {
		a := dt / (dt + 2)
		u.rate += a * (float64(u.written)/dt - u.rate)
		u.written, u.lastRate = 0, s.now
	}
}

type chokeState struct {
	lastRechoke    time.Time
	lastOptimistic time.Time
	rr             int  // round-robin cursor (peer slot) of the optimistic unchoke
	freed          bool // an unchoked peer left: its slot can go to another
	rank           []*peer
	extra          int // slots beyond UnchokeSlots while the uplink has room (spareUnchoke)
}

// onRequest validates a peer's request against our state and queues it, or rejects it.
func (s *Swarm) onRequest(p *peer, r protocol.BlockRef) {
	if p.queue.index(r) >= 0 {
		return // identical to one still queued: ignored (spec 8.6), not served twice
	}
	reason, ok := s.admitRequest(p, r)
	if !ok {
		s.reject(p, r, reason)
		return
	}
	s.upl.seq++
	p.queue.push(queued{ref: r, seq: s.upl.seq, at: s.now})
	s.syncWaiter(p)
	s.pumpAll()
}

func (s *Swarm) admitRequest(p *peer, r protocol.BlockRef) (protocol.RejectReason, bool) {
	if p.amChoking {
		return protocol.RejectChoked, false
	}
	if s.desc == nil {
		return protocol.RejectNotHeld, false
	}
	if r.Piece < s.st.window().First {
		return protocol.RejectOutOfWindow, false
	}
	// Above the window no record covers the piece (yet): not held, so the requester waits
	// for a HAVE instead of forgetting the piece for this peer.
	g := s.st.find(r.Piece)
	if g == nil {
		return protocol.RejectNotHeld, false
	}
	if g.rec.BlockLen(r.Piece, r.Offset, s.ps) != r.Length {
		return protocol.RejectInvalid, false
	}
	if !g.verified[g.index(r.Piece)] {
		return protocol.RejectNotHeld, false
	}
	if p.queue.len() >= s.cfg.Reqq {
		return protocol.RejectQueueFull, false
	}
	if s.cfg.Role == RolePublisher && !s.pubAllow(p, g, g.index(r.Piece)) {
		return protocol.RejectUnspecified, false
	}
	if s.cfg.Role == RoleViewer && s.relayBusy(p, r.Piece) {
		return protocol.RejectUnspecified, false
	}
	return 0, true
}

func (s *Swarm) reject(p *peer, r protocol.BlockRef, why protocol.RejectReason) {
	s.stats.RejectsSent++
	s.send(p, protocol.Reject{BlockRef: r, Reason: why})
}

func (s *Swarm) onCancel(p *peer, r protocol.BlockRef) {
	if p.queue.remove(r) { // unknown cancels are ignored
		s.syncWaiter(p)
	}
}

// pumpAll hands queued blocks to the driver, oldest request first, while the node's
// budget and each peer's credit last. Blocks alias the stored, verified (hence immutable)
// segment bytes.
func (s *Swarm) pumpAll() {
	u := &s.upl
	budget := s.uploadBudget()
	for u.inflight < budget {
		best := -1
		for k := range u.waiting {
			w := &u.waiting[k]
			if w.inflight < s.cfg.UploadInFlight && (best < 0 || s.servesBefore(w, &u.waiting[best])) {
				best = k
			}
		}
		if best < 0 {
			return
		}
		s.serveOne(u.waiting[best].p)
	}
	if len(u.waiting) > 0 {
		u.backlog = true
	}
}

func (s *Swarm) serveOne(p *peer) {
	r := p.queue.pop()
	defer s.syncWaiter(p)
	g := s.st.find(r.Piece)
	if g == nil || !g.has(r.Piece) {
		s.reject(p, r, protocol.RejectOutOfWindow) // evicted while queued
		return
	}
	off := g.rec.PieceOffset(r.Piece, s.ps) + uint64(r.Offset)
	end := off + uint64(r.Length)
	s.send(p, protocol.Data{Piece: r.Piece, Offset: r.Offset, Block: s.st.uploadBlock(g, off, end)})
	n := int(r.Length)
	if p.inflight == 0 {
		p.writtenAt = s.now // the stall clock starts with its first block out
	}
	p.inflight += n
	s.upl.inflight += n
	if p.bytesUp == 0 {
		s.pick.gen++ // p stops counting as rationing (see rationing)
	}
	p.bytesUp += int64(n)
	p.tickUp += n
	s.stats.BytesUploaded += int64(n)
	if g.pub != nil {
		g.pub[g.index(r.Piece)].bytes += int64(n)
		g.pubSentAt = s.now
	}
}

func (s *Swarm) choke(p *peer) {
	if p.amChoking {
		return
	}
	p.amChoking, p.optimistic = true, false
	s.control(p, Choke)
	for p.queue.len() > 0 {
		s.reject(p, p.queue.pop(), protocol.RejectChoked)
	}
	s.syncWaiter(p)
}

func (s *Swarm) unchoke(p *peer) {
	if !p.amChoking || p.stalledBytes > 0 { // not while it leaves our blocks unwritten
		return
	}
	p.amChoking = false
	s.control(p, Unchoke)
}

// onPeerInterested unchokes at once when a slot is free, rather than making a new peer wait
// for the next rechoke. The publisher unchokes every interested peer: what bounds its
// egress is the per-piece copy allowance, not choking.
func (s *Swarm) onPeerInterested(p *peer) {
	if s.cfg.Role == RolePublisher || s.regularUnchoked() < s.unchokeSlots() {
		s.unchoke(p)
	}
}

func (s *Swarm) regularUnchoked() int {
	n := 0
	for _, p := range s.peers {
		if !p.amChoking && !p.optimistic {
			n++
		}
	}
	return n
}

func (s *Swarm) chokeTick() {
	if s.cfg.Role == RolePublisher {
		return
	}
	if s.now.Sub(s.up.lastRechoke) >= s.cfg.RechokeEvery {
		s.rechoke()
	} else if s.up.freed {
		for _, p := range s.ranked() {
			if s.regularUnchoked() >= s.unchokeSlots() {
				break
			}
			s.unchoke(p)
		}
	}
	s.up.freed = false
	if s.now.Sub(s.up.lastOptimistic) >= s.cfg.OptimisticEvery {
		s.rotateOptimistic()
	}
	s.spareUnchoke()
}

func (s *Swarm) unchokeSlots() int { return s.cfg.UnchokeSlots + s.up.extra }

// spareUnchoke unchokes one more interested peer each second while our uplink has room,
// and gives a slot back each second it has none (the next rechoke chokes the surplus).
// Tit-for-tat alone starves a peer that has nothing to give back: a viewer whose route to
// the origin broke, behind neighbours whose slots go to better uploaders, waited for an
// optimistic unchoke (every OptimisticEvery, one peer of dozens) while their uplinks idled.
// So the spare slot goes to the choked peer that gives back least (the end of the
// tit-for-tat order), a near-zero uplink before a relaying peer that other peers unchoke.
// Room is the upload rate below 60% of UploadHint, or without a hint, no request having
// waited for the in-flight budget during the last second.
func (s *Swarm) spareUnchoke() {
	u := &s.up
	hint := float64(s.cfg.UploadHint)
	spare, busy := !s.upl.backlog, s.upl.backlog
	if hint > 0 {
		spare, busy = s.upl.rate < 0.6*hint, s.upl.rate > 0.85*hint
	}
	s.upl.backlog = false
	switch {
	case spare:
		r := s.ranked()
		for k := len(r) - 1; k >= 0; k-- {
			if p := r[k]; p.amChoking {
				u.extra = min(u.extra+1, s.cfg.MaxPeers)
				s.unchoke(p)
				return
			}
		}
	case busy && u.extra > 0:
		u.extra--
	}
}

// ranked returns the interested peers that are not the optimistic unchoke, best uploaders
// to us first (tit-for-tat), then by advertised capacity, then by slot for determinism.
func (s *Swarm) ranked() []*peer {
	r := s.up.rank[:0]
	for _, p := range s.peers {
		if p.peerInterested && !p.optimistic {
			r = append(r, p)
		}
	}
	slices.SortStableFunc(r, func(a, b *peer) int {
		if c := cmp.Compare(b.recvRate, a.recvRate); c != 0 {
			return c
		}
		if c := cmp.Compare(b.ext.UploadHint, a.ext.UploadHint); c != 0 {
			return c
		}
		return cmp.Compare(a.slot, b.slot)
	})
	s.up.rank = r
	return r
}

// rechoke keeps the UnchokeSlots best uploaders to us unchoked, and as many of the weakest
// as there are spare slots (spareUnchoke), and chokes the rest (the optimistic unchoke
// excepted).
func (s *Swarm) rechoke() {
	s.up.lastRechoke = s.now
	r := s.ranked()
	regular := min(s.cfg.UnchokeSlots, len(r))
	weakest := max(regular, len(r)-s.up.extra)
	for k, p := range r {
		if k < regular || k >= weakest {
			s.unchoke(p)
		} else {
			s.choke(p)
		}
	}
	for _, p := range s.peers {
		if !p.peerInterested && !p.amChoking && !p.optimistic {
			s.choke(p)
		}
	}
}

// rotateOptimistic unchokes the next choked, interested peer in slot order, so every peer
// gets a chance to prove itself as an uploader.
func (s *Swarm) rotateOptimistic() {
	s.up.lastOptimistic = s.now
	var next *peer
	best := -1
	for _, p := range s.peers {
		if p.optimistic {
			p.optimistic = false
			if s.regularUnchoked() > s.unchokeSlots() {
				s.choke(p)
			}
		}
	}
	// The choked, interested peer with the smallest slot after the cursor (wrapping).
	for _, p := range s.peers {
		if !p.amChoking || !p.peerInterested {
			continue
		}
		k := (p.slot - s.up.rr - 1 + s.nslots) % max(s.nslots, 1)
		if best < 0 || k < best {
			best, next = k, p
		}
	}
	if next == nil {
		return
	}
	s.up.rr = next.slot
	s.unchoke(next)
	next.optimistic = true
}
