package livetorrent

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// TestOriginFallback: viewer b's only peer uploads at a fifth of the stream rate, so b
// fetches what would miss its deadline from the origin and still plays every segment.
func TestOriginFallback(t *testing.T) {
	s := newSim(t, 250_000)
	s.origin = true
	pub := s.addNode(Config{Role: RolePublisher}, 1_000_000)
	a := s.addNode(Config{Role: RoleViewer, DisableOrigin: true}, 25_000)
	b := s.addNode(Config{Role: RoleViewer}, 400_000)
	s.connect(a, pub)
	s.connect(b, a)
	s.run(s.now.Add(500 * time.Millisecond))
	end := s.now.Add(20 * time.Second)
	s.publishEvery(pub, 2*time.Second, end)
	// The last segment plays the default latency after it is published, and up to a segment
	// duration later: b's slow start (onPace) may wait that long.
	s.run(end.Add(MinDefaultLatency + 2*time.Second))
	s.checkDeliveries(b, s.nextSeq-1)
	st := b.sw.Stats()
	if st.BytesFromOrigin == 0 || b.fetches == 0 {
		t.Fatalf("no origin fetches: %+v", st)
	}
	t.Logf("b: %d bytes from peers, %d from the origin in %d fetches, %d stalls, startup %v", st.BytesDownloaded, st.BytesFromOrigin, b.fetches, st.Stalls, st.StartupDelay)
}

// TestOriginFetchDetails: the fetch names the segment URL resolved against the rendition
// playlist and the origin, and the byte range of the piece; a failed or corrupt answer is
// retried after a pause, a good one completes the piece.
func TestOriginFetchDetails(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: 2 * time.Second, MaxOriginFetches: 1, OriginJitter: -1}, 1, 3, 40_000)
	h.advance(100 * time.Millisecond)
	fetches := kinds(h.last, ActFetchOrigin)
	if len(fetches) != 1 {
		t.Fatalf("want one fetch (MaxOriginFetches), got %v", h.sent())
	}
	f := fetches[0].Fetch
	seg := segs[0]
	if f.Piece != seg.rec.FirstPiece || f.Offset != 0 || f.Length != 32768 ||
		f.URL != "https://origin.example/live/720p/seg100.ts" {
		t.Fatalf("fetch %+v", f)
	}
	h.do(OriginData{Piece: f.Piece, Err: errors.New("connection refused")})
	// The freed slot goes to the next piece at once, not to the failed one.
	next := kinds(h.last, ActFetchOrigin)
	if len(next) != 1 || next[0].Fetch.Piece == f.Piece {
		t.Fatalf("want the next piece fetched, got %v", h.sent())
	}
	bad := append([]byte(nil), seg.data[32768:40000]...)
	bad[0] ^= 1
	h.do(OriginData{Piece: next[0].Fetch.Piece, Data: bad})
	h.advance(2100 * time.Millisecond)
	h.do(OriginData{Piece: f.Piece, Data: seg.data[:32768]})
	if st := h.sw.Stats(); st.OriginFailures != 2 || st.BytesFromOrigin != 32768 || st.PiecesVerified != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The verified piece is relayed like any other.
	h.expectSent(1, "send 1 HAVE 1000+1")
}

// TestOriginGoneWaitsForSegment: when the origin answers that a segment is not there (an
// HTTP 404 or 410 from the driver), none of that segment's pieces is fetched for a while,
// and the wait doubles with each such answer; other segments are fetched meanwhile.
func TestOriginGoneWaitsForSegment(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: 4 * time.Second,
		MaxOriginFetches: 1, OriginJitter: -1}, 1, 3, 40_000)
	g0 := segs[0].rec
	fetched := func() (pieces []uint64) {
		for _, a := range kinds(h.last, ActFetchOrigin) {
			pieces = append(pieces, a.Fetch.Piece)
		}
		return pieces
	}
	h.advance(100 * time.Millisecond)
	first := fetched()
	if len(first) != 1 || first[0] != g0.FirstPiece {
		t.Fatalf("fetches %v, want the first piece of %d", first, g0.MediaSeq)
	}
	h.do(OriginData{Piece: first[0], Err: fmt.Errorf("origin: 404 Not Found: %w", ErrOriginGone)})
	gone := h.now
	// Until originRetry has passed, only the other segments are fetched; answering each
	// with an ordinary failure frees the one fetch slot again, for the next fetch at once.
	var others int
	pending := fetched()
	for h.now.Sub(gone) < originRetry-100*time.Millisecond {
		for len(pending) > 0 {
			p := pending[0]
			if g0.Contains(p) {
				t.Fatalf("piece %d of the missing segment fetched %v after the 404", p, h.now.Sub(gone))
			}
			others++
			h.do(OriginData{Piece: p, Err: errors.New("connection reset")})
			pending = append(pending[1:], fetched()...)
		}
		h.advance(100 * time.Millisecond)
		pending = fetched()
	}
	if len(pending) > 0 {
		t.Fatalf("fetches %v at %v after the 404", pending, h.now.Sub(gone))
	}
	if others == 0 {
		t.Fatal("no other segment fetched meanwhile")
	}
	h.advance(200 * time.Millisecond)
	again := fetched()
	if len(again) != 1 || !g0.Contains(again[0]) {
		t.Fatalf("fetches %v after %v, want a piece of %d again", again, h.now.Sub(gone), g0.MediaSeq)
	}
	h.do(OriginData{Piece: again[0], Err: ErrOriginGone})
	if g := h.sw.st.find(g0.FirstPiece); g.originWait != 2*originRetry || g.originAfter != h.now.Add(2*originRetry) {
		t.Fatalf("second 404: wait %v until %v, want %v from now", g.originWait, g.originAfter.Sub(h.now), 2*originRetry)
	}
	if st := h.sw.Stats(); st.OriginFailures < 3 {
		t.Fatalf("origin failures %d", st.OriginFailures)
	}
}

// TestOriginJitter: viewers that see the same piece late do not all fetch it at once: each
// waits a seeded random delay below OriginJitter, so their fetches spread out.
func TestOriginJitter(t *testing.T) {
	const jitter = 400 * time.Millisecond
	var delays []time.Duration
	for seed := range uint64(8) {
		h, _ := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: 2 * time.Second,
			MaxOriginFetches: 1, OriginJitter: jitter, Seed: seed}, 1, 3, 40_000)
		start := h.now
		for len(kinds(h.last, ActFetchOrigin)) == 0 {
			if h.now.Sub(start) > time.Second {
				t.Fatalf("seed %d: no fetch within a second", seed)
			}
			h.advance(10 * time.Millisecond)
		}
		d := h.now.Sub(start)
		if d > jitter+20*time.Millisecond {
			t.Fatalf("seed %d: fetched after %v, jitter is %v", seed, d, jitter)
		}
		delays = append(delays, d)
	}
	lo, hi := slices.Min(delays), slices.Max(delays)
	if hi-lo < jitter/4 {
		t.Fatalf("fetch delays %v are not spread", delays)
	}
	t.Logf("fetch delays for 8 seeds: %v", delays)
}

// TestOriginJitterLeavesFetchTime: the random wait before a fetch never takes the time the
// fetch needs before the deadline. With a jitter longer than the time left, every seed
// fetches while the fetch and a margin still fit.
func TestOriginJitterLeavesFetchTime(t *testing.T) {
	for seed := range uint64(8) {
		h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: 2 * time.Second,
			MaxOriginFetches: 1, OriginJitter: 1500 * time.Millisecond, Seed: seed}, 1, 3, 40_000)
		g := h.sw.st.find(segs[0].rec.FirstPiece)
		dl := h.sw.play.deadline(g)
		for len(kinds(h.last, ActFetchOrigin)) == 0 {
			if !h.now.Before(dl) {
				t.Fatalf("seed %d: no fetch before the deadline", seed)
			}
			h.advance(10 * time.Millisecond)
		}
		if latest := dl.Add(-2 * originMargin); h.now.After(latest.Add(10 * time.Millisecond)) {
			t.Fatalf("seed %d: fetched %v before the deadline, want at least %v", seed, dl.Sub(h.now), 2*originMargin)
		}
	}
}

// TestOriginFetchTime: the expected fetch time follows a slower answer at once and decays
// towards faster ones, never below originMargin.
func TestOriginFetchTime(t *testing.T) {
	var o originState
	t0 := time.Unix(0, 0)
	if got := o.fetchTime(); got != originMargin {
		t.Fatalf("no answer yet: %v, want %v", got, originMargin)
	}
	o.noteAnswer(t0, t0.Add(800*time.Millisecond))
	if got := o.fetchTime(); got != 800*time.Millisecond {
		t.Fatalf("after an 800 ms answer: %v", got)
	}
	o.noteAnswer(t0, t0.Add(80*time.Millisecond))
	if got := o.fetchTime(); got != 710*time.Millisecond {
		t.Fatalf("after an 80 ms answer: %v, want 710 ms", got)
	}
	for range 100 {
		o.noteAnswer(t0, t0.Add(80*time.Millisecond))
	}
	if got := o.fetchTime(); got != originMargin {
		t.Fatalf("after many fast answers: %v, want %v", got, originMargin)
	}
}

// originAnswer is the origin's answer to fetch f: the piece's bytes from the segment of segs
// that holds it.
func originAnswer(h *harness, segs []testSeg, f *OriginFetch) OriginData {
	for _, seg := range segs {
		if seg.rec.Contains(f.Piece) {
			off := seg.rec.PieceOffset(f.Piece, h.desc.PieceSize)
			return OriginData{Piece: f.Piece, Data: seg.data[off : off+uint64(f.Length)]}
		}
	}
	h.t.Fatalf("fetch of piece %d, in none of the segments", f.Piece)
	return OriginData{}
}

// TestOriginShareCap: with the origin capped at 10% of what a viewer receives and no peer
// delivering, the viewer uses its cold-start allowance (two segments) and then stops.
func TestOriginShareCap(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: 10 * time.Second,
		MaxOriginFetches: 8, OriginJitter: -1, MaxOriginShare: 0.1}, 1, 3, 40_000)
	var fetched int
	for range 100 {
		h.advance(100 * time.Millisecond)
		for _, a := range kinds(h.last, ActFetchOrigin) {
			h.do(originAnswer(h, segs, a.Fetch))
			fetched += int(a.Fetch.Length)
		}
	}
	if st := h.sw.Stats(); fetched == 0 || st.BytesFromOrigin > 2*40_000 || st.BytesFromOrigin != int64(fetched) {
		t.Fatalf("fetched %d bytes from the origin (stats %d); the cap allows 80000 with nothing from peers", fetched, st.BytesFromOrigin)
	}
	t.Logf("origin bytes with the cap and no peer data: %d", fetched)
}

// TestOriginFetchCancelled: a piece that a peer delivers while its origin fetch is in
// flight cancels the fetch, which frees its slot for another piece; the fetch's late
// answer is ignored.
func TestOriginFetchCancelled(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: 2 * time.Second,
		MaxOriginFetches: 1, OriginJitter: -1}, 1, 3, 40_000)
	h.advance(100 * time.Millisecond)
	fetches := kinds(h.last, ActFetchOrigin)
	if len(fetches) != 1 || fetches[0].Fetch.Piece != segs[0].rec.FirstPiece {
		t.Fatalf("want a fetch of the first piece, got %v", h.sent())
	}
	piece := fetches[0].Fetch.Piece
	h.recv(1, protocol.Have{First: piece, Count: 1})
	h.ctl(1, Unchoke)
	acts := h.serve(1, segs[0])
	if !h.sw.st.find(piece).has(piece) {
		t.Fatalf("piece %d not verified from the peer; sent %v", piece, h.sent())
	}
	var cancelled []uint64
	for _, a := range kinds(acts, ActCancelOrigin) {
		cancelled = append(cancelled, a.Fetch.Piece)
	}
	if !slices.Equal(cancelled, []uint64{piece}) {
		t.Fatalf("cancelled %v, want [%d]; actions %v", cancelled, piece, acts)
	}
	h.advance(100 * time.Millisecond)
	next := kinds(h.last, ActFetchOrigin)
	if len(next) != 1 || next[0].Fetch.Piece == piece {
		t.Fatalf("want the freed slot used for another piece, got %v", h.sent())
	}
	h.do(OriginData{Piece: piece, Err: errors.New("context canceled")})
	h.do(OriginData{Piece: piece, Data: segs[0].data[:32768]})
	if st := h.sw.Stats(); st.OriginCancels != 1 || st.OriginFailures != 0 || st.BytesFromOrigin != 0 {
		t.Fatalf("stats: %d cancels, %d failures, %d bytes from the origin; want 1, 0, 0", st.OriginCancels, st.OriginFailures, st.BytesFromOrigin)
	}
}

// TestOriginSlowEasesStart: a viewer that has not started and whose origin answers slowly
// moves its first deadline later (StartupDelay plus startEase answer times, at most a target
// duration) and leaves the rest of the start segment to peers for that long; one whose origin
// answers fast keeps its deadline.
func TestOriginSlowEasesStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer time.Duration
		eased  bool
	}{{"slow origin", 700 * time.Millisecond, true}, {"fast origin", 100 * time.Millisecond, false}} {
		t.Run(tc.name, func(t *testing.T) {
			h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: 2 * time.Second,
				MaxOriginFetches: 1, OriginJitter: -1}, 1, 3, 40_000)
			g := h.sw.st.find(segs[0].rec.FirstPiece)
			before := h.sw.play.deadline(g)
			h.advance(100 * time.Millisecond)
			fetches := kinds(h.last, ActFetchOrigin)
			if len(fetches) != 1 {
				t.Fatalf("want one fetch of the start segment, got %v", h.sent())
			}
			f := fetches[0].Fetch
			h.advance(tc.answer)
			h.do(OriginData{Piece: f.Piece, Data: segs[0].data[:f.Length]})
			fetched := len(kinds(h.last, ActFetchOrigin))
			after := h.sw.play.deadline(g)
			want := before
			if tc.eased {
				want = h.sw.play.tunedAt.Add(h.sw.cfg.StartupDelay + min(startEase*h.sw.origin.took, h.sw.times.target))
				if !want.After(before) {
					t.Fatalf("the eased deadline %v is not later than %v", want, before)
				}
			}
			if !after.Equal(want) {
				t.Fatalf("first deadline %v after tune-in, want %v (was %v)", after.Sub(h.sw.play.tunedAt), want.Sub(h.sw.play.tunedAt), before.Sub(h.sw.play.tunedAt))
			}
			// The next piece is fetched at once unless the deadline left the origin lead.
			h.advance(100 * time.Millisecond)
			if got := fetched + len(kinds(h.last, ActFetchOrigin)); (got == 0) != tc.eased {
				t.Fatalf("%d fetches after the answer; deadline %v away, origin lead %v", got, after.Sub(h.now), h.sw.cfg.OriginLead)
			}
		})
	}
}

// TestOriginLeadCoversRounds: no peer sends anything, and the origin answers in 250 ms with
// two fetches at a time, so a segment of ten pieces takes five rounds, 1.25 s, against an
// origin lead of 1 s. Fetching the pieces at risk early enough for every round plays the
// stream without a stall; with the fixed lead the second segment came half a second late.
func TestOriginLeadCoversRounds(t *testing.T) {
	const answer = 250 * time.Millisecond
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: time.Second,
		MaxOriginFetches: 2, OriginJitter: -1}, 1, 3, 10*32768)
	type pending struct {
		due time.Time
		f   *OriginFetch
	}
	var queue []pending
	delivered := 0
	for end := h.now.Add(20 * time.Second); h.now.Before(end) && delivered < len(segs); {
		acts := slices.Clone(h.advance(10 * time.Millisecond))
		for len(queue) > 0 && !queue[0].due.After(h.now) {
			f := queue[0].f
			queue = queue[1:]
			acts = append(acts, slices.Clone(h.do(originAnswer(h, segs, f)))...)
		}
		for _, a := range acts {
			switch a.Kind {
			case ActFetchOrigin:
				queue = append(queue, pending{h.now.Add(answer), a.Fetch})
			case ActDeliver:
				delivered++
			}
		}
	}
	st := h.sw.Stats()
	if delivered != len(segs) || st.Stalls != 0 {
		t.Fatalf("%d of %d segments played, %d stalls (%v); %d origin fetches", delivered, len(segs), st.Stalls, st.StallTime, st.OriginFetches)
	}
	if want := 3 * 10; st.OriginFetches != int64(want) {
		t.Fatalf("%d origin fetches, want one per piece (%d)", st.OriginFetches, want)
	}
}

// TestOriginSlotRefilledOnAnswer: an answer that frees the only fetch slot starts the next
// fetch at once, not at the next tick.
func TestOriginSlotRefilledOnAnswer(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: 2 * time.Second,
		MaxOriginFetches: 1, OriginJitter: -1}, 1, 3, 40_000)
	h.advance(100 * time.Millisecond)
	fetches := kinds(h.last, ActFetchOrigin)
	if len(fetches) != 1 {
		t.Fatalf("want one fetch, got %v", h.sent())
	}
	f := fetches[0].Fetch
	h.now = h.now.Add(30 * time.Millisecond)
	h.do(originAnswer(h, segs, f))
	next := kinds(h.last, ActFetchOrigin)
	if len(next) != 1 || next[0].Fetch.Piece == f.Piece {
		t.Fatalf("after the answer: %v, want the next piece's fetch", h.sent())
	}
}
