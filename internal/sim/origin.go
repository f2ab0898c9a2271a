package sim

// originServer is the HTTP origin's queue: range requests are served one at a time, in
// arrival order, at the origin's capacity. A request whose cancellation arrives before
// its turn is dropped unserved, as a server drops a request whose client has gone; one
// being served completes.
type originServer struct {
	queue  []fetchReq
	head   int              // queue[head] is served next
	latest map[fetchKey]int // a requester's queued fetch of a piece: its queue position
	cur    fetchReq         // the request being served
	busy   bool
}

type fetchKey struct {
	from  int32
	piece uint64
}

type fetchReq struct {
	key       fetchKey
	n         int64
	cancelled bool
}

// onFetch queues a request that arrived at now.
func (s *Sim) onFetch(o *node, e *event) {
	srv := o.srv
	if srv.latest == nil {
		srv.latest = make(map[fetchKey]int)
	}
	k := fetchKey{e.from, e.piece}
	srv.latest[k] = len(srv.queue)
	srv.queue = append(srv.queue, fetchReq{key: k, n: e.n})
	if !srv.busy {
		s.serveNext(o, e.at)
	}
}

// onFetchCancel drops a queued request whose requester no longer wants it.
func (s *Sim) onFetchCancel(o *node, e *event) {
	if i, ok := o.srv.latest[fetchKey{e.from, e.piece}]; ok {
		o.srv.queue[i].cancelled = true
	}
}

// onServed answers the request just served and starts the next.
func (s *Sim) onServed(o *node, now vtime) {
	srv := o.srv
	srv.busy = false
	o.emit(event{at: now + vtime(s.sc.OriginLat), kind: evOriginData, from: originID, to: srv.cur.key.from, piece: srv.cur.key.piece, n: srv.cur.n})
	s.serveNext(o, now)
}

func (s *Sim) serveNext(o *node, now vtime) {
	srv := o.srv
	for srv.head < len(srv.queue) {
		r := srv.queue[srv.head]
		if srv.latest[r.key] == srv.head {
			delete(srv.latest, r.key)
		}
		srv.head++
		if r.cancelled {
			o.cancelled++
			continue
		}
		srv.cur, srv.busy = r, true
		o.originBytes += r.n
		o.handled++
		o.push(event{at: now + vtime(float64(r.n)*o.upNs), kind: evServed})
		break
	}
	switch {
	case srv.head == len(srv.queue):
		srv.queue, srv.head = srv.queue[:0], 0
	case srv.head >= 1024 && 4*srv.head >= len(srv.queue):
		// A queue that never empties would grow for ever: move the waiting requests to
		// the front, and their positions with them, once a quarter of it is served.
		n := copy(srv.queue, srv.queue[srv.head:])
		srv.queue = srv.queue[:n]
		for k, i := range srv.latest {
			srv.latest[k] = i - srv.head
		}
		srv.head = 0
	}
}
