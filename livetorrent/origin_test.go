package livetorrent

import (
	"errors"
	"testing"
	"time"
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
	s.run(end.Add(6 * time.Second))
	s.checkDeliveries(b, s.nextSeq-1)
	st := b.sw.Stats()
	if st.BytesFromOrigin == 0 || b.fetches == 0 {
		t.Fatalf("no origin fetches: %+v", st)
	}
	t.Logf("b: %d bytes from peers, %d from the origin in %d fetches, %d stalls", st.BytesDownloaded, st.BytesFromOrigin, b.fetches, st.Stalls)
}

// TestOriginFetchDetails: the fetch names the segment URL resolved against the rendition
// playlist and the origin, and the byte range of the piece; a failed or corrupt answer is
// retried after a pause, a good one completes the piece.
func TestOriginFetchDetails(t *testing.T) {
	h, segs := viewerWithSegments(t, Config{TargetLatency: 6 * time.Second, OriginLead: 2 * time.Second, MaxOriginFetches: 1}, 1, 3, 40_000)
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
	h.advance(100 * time.Millisecond)
	for _, a := range kinds(h.last, ActFetchOrigin) {
		if a.Fetch.Piece == f.Piece {
			t.Fatal("failed piece fetched again at once")
		}
	}
	next := kinds(h.last, ActFetchOrigin)
	if len(next) != 1 {
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
