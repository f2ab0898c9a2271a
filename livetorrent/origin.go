package livetorrent

import (
	"errors"
	"net/url"
	"time"
)

// originState tracks fetches of pieces from the origin, the fallback that keeps a viewer
// never worse than plain HLS: a piece whose deadline is near and that no peer is about to
// deliver is fetched by HTTP range request while peers keep trying.
type originState struct {
	inflight map[uint64]originFetch
	backoff  map[uint64]time.Time // piece -> no new fetch before
	planned  map[uint64]time.Time // piece -> fetch at, after a random delay (see originCheck)
	rng      uint64               // state of the jitter generator (splitmix64), from Config.Seed
	base     *url.URL
	baseFor  string
	// took is how long the origin's recent answers took: it rises to a slower answer at
	// once and decays towards faster ones. A loaded origin answers in a few hundred
	// milliseconds or more, which the jitter before a late fetch must leave room for.
	took time.Duration
}

type originFetch struct {
	at time.Time // when asked
	n  int       // bytes asked for
}

// originMargin is the time an origin fetch is assumed to take, beyond its jitter.
const originMargin = 250 * time.Millisecond

// noteAnswer records that a fetch asked at was answered now.
func (o *originState) noteAnswer(at, now time.Time) {
	d := now.Sub(at)
	if d >= o.took {
		o.took = d
		return
	}
	o.took -= (o.took - d) / 8
}

// fetchTime is how long a fetch is expected to take: originMargin, or longer while the
// origin's recent answers are slower.
func (o *originState) fetchTime() time.Duration { return max(originMargin, o.took) }

// originRetry is how long a failed piece waits before another origin fetch.
const originRetry = 2 * time.Second

// originGoneMax bounds the doubling wait of a segment the origin said it does not have. A
// live origin that deleted a segment never has it again; one that answered too early (a
// cache ahead of its source) has it within seconds, so the wait starts at originRetry.
const originGoneMax = 16 * time.Second

func (o *originState) forget(g *segment) {
	for i := range g.verified {
		delete(o.backoff, g.piece(i))
		delete(o.planned, g.piece(i))
	}
}

// jitter returns a pseudo-random duration in [0, max): deterministic for a given seed, so
// simulations replay exactly.
func (o *originState) jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	o.rng += 0x9e3779b97f4a7c15
	z := o.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return time.Duration(z % uint64(max))
}

// originAllowed applies the operator's cap on the origin's share of what this viewer
// receives, with an allowance of two of the segment's size so a cold start can use it.
func (s *Swarm) originAllowed(g *segment, n int) bool {
	limit := s.cfg.MaxOriginShare
	if limit <= 0 || limit >= 1 {
		return true
	}
	st := &s.stats
	asked := st.BytesFromOrigin + int64(n)
	for _, f := range s.origin.inflight {
		asked += int64(f.n)
	}
	total := float64(st.VerifiedFromPeers + st.VerifiedFromSeeder + asked)
	return float64(asked) <= limit*total || asked <= 2*int64(g.rec.Length)
}

func (s *Swarm) originCheck() {
	o := &s.origin
	if s.cfg.DisableOrigin || s.desc == nil || s.desc.Origin == "" || !s.play.tuned {
		return
	}
	if o.inflight == nil {
		o.inflight = make(map[uint64]originFetch)
		o.backoff = make(map[uint64]time.Time)
		o.planned = make(map[uint64]time.Time)
		o.rng = s.cfg.Seed
	}
	// A fetch the driver never answered is forgotten after the request timeout.
	for piece, f := range o.inflight {
		if s.now.Sub(f.at) > s.cfg.RequestTimeout {
			delete(o.inflight, piece)
		}
	}
	for piece, until := range o.backoff {
		if !s.now.Before(until) {
			delete(o.backoff, piece)
		}
	}
	s.ensureOrder()
	lead := s.originDue()
	for _, e := range s.pick.order {
		if len(o.inflight) >= s.cfg.MaxOriginFetches {
			return
		}
		g, i := e.g, e.i
		if !s.originMayFetch(g, i) {
			continue
		}
		dl := s.play.deadline(g)
		piece := g.piece(i)
		if dl.After(lead) || s.peersWillMakeIt(g, i, dl) {
			delete(o.planned, piece)
			continue
		}
		if _, busy := o.inflight[piece]; busy {
			continue
		}
		if _, wait := o.backoff[piece]; wait {
			continue
		}
		// Viewers that all see the same piece late would all fetch it at once: each waits a
		// random part of the jitter first, and one that got it meanwhile from a faster peer
		// (the first fetcher relays it at once) drops the plan above.
		at, ok := o.planned[piece]
		if !ok {
			// The wait never eats into the time the fetch itself needs: a piece found at
			// risk late (a peer's request overdue close to the deadline) is asked for at
			// once, as few viewers find the same piece late at the same moment.
			slack := dl.Sub(s.now) - o.fetchTime() - originMargin
			at = s.now.Add(o.jitter(min(s.cfg.OriginJitter, max(slack, 0))))
			o.planned[piece] = at
		}
		if s.now.Before(at) {
			s.wakeBy(at)
			continue
		}
		u := s.segmentURL(g)
		if u == "" || !s.originAllowed(g, g.pieceLen(i, s.ps)) {
			continue
		}
		delete(o.planned, piece)
		o.inflight[piece] = originFetch{at: s.now, n: g.pieceLen(i, s.ps)}
		s.stats.OriginFetches++
		s.out = append(s.out, Action{Kind: ActFetchOrigin, Fetch: &OriginFetch{Piece: piece, URL: u,
			Offset: g.rec.OriginOffset + g.rec.PieceOffset(piece, s.ps), Length: g.pieceLen(i, s.ps)}})
	}
}

// originMayFetch reports whether piece i of g is one the origin could supply now: wanted,
// missing, with a URI, and not in a segment the origin said it does not have.
func (s *Swarm) originMayFetch(g *segment, i int) bool {
	return !g.verified[i] && g.wanted && g.rec.URI != "" && !s.now.Before(g.originAfter)
}

// originDue returns the latest deadline whose pieces are fetched from the origin now, if
// no peer is about to deliver them: OriginLead from now, or later when more pieces are at
// risk than MaxOriginFetches can fetch at once. The k-th piece at risk (in deadline order,
// counting those in flight) starts only after k/MaxOriginFetches rounds of fetches, so its
// chain must start that many fetch times before the lead; when it must, every piece at risk
// before it must too. A segment no peer sent (13 pieces, four rounds of fetches) took 1.4 s
// from a saturated origin, against a lead of 1 s. The extra lead is at most one target
// duration.
func (s *Swarm) originDue() time.Time {
	o := &s.origin
	lead := s.now.Add(s.cfg.OriginLead)
	round := o.fetchTime()
	limit := lead.Add(s.times.target)
	due, k := lead, 0
	for _, e := range s.pick.order {
		if !e.key.urgent {
			// Urgent pieces come first, by deadline. Stopping here can only shorten
			// the extension: the caller still walks every piece within the lead.
			break
		}
		g, i := e.g, e.i
		if !s.originMayFetch(g, i) {
			continue
		}
		dl := s.play.deadline(g)
		if dl.After(limit) {
			break
		}
		piece := g.piece(i)
		if _, busy := o.inflight[piece]; !busy && s.peersWillMakeIt(g, i, dl) {
			continue
		}
		if dl.After(due) && !dl.After(lead.Add(time.Duration(k/s.cfg.MaxOriginFetches)*round)) {
			due = dl
		}
		k++
	}
	return due
}

// peersWillMakeIt reports whether every missing block of the piece is requested from a
// peer expected to deliver it before the deadline and not yet overdue.
func (s *Swarm) peersWillMakeIt(g *segment, i int, dl time.Time) bool {
	pc := g.parts[i]
	if pc == nil || pc.nFree > 0 {
		return false
	}
	for _, bs := range pc.blocks {
		if bs.got {
			continue
		}
		ok := false
		for k := 0; k < int(bs.nreq); k++ {
			// A peer expected to deliver only just in time is no plan: the origin (a
			// fetch and a jitter away) would be too late once that estimate slips.
			if e := bs.reqs[k].expect; !e.After(dl.Add(-s.cfg.OriginJitter-originMargin)) && !s.now.After(e) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// segmentURL resolves a record's URI against its rendition playlist and the origin.
func (s *Swarm) segmentURL(g *segment) string {
	o := &s.origin
	if o.baseFor != s.desc.Origin {
		o.base, _ = url.Parse(s.desc.Origin)
		o.baseFor = s.desc.Origin
	}
	if o.base == nil {
		return ""
	}
	rend, ok := s.desc.Rendition(g.rec.Rendition)
	if !ok {
		return ""
	}
	ru, err := url.Parse(rend.URI)
	if err != nil {
		return ""
	}
	su, err := url.Parse(g.rec.URI)
	if err != nil {
		return ""
	}
	u := o.base.ResolveReference(ru).ResolveReference(su)
	if u.Scheme != "http" && u.Scheme != "https" {
		return ""
	}
	return u.String()
}

// cancelOriginFetch abandons the origin fetch of a piece that arrived from a peer while the
// fetch was in flight. At a saturated origin a third of the flash crowd's fetches were such
// duplicates, queued ahead of fetches still needed.
func (s *Swarm) cancelOriginFetch(piece uint64) {
	if _, ok := s.origin.inflight[piece]; !ok {
		return
	}
	delete(s.origin.inflight, piece)
	s.stats.OriginCancels++
	s.out = append(s.out, Action{Kind: ActCancelOrigin, Fetch: &OriginFetch{Piece: piece}})
}

func (s *Swarm) onOriginData(e OriginData) {
	o := &s.origin
	if f, ok := o.inflight[e.Piece]; ok {
		// The freed slot goes to the next piece at risk now rather than at the next tick:
		// at a saturated origin every round of fetches waits in its queue, and a tick lost
		// per round left a joiner's last piece 26 ms late.
		defer s.originCheck()
		if e.Err == nil {
			o.noteAnswer(f.at, s.now)
			s.easeStart()
		}
		delete(o.inflight, e.Piece)
	}
	g := s.st.find(e.Piece)
	if g == nil || g.verified[g.index(e.Piece)] {
		return
	}
	i := g.index(e.Piece)
	err := e.Err
	if err == nil && len(e.Data) != g.pieceLen(i, s.ps) {
		err = ErrBadData
	}
	if err == nil {
		err = s.dataValid(g, i, e.Data)
	}
	if err != nil {
		s.stats.OriginFailures++
		switch {
		case errors.Is(err, ErrOriginGone): // the whole segment waits, at least originRetry
			g.originWait = min(max(2*g.originWait, originRetry), originGoneMax)
			g.originAfter = s.now.Add(g.originWait)
		case o.backoff != nil:
			o.backoff[e.Piece] = s.now.Add(originRetry)
		}
		return
	}
	s.st.ensureData(g)
	s.st.writeBlock(g, g.rec.PieceOffset(e.Piece, s.ps), e.Data)
	s.stats.BytesFromOrigin += int64(len(e.Data))
	s.markVerified(g, i)
}
