package livetorrent

import "time"

// Stats are the core's counters, for metrics. Byte counts are DATA block bytes.
type Stats struct {
	Peers int

	BytesUploaded   int64
	BytesDownloaded int64
	BytesWasted     int64 // received but not needed: duplicates, unrequested, late
	BytesFromOrigin int64
	// Verified piece bytes by source (the origin's is BytesFromOrigin): what the stream was
	// actually made of, duplicates and failures excluded.
	VerifiedFromPeers  int64
	VerifiedFromSeeder int64 // from peers marked PeerUp.Seeder

	PiecesPublished int64 // publisher: pieces published
	PublisherCopies int64 // publisher: piece copies granted to peers
	PiecesVerified  int64
	PiecesFailed    int64 // failed their hash
	PiecesLate      int64 // verified after their deadline

	RequestsSent      int64
	DuplicateRequests int64 // second requests for a block expected to miss its deadline
	RequestTimeouts   int64
	CancelsSent       int64
	RejectsSent       int64
	RejectsReceived   int64

	RecordsAccepted        int64
	IgnoredRecords         int64 // stale, replayed, future or unverifiable records
	ConflictingRecords     int64 // different bytes for stored pieces: a publisher fault
	DuplicateSegments      int64 // media records repeating a kept record's media sequence (a restarted publisher): not played
	IgnoredDescriptors     int64
	StaleDescriptors       int64 // older than the descriptor the DHT item names
	ConflictingDescriptors int64
	SegmentsEvicted        int64
	PublishErrors          int64

	OriginFetches  int64
	OriginFailures int64
	OriginCancels  int64 // fetches abandoned because a peer delivered the piece first

	Closes     int64
	IdleCloses int64 // peers closed for idling while above the target peer count
	Bans       int64

	// Viewer playback.
	TunedIn           bool
	StartSeq          uint64
	NextSeq           uint64 // next media sequence to deliver
	SegmentsDelivered int64
	SegmentsSkipped   int64
	Retunes           int64         // start moved later before playing: records showed a newer live edge
	Stalls            int64         // segments delivered after their deadline
	StallTime         time.Duration // total lateness: the player waited this long
	StartupDelay      time.Duration // tune-in to first delivery
	// Propagation counts media segments by the time from their publication (the record's
	// Published time, on the publisher's clock) to the moment the last piece verified here:
	// Propagation[k] counts those at most PropagationBounds[k]; the last entry, the rest.
	Propagation    [len(PropagationBounds) + 1]int64
	PropagationSum time.Duration
	// NewestPublished is the publication time of the newest media segment completed here:
	// how fresh what this node holds is.
	NewestPublished time.Time

	WindowFirst, WindowEnd uint64
	StoreBytes             int64
}

// PropagationBounds are the upper bounds of the Propagation buckets.
var PropagationBounds = [...]time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	750 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second, 3 * time.Second,
	5 * time.Second, 10 * time.Second, 30 * time.Second}

// observePropagation counts a media segment that just completed.
func (s *Swarm) observePropagation(g *segment) {
	if !g.isMedia() || g.rec.Published.IsZero() {
		return
	}
	d := max(s.now.Sub(g.rec.Published), 0)
	k := 0
	for k < len(PropagationBounds) && d > PropagationBounds[k] {
		k++
	}
	s.stats.Propagation[k]++
	s.stats.PropagationSum += d
	if g.rec.Published.After(s.stats.NewestPublished) {
		s.stats.NewestPublished = g.rec.Published
	}
}

// Playback reports, for a viewer that has started playing, how much media is ready ahead
// of the playhead and how far playback is behind the live edge: the time from a segment's
// availability at the origin (its record's Published time, the publisher's clock) to its
// playback. ok is false before the first delivery.
func (s *Swarm) Playback() (bufferAhead, behindLive time.Duration, ok bool) {
	pl := &s.play
	if !pl.anchored {
		return 0, 0, false
	}
	var last *segment
	for seq := pl.next - 1; seq+1 > pl.startSeq; seq-- {
		if g := pl.bySeq[seq]; g != nil && g.delivered && g.isMedia() {
			last = g
			break
		}
	}
	if last == nil {
		return 0, 0, true
	}
	end := pl.deadline(last).Add(last.rec.Duration) // when the player finishes what it has
	return max(end.Sub(s.now), 0), end.Sub(last.rec.Published), true
}

// PeerStats describes one connection.
type PeerStats struct {
	Peer                        PeerHandle
	Addr                        string
	Outbound                    bool
	Connected                   time.Duration // since PeerUp
	BytesUp, BytesDown          int64
	DownRate, UpRate            float64 // bytes/s, averaged
	Latency                     time.Duration
	Strikes                     int
	AmChoking, AmInterested     bool
	PeerChoking, PeerInterested bool
	Outstanding                 int // our requests not yet answered
	Queued                      int // its requests not yet served
	HaveRanges                  int
}

// Stats returns the counters.
func (s *Swarm) Stats() Stats {
	st := s.stats
	st.Peers = len(s.peers)
	st.TunedIn, st.StartSeq, st.NextSeq = s.play.tuned, s.play.startSeq, s.play.next
	w := s.st.window()
	st.WindowFirst, st.WindowEnd = w.First, w.End
	st.StoreBytes = s.st.bytes
	return st
}

// PeerStats appends the state of every connection to out.
func (s *Swarm) PeerStats(out []PeerStats) []PeerStats {
	for _, p := range s.peers {
		out = append(out, PeerStats{Peer: p.h, Addr: p.addr, Outbound: p.outbound, Connected: s.now.Sub(p.upAt),
			BytesUp: p.bytesUp, BytesDown: p.bytesDown,
			DownRate: p.recvRate, UpRate: p.sendRate, Latency: p.latency, Strikes: p.strikes,
			AmChoking: p.amChoking, AmInterested: p.amInterested, PeerChoking: p.peerChoking,
			PeerInterested: p.peerInterested, Outstanding: p.nActive, Queued: p.queue.len(),
			HaveRanges: p.have.len()})
	}
	return out
}
