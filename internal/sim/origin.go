package sim

// originServer is the HTTP origin's queue: range requests are served one at a time, in
// arrival order, at the origin's capacity. A request whose cancellation arrives before
// its turn is dropped unserved, as a server drops a request whose client has gone; one
// being served completes.
type originServer struct {
	queue  []fetchReq          // waiting, in arrival order; ids are consecutive
	latest map[fetchKey]uint64 // a requester's newest waiting fetch of a piece: its id
	nextID uint64
	cur    fetchReq // the request being served
	busy   bool
}

type fetchKey struct {
	from  int32
	piece uint64
}

type fetchReq struct {
	key       fetchKey
	n         int64
	id        uint64
	cancelled bool
}

func newOriginServer() *originServer {
	return &originServer{latest: make(map[fetchKey]uint64)}
}

// onFetch queues a request that arrived at now.
func (s *Sim) onFetch(o *node, e *event) {
	srv := o.srv
	k := fetchKey{e.from, e.piece}
	srv.latest[k] = srv.nextID
	srv.queue = append(srv.queue, fetchReq{key: k, n: e.n, id: srv.nextID})
	srv.nextID++
	if !srv.busy {
		s.serveNext(o, e.at)
	}
}

// onFetchCancel drops a waiting request whose requester no longer wants it. Waiting ids
// are consecutive, so the request's position follows from the first one's id.
func (s *Sim) onFetchCancel(o *node, e *event) {
	if id, ok := o.srv.latest[fetchKey{e.from, e.piece}]; ok {
		o.srv.queue[id-o.srv.queue[0].id].cancelled = true
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
	for len(srv.queue) > 0 {
		// Taking from the front of the slice lets append move the waiting requests to a
		// new array when it grows, so a queue that never empties stays bounded.
		r := srv.queue[0]
		srv.queue = srv.queue[1:]
		if srv.latest[r.key] == r.id {
			delete(srv.latest, r.key)
		}
		if r.cancelled {
			o.cancelled++
			continue
		}
		srv.cur, srv.busy = r, true
		o.originBytes += r.n
		o.handled++
		o.push(event{at: now + vtime(float64(r.n)*o.upNs), kind: evServed})
		return
	}
}
