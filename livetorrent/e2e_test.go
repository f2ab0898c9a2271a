package livetorrent

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

// TestEndToEndSwarm wires one publisher core and ten viewer cores through the in-test
// network and checks that every viewer plays every segment after its tune-in point,
// byte-identical to what was published, while the publisher's upload stays bounded.
func TestEndToEndSwarm(t *testing.T) {
	const viewers = 10
	s := newSim(t, 250_000) // 8 pieces of 32 KiB per 2 s segment: 1 Mbit/s
	pub := s.addNode(Config{Role: RolePublisher, PublisherCopies: 2}, 600_000)
	end := s.now.Add(40 * time.Second)
	s.publishEvery(pub, 2*time.Second, end)
	var vs []*simNode
	for i := range viewers {
		v := s.addNode(Config{Role: RoleViewer, DisableOrigin: true}, 400_000)
		vs = append(vs, v)
		at := s.now.Add(time.Second + time.Duration(i)*700*time.Millisecond)
		s.schedule(at, -1, nil, func() {
			s.connect(v, pub)
			for _, w := range vs[:i] {
				s.connect(v, w)
			}
		})
	}
	s.run(end.Add(5 * time.Second))

	lastSeq := s.nextSeq - 2
	var relayed int64
	for _, v := range vs {
		s.checkDeliveries(v, lastSeq)
		st := v.sw.Stats()
		relayed += st.BytesUploaded
		if st.Bans > 0 || len(v.closes) > 0 {
			t.Errorf("viewer %d closed connections: %v", v.id, v.closes)
		}
		t.Logf("viewer %d: start %d delivered %d stalls %d (%v) startup %v down %d up %d wasted %d dups %d",
			v.id, st.StartSeq, st.SegmentsDelivered, st.Stalls, st.StallTime, st.StartupDelay,
			st.BytesDownloaded, st.BytesUploaded, st.BytesWasted, st.DuplicateRequests)
	}
	ps := pub.sw.Stats()
	var published int64
	for _, d := range s.published {
		published += int64(len(d))
	}
	t.Logf("piece propagation, publish to viewer: p50 %v p95 %v max %v", s.spreadPercentile(0.5), s.spreadPercentile(0.95), s.spreadPercentile(1))
	t.Logf("publisher: published %d bytes, uploaded %d (%.2fx), copies %d for %d pieces; viewers relayed %d; %d events",
		published, ps.BytesUploaded, float64(ps.BytesUploaded)/float64(published), ps.PublisherCopies, ps.PiecesPublished, relayed, s.events)
	// Once every viewer has joined, each piece leaves the publisher at most PublisherCopies
	// times; before that, with one or two viewers, widening may add copies.
	checkPublisherBytes(t, pub, 2, 105)
	if limit := published * 9 / 4; ps.BytesUploaded > limit {
		t.Errorf("publisher uploaded %d bytes, more than 2.25 x published = %d", ps.BytesUploaded, limit)
	}
}

// checkPublisherBytes asserts that every piece of segments from fromSeq on left the
// publisher at most copies times.
func checkPublisherBytes(t *testing.T, pub *simNode, copies int, fromSeq uint64) {
	t.Helper()
	n := 0
	for _, g := range pub.sw.st.segs {
		if g.rec.MediaSeq < fromSeq {
			continue
		}
		for i, pp := range g.pub {
			n++
			if limit := int64(copies * g.pieceLen(i, pub.sw.ps)); pp.bytes > limit {
				t.Errorf("segment %d piece %d: publisher uploaded %d bytes, limit %d", g.rec.MediaSeq, i, pp.bytes, limit)
			}
		}
	}
	if n == 0 {
		t.Errorf("no publisher pieces from segment %d checked", fromSeq)
	}
}

// TestDeterministic: the same events at the same times give the same actions.
func TestDeterministic(t *testing.T) {
	run := func() (string, int) {
		h := sha256.New()
		s := newSim(t, 100_000)
		s.trace = func(n *simNode, a Action) { fmt.Fprintf(h, "%v %d %s\n", s.now.UnixNano(), n.id, a) }
		pub := s.addNode(Config{Role: RolePublisher}, 500_000)
		var vs []*simNode
		for range 6 {
			v := s.addNode(Config{Role: RoleViewer, DisableOrigin: true}, 300_000)
			s.connect(v, pub)
			for _, w := range vs {
				s.connect(v, w)
			}
			vs = append(vs, v)
		}
		end := s.now.Add(10 * time.Second)
		s.publishEvery(pub, 2*time.Second, end)
		s.run(end.Add(3 * time.Second))
		return fmt.Sprintf("%x", h.Sum(nil)), s.events
	}
	a, na := run()
	b, nb := run()
	if a != b || na != nb {
		t.Fatalf("two identical runs differ: %s (%d events) vs %s (%d events)", a, na, b, nb)
	}
}
