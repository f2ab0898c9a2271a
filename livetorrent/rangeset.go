package livetorrent

import "sort"

// span is a half-open range of pieces [first, end).
type span struct{ first, end uint64 }

// rangeSet is a set of pieces kept as sorted, disjoint, non-adjacent spans. Live pieces
// arrive in increasing order, so the common operations (extend the last span, drop spans
// below a point) are O(1) amortised; lookups are binary searches.
type rangeSet struct{ spans []span }

func (r *rangeSet) len() int { return len(r.spans) }

// search returns the index of the first span whose end is above p.
func (r *rangeSet) search(p uint64) int {
	n := len(r.spans)
	if n > 0 && r.spans[n-1].first <= p {
		if p < r.spans[n-1].end {
			return n - 1
		}
		return n
	}
	return sort.Search(n, func(i int) bool { return r.spans[i].end > p })
}

func (r *rangeSet) contains(p uint64) bool {
	i := r.search(p)
	return i < len(r.spans) && r.spans[i].first <= p
}

// add inserts [first, end) and calls added for each sub-range that was not in the set.
func (r *rangeSet) add(first, end uint64, added func(first, end uint64)) {
	if first >= end {
		return
	}
	n := len(r.spans)
	if n == 0 || first > r.spans[n-1].end {
		r.spans = append(r.spans, span{first, end})
		added(first, end)
		return
	}
	if last := &r.spans[n-1]; first >= last.first {
		if end > last.end {
			added(max(first, last.end), end)
			last.end = end
		}
		return
	}
	// General case: spans i..j-1 overlap or touch [first, end).
	i := sort.Search(n, func(k int) bool { return r.spans[k].end >= first })
	j := i
	cur := first
	for j < n && r.spans[j].first <= end {
		if r.spans[j].first > cur {
			added(cur, r.spans[j].first)
		}
		cur = max(cur, r.spans[j].end)
		j++
	}
	if cur < end {
		added(cur, end)
	}
	merged := span{first, end}
	if j > i {
		merged.first = min(first, r.spans[i].first)
		merged.end = max(end, r.spans[j-1].end)
	}
	switch {
	case j == i:
		r.spans = append(r.spans, span{})
		copy(r.spans[i+1:], r.spans[i:])
		r.spans[i] = merged
	default:
		r.spans[i] = merged
		r.spans = append(r.spans[:i+1], r.spans[j:]...)
	}
}

// remove deletes [first, end) and calls removed for each sub-range that was in the set.
func (r *rangeSet) remove(first, end uint64, removed func(first, end uint64)) {
	if first >= end {
		return
	}
	i := r.search(first)
	for i < len(r.spans) && r.spans[i].first < end {
		s := r.spans[i]
		lo, hi := max(s.first, first), min(s.end, end)
		removed(lo, hi)
		switch {
		case s.first < lo && s.end > hi: // split in two
			r.spans = append(r.spans, span{})
			copy(r.spans[i+2:], r.spans[i+1:])
			r.spans[i] = span{s.first, lo}
			r.spans[i+1] = span{hi, s.end}
			return
		case s.first < lo:
			r.spans[i].end = lo
			i++
		case s.end > hi:
			r.spans[i].first = hi
			return
		default:
			r.spans = append(r.spans[:i], r.spans[i+1:]...)
		}
	}
}

// removeBelow deletes every piece below p.
func (r *rangeSet) removeBelow(p uint64, removed func(first, end uint64)) {
	if len(r.spans) == 0 || r.spans[0].first >= p {
		return
	}
	r.remove(r.spans[0].first, p, removed)
}

// overlaps calls fn for each part of the set inside [first, end).
func (r *rangeSet) overlaps(first, end uint64, fn func(first, end uint64)) {
	for i := r.search(first); i < len(r.spans) && r.spans[i].first < end; i++ {
		fn(max(r.spans[i].first, first), min(r.spans[i].end, end))
	}
}

func (r *rangeSet) reset() { r.spans = r.spans[:0] }

// peerSet is a bitset of peer slots.
type peerSet []uint64

func (s peerSet) has(slot int) bool { return slot>>6 < len(s) && s[slot>>6]&(1<<(slot&63)) != 0 }

func (s *peerSet) set(slot int) {
	for slot>>6 >= len(*s) {
		*s = append(*s, 0)
	}
	(*s)[slot>>6] |= 1 << (slot & 63)
}

func (s peerSet) clear(slot int) {
	if slot>>6 < len(s) {
		s[slot>>6] &^= 1 << (slot & 63)
	}
}
