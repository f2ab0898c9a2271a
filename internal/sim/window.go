package sim

// windowRing files values by time window: a ring of buckets for the windows from the
// current one on, and a list for what lies beyond the ring, moved into it as it comes
// within reach. The calendar files node ids in it, the inbox messages.
type windowRing[T any] struct {
	width vtime
	ring  [][]T
	far   []T
	cur   int64 // the window being processed
}

func newWindowRing[T any](width vtime, size int) windowRing[T] {
	return windowRing[T]{width: width, ring: make([][]T, size)}
}

// window is the window holding t.
func (r *windowRing[T]) window(t vtime) int64 { return int64(t / r.width) }

// file files v under window k, which is not before the current one.
func (r *windowRing[T]) file(k int64, v T) {
	if k-r.cur >= int64(len(r.ring)) {
		r.far = append(r.far, v)
		return
	}
	b := &r.ring[k%int64(len(r.ring))]
	*b = append(*b, v)
}

// advance makes k the current window and returns its bucket, which the caller empties.
// Every half ring, the far entries that came within reach move into the ring first;
// windowOf gives an entry's window, or false to drop it.
func (r *windowRing[T]) advance(k int64, windowOf func(v T) (int64, bool)) *[]T {
	r.cur = k
	size := int64(len(r.ring))
	if k%(size/2) == 0 && len(r.far) > 0 {
		far := r.far
		r.far = nil
		for _, v := range far {
			if w, ok := windowOf(v); ok {
				r.file(w, v)
			}
		}
	}
	return &r.ring[k%size]
}
