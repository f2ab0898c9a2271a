// Package status shows what a seeder or leecher is doing: Prometheus metrics, a JSON status
// document, a one-line status for a terminal and a small HTML page, all from one Snapshot.
package status

import "time"

// Snapshot is a point-in-time view of one seeder or leecher. Counters are totals since
// start; rates are averaged over the last few seconds by a Monitor.
type Snapshot struct {
	Role   string        `json:"role"`   // "seeder" or "leecher"
	Stream string        `json:"stream"` // info-hash, hex
	Name   string        `json:"name,omitempty"`
	Uptime time.Duration `json:"uptime_ns"`

	Peers int `json:"peers"` // connected peers

	// Bytes of piece data by direction and source. Received bytes count only what was
	// useful (verified into the stream), so shares add up.
	BytesSent       int64         `json:"bytes_sent"`
	BytesFromPeers  int64         `json:"bytes_from_peers"`  // other viewers
	BytesFromSeeder int64         `json:"bytes_from_seeder"` // the link's peers (the seeder)
	BytesFromOrigin int64         `json:"bytes_from_origin"` // HTTP range requests to the origin
	PiecesVerified  int64         `json:"pieces_verified"`
	PiecesRejected  int64         `json:"pieces_rejected"` // failed their hash
	DeadlineMisses  int64         `json:"deadline_misses"` // pieces verified after their deadline
	SegmentsPlayed  int64         `json:"segments_played"`
	SegmentsSkipped int64         `json:"segments_skipped"`
	Retunes         int64         `json:"retunes"` // start moved later before playing: the first records seen were stale
	Stalls          int64         `json:"stalls"`  // segments delivered late: the player waited
	StallTime       time.Duration `json:"stall_time_ns"`
	StartupDelay    time.Duration `json:"startup_delay_ns"` // tune-in to the first segment played (0 before)
	MissingRequests int64         `json:"missing_requests"` // the player asked for data the leecher did not have
	// Block requests this node sent to peers, those refused (REJECT), the second requests
	// for blocks expected to miss their deadline, and the piece bytes received that were
	// not needed (duplicates, late, unrequested).
	RequestsSent      int64 `json:"requests_sent"`
	RequestsRefused   int64 `json:"requests_refused"`
	DuplicateRequests int64 `json:"duplicate_requests"`
	BytesWasted       int64 `json:"bytes_wasted"`

	BufferAhead time.Duration `json:"buffer_ahead_ns"` // media ready ahead of the playhead
	BehindLive  time.Duration `json:"behind_live_ns"`  // origin availability to playback

	// Propagation: time from a segment's publication by the seeder to its arrival here.
	Propagation Histogram `json:"propagation"`

	// Seeder only.
	BitrateBps        float64 `json:"bitrate_bps"` // the stream's average bitrate
	SegmentsPublished int64   `json:"segments_published"`

	// Filled by a Monitor from successive snapshots (bytes per second over its window).
	SendRate       float64 `json:"send_rate"`
	ReceiveRate    float64 `json:"receive_rate"`
	EgressMultiple float64 `json:"egress_multiple"` // seeder: SendRate*8 / BitrateBps
}

// Histogram is a fixed-bucket distribution of durations.
type Histogram struct {
	Bounds []time.Duration `json:"bounds_ns"` // upper bounds, ascending
	Counts []int64         `json:"counts"`    // per bucket (not cumulative); len(Bounds)+1, the last is overflow
	Sum    time.Duration   `json:"sum_ns"`
}

// ShareFromPeers is the share of received bytes that came from other viewers (0 when
// nothing was received).
func (s Snapshot) ShareFromPeers() float64 {
	total := s.BytesFromPeers + s.BytesFromSeeder + s.BytesFromOrigin
	if total == 0 {
		return 0
	}
	return float64(s.BytesFromPeers) / float64(total)
}
