package livetorrent

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// liveSwarm describes a simulated run shaped like the swarm benchmark: a low-bitrate
// stream in 2 s segments of 16 KiB pieces, a publisher that uploads each piece once with
// twice the stream's uplink, and viewers joining a full mesh within the first seconds.
type liveSwarm struct {
	viewers  int
	bitrate  int                     // bytes/s of the stream
	pubUp    float64                 // publisher uplink, in streams
	up       func(i int) float64     // viewer i's uplink, in streams
	joinOver time.Duration           // viewers join at random within this
	duration time.Duration           // publishing time
	origin   bool                    // viewers may fetch from the origin
	latency  time.Duration           // link latency
	seed     uint64                  // draws of join times
	cfg      func(c *Config)         // adjusts every viewer's configuration
	pubCfg   func(c *Config)         // adjusts the publisher's
	each     func(i int, v *simNode) // called for each viewer at the end
	hook     func(s *sim)            // called once the network is set up
}

// liveResult are the run's figures, over segments published in its second half.
type liveResult struct {
	pubX, originX     float64 // bytes uploaded by the publisher / fetched from the origin, in streams
	fromPeers         float64 // share of verified bytes from other viewers
	stalls            int64
	stallTime         time.Duration
	p50, p95, max     time.Duration // publication to segment complete at a viewer
	piece50, piece95  time.Duration // publication to piece verified at a viewer
	dups, wasted      int64
	copies            float64 // publisher copies per piece
	segments, skipped int
}

func (r liveResult) String() string {
	return fmt.Sprintf("publisher %.2fx, origin %.2fx, from peers %.1f%%, stalls %d (%v), segment p50/p95/max %v/%v/%v, piece p50/p95 %v/%v, dups %d, wasted %d, copies/piece %.2f, skipped %d",
		r.pubX, r.originX, 100*r.fromPeers, r.stalls, r.stallTime.Round(time.Millisecond),
		r.p50.Round(time.Millisecond), r.p95.Round(time.Millisecond), r.max.Round(time.Millisecond),
		r.piece50.Round(time.Millisecond), r.piece95.Round(time.Millisecond), r.dups, r.wasted, r.copies, r.skipped)
}

func runLiveSwarm(t testing.TB, ls liveSwarm) liveResult {
	if ls.latency == 0 {
		ls.latency = 2 * time.Millisecond
	}
	segSize := ls.bitrate * 2
	s := newSim(t, segSize)
	s.latency = ls.latency
	s.origin = ls.origin
	s.desc.PieceSize = 16384
	if err := s.desc.Sign(s.key); err != nil {
		t.Fatal(err)
	}
	stream := float64(ls.bitrate)
	pcfg := Config{Role: RolePublisher, PublisherCopies: 1, UploadHint: uint64(ls.pubUp * stream)}
	if ls.pubCfg != nil {
		ls.pubCfg(&pcfg)
	}
	pub := s.addNode(pcfg, ls.pubUp*stream)
	arrived := map[[2]uint64]time.Time{} // (node, piece) -> first HAVE sent
	s.trace = func(n *simNode, a Action) {
		if h, ok := a.Msg.(protocol.Have); ok && n.sw.cfg.Role == RoleViewer {
			for p := h.First; p < h.End(); p++ {
				k := [2]uint64{uint64(n.id), p}
				if _, ok := arrived[k]; !ok {
					arrived[k] = s.now
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(ls.seed, 1))
	joins := make([]time.Duration, ls.viewers)
	for i := range joins {
		joins[i] = time.Duration(rng.Int64N(int64(ls.joinOver) + 1))
	}
	slices.Sort(joins)
	var vs []*simNode
	start := s.now
	for i := range ls.viewers {
		up := ls.up(i) * stream
		cfg := Config{Role: RoleViewer, DisableOrigin: !ls.origin, UploadHint: uint64(up), Seed: uint64(i + 1)}
		if ls.cfg != nil {
			ls.cfg(&cfg)
		}
		v := s.addNode(cfg, up)
		vs = append(vs, v)
		s.schedule(start.Add(500*time.Millisecond+joins[i]), -1, nil, func() {
			s.connectSeeder(v, pub)
			for _, w := range vs[:i] {
				s.connect(v, w)
			}
		})
	}
	if ls.hook != nil {
		ls.hook(s)
	}
	end := s.now.Add(ls.duration)
	s.publishEvery(pub, 2*time.Second, end)
	s.run(end.Add(8 * time.Second))

	var r liveResult
	mid := start.Add(ls.duration / 2)
	var published int64
	for _, d := range s.published {
		published += int64(len(d))
	}
	var segT, pieceT []time.Duration
	var fromPeers, fromSeeder, fromOrigin int64
	for i, v := range vs {
		if ls.each != nil {
			ls.each(i, v)
		}
		st := v.sw.Stats()
		fromPeers += st.VerifiedFromPeers
		fromSeeder += st.VerifiedFromSeeder
		fromOrigin += st.BytesFromOrigin
		r.stalls += st.Stalls
		r.stallTime += st.StallTime
		r.dups += st.DuplicateRequests
		r.wasted += st.BytesWasted
		r.skipped += len(v.skipped)
	}
	for _, g := range pub.sw.st.segs {
		at := g.rec.Published
		if at.Before(mid) || at.After(end.Add(-2*time.Second)) {
			continue
		}
		for _, v := range vs {
			var last time.Time
			all := true
			for i := range g.pieces() {
				a, ok := arrived[[2]uint64{uint64(v.id), g.piece(i)}]
				if !ok {
					all = false
					continue
				}
				pieceT = append(pieceT, a.Sub(at))
				if a.After(last) {
					last = a
				}
			}
			if all {
				segT = append(segT, last.Sub(at))
			}
		}
		r.segments++
	}
	pct := func(v []time.Duration, q float64) time.Duration {
		if len(v) == 0 {
			return 0
		}
		slices.Sort(v)
		return v[min(len(v)-1, int(q*float64(len(v))))]
	}
	r.p50, r.p95, r.max = pct(segT, 0.5), pct(segT, 0.95), pct(segT, 1)
	r.piece50, r.piece95 = pct(pieceT, 0.5), pct(pieceT, 0.95)
	ps := pub.sw.Stats()
	r.pubX = float64(ps.BytesUploaded) / float64(published)
	r.copies = float64(ps.PublisherCopies) / float64(ps.PiecesPublished)
	total := fromPeers + fromSeeder + fromOrigin
	r.originX = float64(fromOrigin) / float64(published)
	r.fromPeers = float64(fromPeers) / float64(max(total, 1))
	return r
}

// connectSeeder connects viewer v to the publisher, which v counts as the seeder.
func (s *sim) connectSeeder(v, pub *simNode) {
	v.links[pub.id], pub.links[v.id] = true, true
	ev, ep := v.sw.LocalExtHandshake(), pub.sw.LocalExtHandshake()
	s.schedule(s.now.Add(s.latency), v.id, PeerUp{Peer: PeerHandle(pub.id + 1), Ext: ep, Outbound: true, Seeder: true}, nil)
	s.schedule(s.now.Add(s.latency), pub.id, PeerUp{Peer: PeerHandle(v.id + 1), Ext: ev}, nil)
}

func residentialUp(seed uint64, n int) func(i int) float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	ups := make([]float64, n)
	weak := rng.Perm(n)[:(n+5)/10]
	for i := range ups {
		ups[i] = 1 + 2*rng.Float64()
	}
	for _, w := range weak {
		ups[w] = 0.05
	}
	return func(i int) float64 { return ups[i] }
}

// TestEagerPropagation: 50 viewers in a full mesh, a 240 kbit/s stream of 16 KiB pieces and
// a publisher that uploads each piece once with twice the stream's uplink (the swarm
// benchmark's shape, in virtual time). Pieces are fetched as soon as a peer announces them,
// not when their deadline nears:
//   - with ample viewer uplinks, a segment reaches every viewer about a second after
//     publication, the time the publisher needs to upload it once at twice the bitrate
//     (pieces leave it one after the other); the publisher uploads each piece once;
//   - with residential uplinks (1-3x the stream, one viewer in ten at 0.05x), the publisher
//     stays within 1.2x, nobody stalls, and most bytes come from other viewers.
func TestEagerPropagation(t *testing.T) {
	t.Run("uncapped", func(t *testing.T) {
		r := runLiveSwarm(t, liveSwarm{viewers: 50, bitrate: 30_000, pubUp: 2, up: func(int) float64 { return 1000 },
			joinOver: 10 * time.Second, duration: 60 * time.Second, origin: true, seed: 1})
		t.Log(r)
		if r.p95 > 1250*time.Millisecond || r.piece50 > time.Second {
			t.Errorf("segment p95 %v (want < 1.25 s), piece p50 %v (want < 1 s)", r.p95, r.piece50)
		}
		if r.copies > 1.05 || r.fromPeers < 0.95 || r.stalls > 0 {
			t.Errorf("copies per piece %.2f (want <= 1.05), from peers %.1f%% (want >= 95%%), stalls %d", r.copies, 100*r.fromPeers, r.stalls)
		}
	})
	t.Run("residential", func(t *testing.T) {
		r := runLiveSwarm(t, liveSwarm{viewers: 50, bitrate: 30_000, pubUp: 2, up: residentialUp(1, 50),
			joinOver: 10 * time.Second, duration: 60 * time.Second, origin: true, seed: 1})
		t.Log(r)
		if r.pubX > 1.2 || r.fromPeers < 0.8 || r.stalls > 0 {
			t.Errorf("publisher %.2fx (want <= 1.2x), from peers %.1f%% (want >= 80%%), stalls %d", r.pubX, 100*r.fromPeers, r.stalls)
		}
	})
}
