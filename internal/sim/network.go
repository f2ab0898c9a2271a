package sim

import (
	"fmt"
	"math"

	"github.com/livetorrent/livetorrent/livetorrent"
)

// Handshakes take a TCP round trip and the BitTorrent and extension handshakes' round
// trip: three one-way latencies until both ends have seen the other's extended handshake.
const handshakeLatencies = 3

// drawAccess draws a node's access delay: half of a link's latency comes from each end.
func (s *Sim) drawAccess() vtime {
	lo, hi := vtime(s.sc.LatencyMin)/2, vtime(s.sc.LatencyMax)/2
	return lo + vtime(s.rng.Int64N(int64(hi-lo)+1))
}

// viewerUpload draws the k-th viewer's uplink, in multiples of the bitrate. In the
// residential profile exactly one viewer in ten (every tenth to join) uploads next to
// nothing, so runs of any size compare; the others draw 1-3x.
func (s *Sim) viewerUpload(k int) float64 {
	if s.sc.Profile == ProfileUniform {
		return s.sc.UniformUp
	}
	weak := int(float64(k+1)*weakShare) > int(float64(k)*weakShare)
	u := 1 + 2*s.rng.Float64() // drawn either way: the draws do not depend on the mix
	if weak {
		return weakUpload
	}
	return u
}

// join adds a viewer at time at and connects it to peers the tracker returns.
func (s *Sim) join(at vtime) error {
	sc := s.sc
	n := s.addNode(roleViewer)
	n.joinAt, n.leaveAt = at, -1
	n.upCap = s.viewerUpload(s.joined) * sc.Bitrate / 8
	n.upNs = nsPerByte(n.upCap)
	n.downNs = nsPerByte(sc.DownUp * sc.Bitrate / 8)
	n.access = s.drawAccess()
	n.loss = 2 * sc.Loss * s.rng.Float64()
	s.joined++
	var err error
	n.sw, err = livetorrent.New(livetorrent.Config{Role: livetorrent.RoleViewer, Stream: s.str.desc.Stream,
		UploadHint: uint64(n.upCap), MaxPeers: sc.MaxPeers, DisableOrigin: sc.NoOrigin, NoPayload: true,
		Seed: uint64(n.id)})
	if err != nil {
		return fmt.Errorf("viewer %d: %w", n.id, err)
	}
	s.pos[n.id] = len(s.present)
	s.present = append(s.present, n.id)
	s.findPeers(n, at)
	return nil
}

// findPeers is a tracker announce: the seeder (when its route is open and it has room)
// and random present viewers with room, until n has sc.Peers connections.
func (s *Sim) findPeers(n *node, at vtime) {
	seeder := s.nodes[seederID]
	if !n.cut && n.linkTo(seederID) < 0 && seeder.nlinks < s.sc.SeederPeers {
		s.connect(n, seeder, at)
	}
	want := s.sc.Peers - n.nlinks
	for try := 0; want > 0 && try < 4*s.sc.Peers && len(s.present) > 1; try++ {
		m := s.nodes[s.present[s.rng.IntN(len(s.present))]]
		if m == n || m.nlinks >= s.sc.MaxPeers || n.linkTo(m.id) >= 0 {
			continue
		}
		s.connect(n, m, at)
		want--
	}
}

// reannounce refills viewers that lost neighbours (churn, closes) below sc.Peers.
func (s *Sim) reannounce(at vtime) {
	for _, id := range s.present {
		if n := s.nodes[id]; n.nlinks < s.sc.Peers {
			s.findPeers(n, at)
		}
	}
}

// connect opens a connection from a to b at time at: both ends get a link now and PeerUp
// once the handshakes are done.
func (s *Sim) connect(a, b *node, at vtime) {
	lat := a.access + b.access
	loss := 1 - (1-a.loss)*(1-b.loss)
	var rateNs float64
	if loss > 0 {
		// Mathis et al.: TCP's throughput under random loss p is about MSS/RTT * 1.22/sqrt(p).
		rtt := 2 * float64(lat) / 1e9
		rateNs = nsPerByte(mss / rtt * 1.22 / math.Sqrt(loss))
	}
	sa := a.openLink(link{peer: b.id, lat: lat, loss: loss, rateNs: rateNs})
	sb := b.openLink(link{peer: a.id, lat: lat, loss: loss, rateNs: rateNs, rslot: sa, rgen: a.gens})
	a.links[sa].rslot, a.links[sa].rgen = sb, b.gens
	ea, eb := a.sw.LocalExtHandshake(), b.sw.LocalExtHandshake()
	up := at + handshakeLatencies*lat
	a.push(event{at: up, kind: evUp, slot: sa, gen: a.links[sa].gen, ext: &eb, seed: b.role == roleSeeder, dial: true})
	b.push(event{at: up, kind: evUp, slot: sb, gen: b.links[sb].gen, ext: &ea, seed: a.role == roleSeeder})
	s.schedule(a)
	s.schedule(b)
}

// disconnect ends the connection between a and b at time at: each end learns it a
// latency later (after what was already on its way).
func (s *Sim) disconnect(a, b *node, at vtime) {
	sa, sb := a.linkTo(b.id), b.linkTo(a.id)
	if sa < 0 || sb < 0 {
		return
	}
	la, lb := &a.links[sa], &b.links[sb]
	b.push(event{at: max(at+la.lat, la.last), kind: evDown, slot: sb, gen: lb.gen})
	a.push(event{at: max(at+lb.lat, lb.last), kind: evDown, slot: sa, gen: la.gen})
	s.schedule(a)
	s.schedule(b)
}

// leave removes viewer id at time at: its peers see the connections end a latency later.
func (s *Sim) leave(id int32, at vtime) {
	n := s.nodes[id]
	for i := range n.links {
		l := &n.links[i]
		if l.gen == 0 || s.nodes[l.peer].gone {
			continue
		}
		r := s.nodes[l.peer]
		r.push(event{at: max(at+l.lat, l.last), kind: evDown, slot: l.rslot, gen: l.rgen})
		s.schedule(r)
	}
	n.final = figuresOf(n.sw)
	n.gone, n.leaveAt = true, at
	n.q, n.links, n.wake = nil, nil, never
	n.sw = nil // the core's memory goes with the viewer
	s.metrics.depart(n)
	i := s.pos[id]
	last := s.present[len(s.present)-1]
	s.present[i] = last
	s.pos[last] = i
	s.present = s.present[:len(s.present)-1]
	delete(s.pos, id)
}

// cutRoutes makes a viewer's routes to the seeder and the origin fail at time at: its
// connection to the seeder ends, its origin requests fail from then on, and the tracker
// never hands it the seeder again. Its viewer neighbours are unaffected.
func (s *Sim) cutRoutes(n *node, at vtime) {
	n.cut = true
	s.disconnect(n, s.nodes[seederID], at)
}
