package leecher

// window holds the most recent segments, oldest first, within a segment count and a byte
// budget, and the init segments they use. It is not safe for concurrent use: Output
// guards it.
type window struct {
	entries     []*entry
	inits       map[uint64]*initSegment
	bytes       int64 // segment and init bytes held
	maxSegments int
	maxBytes    int64
}

func newWindow(maxSegments int, maxBytes int64) window {
	return window{inits: make(map[uint64]*initSegment), maxSegments: maxSegments, maxBytes: maxBytes}
}

// lookupInit returns the held init segment with id, if any.
func (w *window) lookupInit(id uint64) *initSegment { return w.inits[id] }

// push appends e (its init, if new, joins the held inits) and evicts the oldest segments
// beyond the bounds. The newest segment always stays, however large, so a player can
// always get the live edge. It returns the number of segments evicted.
func (w *window) push(e *entry) int {
	if e.init != nil && w.inits[e.init.id] == nil {
		w.inits[e.init.id] = e.init
		w.bytes += int64(len(e.init.data))
	}
	w.entries = append(w.entries, e)
	w.bytes += int64(len(e.data))
	n := 0
	for len(w.entries) > 1 && (len(w.entries) > w.maxSegments || w.bytes > w.maxBytes) {
		w.bytes -= int64(len(w.entries[0].data))
		w.entries[0] = nil
		w.entries = w.entries[1:]
		n++
	}
	if n > 0 {
		w.dropUnusedInits()
	}
	// Re-slicing from the front shrinks the capacity, so append soon moves the entries to
	// a new array and the old one is freed: memory stays proportional to the bounds.
	return n
}

// dropUnusedInits forgets init segments no held segment uses.
func (w *window) dropUnusedInits() {
	if len(w.inits) == 0 {
		return
	}
	used := make(map[uint64]bool, 2)
	for _, e := range w.entries {
		if e.init != nil {
			used[e.init.id] = true
		}
	}
	for id, in := range w.inits {
		if !used[id] {
			w.bytes -= int64(len(in.data))
			delete(w.inits, id)
		}
	}
}

// segmentState says where a requested local sequence number lies relative to the window.
type segmentState uint8

const (
	segmentHeld    segmentState = iota
	segmentEvicted              // older than the window, or the window is empty after segments left
	segmentAhead                // not delivered yet
)

// find returns the segment with local sequence seq. Sequence numbers in the window are
// consecutive, so this is an index computation.
func (w *window) find(seq uint64) (*entry, segmentState) {
	if len(w.entries) == 0 {
		return nil, segmentAhead
	}
	first := w.entries[0].seq
	switch {
	case seq < first:
		return nil, segmentEvicted
	case seq-first >= uint64(len(w.entries)):
		return nil, segmentAhead
	}
	return w.entries[seq-first], segmentHeld
}

// newest returns the last segment, or nil.
func (w *window) newest() *entry {
	if len(w.entries) == 0 {
		return nil
	}
	return w.entries[len(w.entries)-1]
}
