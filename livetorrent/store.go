package livetorrent

import (
	"math/bits"
	"slices"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// segment is one record and the state of its pieces. Records never share pieces, so a
// piece belongs to exactly one segment.
type segment struct {
	rec     protocol.Record
	raw     []byte    // the signed record as received, relayed unchanged
	arrival time.Time // local time the record first arrived: eviction is by this clock
	knownBy peerSet   // peers that sent us the record or were sent it

	data      []byte // segment bytes, allocated when first needed; verified pieces never change
	verified  []bool // per piece
	nVerified int    // count of true in verified
	// held mirrors the peers' HAVE sets for this segment's pieces: holdWords words per
	// piece, bit slot set when that peer announced it. Asking "does this peer hold the
	// piece" of the peer's range set costs a binary search in memory of its own per peer;
	// the request round and the HAVE relay ask it for every peer. Its bits counted are the
	// piece's availability (avail).
	held  []uint64
	parts []*partial

	// Viewer playback.
	wanted     bool          // part of the playback sequence (or an init segment it uses) and incomplete
	playOffset time.Duration // deadline = playback anchor + playOffset
	delivered  bool

	// Viewer origin fallback: after the origin said the segment is not there, none of its
	// pieces is fetched before originAfter; originWait doubles with each such answer.
	originAfter time.Time
	originWait  time.Duration

	pub       []pubPiece // publisher: per piece upload accounting
	pubSentAt time.Time  // publisher: when a block of it was last handed to the driver
}

func (g *segment) pieces() int        { return len(g.rec.Hashes) }
func (g *segment) complete() bool     { return g.nVerified == len(g.rec.Hashes) }
func (g *segment) piece(i int) uint64 { return g.rec.FirstPiece + uint64(i) }
func (g *segment) has(p uint64) bool  { return g.rec.Contains(p) && g.verified[p-g.rec.FirstPiece] }
func (g *segment) index(p uint64) int { return int(p - g.rec.FirstPiece) }

// holds reports whether the peer in slot announced piece i (w: holdWords).
func (g *segment) holds(i, slot, w int) bool {
	return g.held[i*w+slot>>6]&(1<<(slot&63)) != 0
}

// avail is how many connected peers announced piece i (w: holdWords).
func (g *segment) avail(i, w int) int32 {
	n := 0
	for _, x := range g.held[i*w : (i+1)*w] {
		n += bits.OnesCount64(x)
	}
	return int32(n)
}
func (g *segment) isMedia() bool { return !g.rec.IsInit() }
func (g *segment) pieceLen(i int, ps uint32) int {
	return g.rec.PieceLen(g.piece(i), ps)
}

// pieceBytes returns piece i's bytes inside data.
func (g *segment) pieceBytes(i int, ps uint32) []byte {
	off := int(uint64(i) * uint64(ps))
	return g.data[off : off+g.pieceLen(i, ps)]
}

// partial is a piece being assembled from blocks.
type partial struct {
	blocks  []blockState
	nGot    int
	nFree   int          // blocks neither received nor requested
	nLate   int          // blocks requested once whose answer is expected too late
	avoid   []PeerHandle // peers whose earlier copy of this piece failed its hash
	attempt *failedAttempt
}

type blockState struct {
	got  bool
	late bool
	from PeerHandle // sender of the received block (0 for the origin)
	nreq uint8
	reqs [maxDuplicates]blockReq
}

// maxDuplicates is how many peers may be asked for one block at once: the first request
// plus one duplicate when the first would miss the deadline.
const maxDuplicates = 2

type blockReq struct {
	peer   *peer
	at     time.Time // when it was sent
	expect time.Time // when the block was expected to arrive, estimated at request time
}

// failedAttempt keeps a piece that failed its hash and who sent each block, so that once
// the piece verifies the senders of the blocks that differed can be struck.
type failedAttempt struct {
	data []byte
	from []PeerHandle
}

func (pc *partial) reset(nblocks int) {
	pc.blocks = pc.blocks[:0]
	for range nblocks {
		pc.blocks = append(pc.blocks, blockState{})
	}
	pc.nGot, pc.nFree, pc.nLate = 0, nblocks, 0
}

func (pc *partial) avoids(h PeerHandle) bool {
	for _, a := range pc.avoid {
		if a == h {
			return true
		}
	}
	return false
}

func blocksIn(pieceLen int) int { return (pieceLen + protocol.BlockSize - 1) / protocol.BlockSize }

// store holds the segments of the window sorted by first piece.
type store struct {
	segs      []*segment
	ends      []uint64 // ends[i] is segs[i]'s end piece: searches read one array, not every segment
	bytes     int64    // allocated segment data
	evictedTo uint64   // every piece below this is gone for good (our window first)
	highest   uint64   // one past the highest piece of any record ever accepted
	newest    time.Time
	last      *segment // lookup cache
	freeParts []*partial
	noPayload bool // Config.NoPayload: segment bytes are counted, never allocated
}

// find returns the segment holding piece p.
func (st *store) find(p uint64) *segment {
	if g := st.last; g != nil && g.rec.Contains(p) {
		return g
	}
	i := st.search(p)
	if i < len(st.segs) && st.segs[i].rec.FirstPiece <= p {
		st.last = st.segs[i]
		return st.segs[i]
	}
	return nil
}

// search returns the index of the first segment that ends above piece p.
func (st *store) search(p uint64) int {
	lo, hi := 0, len(st.ends)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if st.ends[m] <= p {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// insertPos returns where a record covering [first, end) goes, or -1 if it overlaps a
// stored one (which is returned).
func (st *store) insertPos(first, end uint64) (int, *segment) {
	n := len(st.segs)
	if n == 0 || st.ends[n-1] <= first {
		return n, nil
	}
	i := st.search(first)
	if i < n && st.segs[i].rec.FirstPiece < end {
		return -1, st.segs[i]
	}
	return i, nil
}

func (st *store) insert(i int, g *segment) {
	st.segs = slices.Insert(st.segs, i, g)
	st.ends = slices.Insert(st.ends, i, g.rec.EndPiece())
	st.highest = max(st.highest, g.rec.EndPiece())
	if g.arrival.After(st.newest) {
		st.newest = g.arrival
	}
}

// window is what we advertise: [first, end).
func (st *store) window() protocol.Window {
	if len(st.segs) == 0 {
		return protocol.Window{First: st.evictedTo, End: st.evictedTo}
	}
	return protocol.Window{First: st.segs[0].rec.FirstPiece, End: st.segs[len(st.segs)-1].rec.EndPiece()}
}

func (st *store) getPartial(nblocks int) *partial {
	var pc *partial
	if n := len(st.freeParts); n > 0 {
		pc = st.freeParts[n-1]
		st.freeParts = st.freeParts[:n-1]
	} else {
		pc = &partial{}
	}
	pc.reset(nblocks)
	return pc
}

func (st *store) putPartial(pc *partial) {
	pc.avoid = pc.avoid[:0]
	pc.attempt = nil
	for i := range pc.blocks {
		pc.blocks[i] = blockState{}
	}
	if len(st.freeParts) < 256 {
		st.freeParts = append(st.freeParts, pc)
	}
}

// ensureData allocates the segment's buffer. Under Config.NoPayload the buffer is empty
// (but not nil, which marks it counted): the bytes are accounted as if held, so eviction
// by MaxStoreBytes behaves the same.
func (st *store) ensureData(g *segment) {
	if g.data == nil {
		if st.noPayload {
			g.data = []byte{}
		} else {
			g.data = make([]byte, g.rec.Length)
		}
		st.bytes += int64(g.rec.Length)
	}
}

// writeBlock copies a received block into the segment at byte off (nothing to keep
// under Config.NoPayload).
func (st *store) writeBlock(g *segment, off uint64, b []byte) {
	if !st.noPayload {
		copy(g.data[off:], b)
	}
}

// uploadBlock returns the bytes of [off, end) of a held segment for a DATA message.
func (st *store) uploadBlock(g *segment, off, end uint64) []byte {
	if st.noPayload {
		return zeroBlock[: end-off : end-off]
	}
	return g.data[off:end:end]
}

// zeroBlock is what every DATA block carries under Config.NoPayload: only the length
// counts. It is never written.
var zeroBlock [protocol.BlockSize]byte

// pieceValid verifies assembled piece i of g against its record's hash (taken as valid
// under Config.NoPayload, where there are no bytes).
func (s *Swarm) pieceValid(g *segment, i int) error {
	if s.cfg.NoPayload {
		return nil
	}
	return g.rec.VerifyPiece(g.piece(i), g.pieceBytes(i, s.ps))
}

// dataValid verifies data as piece i of g (its length was checked by the caller).
func (s *Swarm) dataValid(g *segment, i int, data []byte) error {
	if s.cfg.NoPayload {
		return nil
	}
	return g.rec.VerifyPiece(g.piece(i), data)
}

// recordValid checks a record's signature and consistency with the descriptor (skipped
// under Config.NoPayload: a simulator's records are its own).
func (s *Swarm) recordValid(r *protocol.Record) error {
	if s.cfg.NoPayload {
		return nil
	}
	return r.Verify(s.desc)
}

// spanOfHeld calls fn for each maximal run of verified pieces within [first, end), across
// segment boundaries when the segments are adjacent in the piece space.
func (st *store) heldRuns(first, end uint64, fn func(first, end uint64)) {
	i := st.search(first)
	runFirst, runEnd := uint64(0), uint64(0)
	open := false
	for ; i < len(st.segs) && st.segs[i].rec.FirstPiece < end; i++ {
		g := st.segs[i]
		for k := range g.verified {
			p := g.piece(k)
			if p < first || p >= end || !g.verified[k] {
				continue
			}
			if open && p == runEnd && runEnd-runFirst < protocol.MaxHaveCount {
				runEnd++
				continue
			}
			if open {
				fn(runFirst, runEnd)
			}
			runFirst, runEnd, open = p, p+1, true
		}
	}
	if open {
		fn(runFirst, runEnd)
	}
}
