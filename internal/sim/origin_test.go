package sim

import (
	"testing"
	"time"
)

// TestOriginQueue: the origin serves range requests one at a time in arrival order at its
// capacity, answers a latency later, and drops a request cancelled before its turn; a
// cancel that arrives while its request is being served changes nothing.
func TestOriginQueue(t *testing.T) {
	const ms = vtime(time.Millisecond)
	s := &Sim{sc: &Scenario{OriginLat: 40 * time.Millisecond}}
	p := &part{out: make([][]event, 1)}
	o := &node{id: originID, srv: newOriginServer(), upNs: 1000, part: p} // 1 ms per 1,000 bytes
	fetch := func(at vtime, from int32, piece uint64) {
		s.onFetch(o, &event{at: at, kind: evFetch, from: from, piece: piece, n: 1000})
	}
	cancel := func(at vtime, from int32, piece uint64) {
		s.onFetchCancel(o, &event{at: at, kind: evFetchCancel, from: from, piece: piece})
	}
	served := func() {
		if o.q.next() == never {
			t.Fatal("origin idle, want a request in service")
		}
		e := o.q.pop()
		if e.kind != evServed {
			t.Fatalf("origin event %d, want evServed", e.kind)
		}
		s.onServed(o, e.at)
	}
	fetch(0, 5, 1)
	fetch(0, 6, 2)
	fetch(0, 7, 3)
	fetch(0, 8, 4)
	cancel(ms/2, 6, 2) // queued: dropped
	cancel(ms/2, 5, 1) // in service: still answered
	served()
	served()
	served()
	if o.q.next() != never {
		t.Fatalf("origin still busy after three answers")
	}
	type answer struct {
		at    vtime
		to    int32
		piece uint64
	}
	var got []answer
	for _, e := range p.out[0] {
		got = append(got, answer{e.at, e.to, e.piece})
	}
	want := []answer{{41 * ms, 5, 1}, {42 * ms, 7, 3}, {43 * ms, 8, 4}}
	if len(got) != len(want) {
		t.Fatalf("answers %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("answers %v, want %v", got, want)
		}
	}
	if o.cancelled != 1 || o.originBytes != 3000 || len(o.srv.latest) != 0 {
		t.Fatalf("cancelled %d, served %d bytes, %d still indexed; want 1, 3000, 0", o.cancelled, o.originBytes, len(o.srv.latest))
	}
}

// TestOriginQueueCompacts: a queue that never empties keeps its memory bounded (the
// array holding it is moved as it grows), and a cancel still finds its request after the
// waiting ones moved.
func TestOriginQueueCompacts(t *testing.T) {
	s := &Sim{sc: &Scenario{OriginLat: 40 * time.Millisecond}}
	p := &part{out: make([][]event, 1)}
	o := &node{id: originID, srv: newOriginServer(), upNs: 1000, part: p}
	served := 0
	serve := func() {
		e := o.q.pop()
		s.onServed(o, e.at)
		served++
	}
	at := vtime(0)
	for k := range 20_000 {
		// Two requests arrive for every one served: the queue never empties.
		s.onFetch(o, &event{at: at, kind: evFetch, from: int32(k), piece: uint64(k), n: 1000})
		if k%2 == 1 {
			serve()
		}
	}
	if cap(o.srv.queue) > 2*len(o.srv.queue)+1024 {
		t.Fatalf("queue holds room for %d entries for %d waiting", cap(o.srv.queue), len(o.srv.queue))
	}
	last := fetchKey{19_999, 19_999}
	s.onFetchCancel(o, &event{from: last.from, piece: last.piece})
	id, ok := o.srv.latest[last]
	if i := int(id - o.srv.queue[0].id); !ok || !o.srv.queue[i].cancelled || o.srv.queue[i].key != last {
		t.Fatalf("cancel did not reach the last request (position %d, %v)", i, ok)
	}
	for o.q.next() != never {
		serve()
	}
	if served != 20_000-1 || o.cancelled != 1 || len(o.srv.latest) != 0 {
		t.Fatalf("served %d, cancelled %d, %d indexed; want 19999, 1, 0", served, o.cancelled, len(o.srv.latest))
	}
}
