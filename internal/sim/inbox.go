package sim

// inbox holds the messages bound for one partition's nodes by the window in which they
// arrive, until that window. Merging a window's messages only appends them here, and when
// the window comes each receiver runs on its group of them, merged with its own queue (its
// timers and write completions) as it goes. Pushing them into the receivers' queues at the
// merge touched each receiver's memory twice per message, at the merge and when it ran, and
// with thousands of nodes each such touch is a cache miss.
type inbox struct {
	windowRing[event]

	sorted []event // scratch: the window's messages grouped by receiver
	count  []int32 // scratch: messages per receiver, then where its group starts
	groups [][]event
}

// inboxRing covers 640 ms at 10 ms windows: latencies and the short uplink queues the
// cores keep put nearly every message within it.
const inboxRing = 64

func newInbox(width vtime) inbox {
	return inbox{windowRing: newWindowRing[event](width, inboxRing)}
}

// add files a message under the window of its arrival, which is after the window being
// processed (no message crosses between nodes within a window).
func (b *inbox) add(e *event) { b.file(b.window(e.at), *e) }

// take returns the messages arriving in window k, one group per receiver in increasing
// node id; workers is the partition count (node ids of a partition step by it) and nodes
// the number of nodes. The groups stay valid until the next take.
func (b *inbox) take(k int64, workers, nodes int) [][]event {
	slot := b.advance(k, func(e event) (int64, bool) { return b.window(e.at), true })
	msgs := *slot
	*slot = shrunk(msgs)
	b.groups = b.groups[:0]
	if len(msgs) == 0 {
		return b.groups
	}
	// Counting sort by receiver: stable, so each group keeps merge order (the queues
	// order by time, sender and emission anyway).
	if n := nodes/workers + 2; cap(b.count) < n {
		b.count = make([]int32, n)
	}
	count := b.count[:nodes/workers+2]
	clear(count)
	for i := range msgs {
		count[msgs[i].to/int32(workers)+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	clear(b.sorted) // the last window's messages: let the collector have them
	if b.sorted = shrunk(b.sorted); cap(b.sorted) < len(msgs) {
		b.sorted = make([]event, len(msgs), 2*len(msgs))
	}
	sorted := b.sorted[:len(msgs)]
	for i := range msgs {
		r := msgs[i].to / int32(workers)
		sorted[count[r]] = msgs[i]
		count[r]++
	}
	clear(msgs)
	start := 0
	for i := 1; i <= len(sorted); i++ {
		if i == len(sorted) || sorted[i].to != sorted[start].to {
			b.groups = append(b.groups, sorted[start:i])
			start = i
		}
	}
	b.sorted = sorted
	return b.groups
}

// sortEvents sorts a receiver's messages of one window by event.before: a few at a time,
// nearly always in order already.
func sortEvents(v []event) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j].before(&v[j-1]); j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// shrunk returns v emptied for reuse, or a smaller array if v's grew far beyond what it
// held: a flash crowd's bursts would otherwise keep every bucket at its largest size for
// the rest of the run (a gigabyte at 10,000 viewers).
func shrunk(v []event) []event {
	if c := cap(v); c > 1024 && c > 4*len(v) {
		return make([]event, 0, 2*len(v))
	}
	return v[:0]
}
