package leecher

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// gatedWriter blocks every Write until released, like a player that stopped reading.
type gatedWriter struct {
	started chan struct{} // closed at the first Write
	gate    chan struct{} // closed to let writes through
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{started: make(chan struct{}), gate: make(chan struct{})}
}

func (w *gatedWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.started) })
	<-w.gate
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

func (w *gatedWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf.Bytes())
}

// deliverAll delivers segs from another goroutine and fails unless Deliver returns
// promptly while the writer is stuck.
func deliverAll(t *testing.T, out *Output, segs []Segment) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		for _, s := range segs {
			out.Deliver(s)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver blocked on a stuck stream writer")
	}
}

func runStream(t *testing.T, st *Stream) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- st.Run(context.Background()) }()
	return errc
}

func TestSlowWriterDropsWholeSegments(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{Logger: testLogger(t)})
	w := newGatedWriter()
	st := out.NewStream(w, StreamConfig{MaxSegments: 3})
	errc := runStream(t, st)

	var segs []Segment
	for i := range 21 {
		flags := uint8(0)
		if i == 20 {
			flags = protocol.FlagEnd
		}
		d := data("seg" + strconv.Itoa(i))
		segs = append(segs, Segment{Record: pub.segment(uint64(i), 2*time.Second, flags, nil, d), Data: d})
	}
	out.Deliver(segs[0])
	<-w.started // the writer is inside segment 0 and stays there
	deliverAll(t, out, segs[1:])
	if s := st.Stats(); s.Dropped != 17 {
		t.Fatalf("dropped %d segments, want 17 (20 queued behind a stuck writer, 3 kept)", s.Dropped)
	}
	close(w.gate)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// Segment 0 (in progress) is finished, 1..17 are gone whole, 18..20 follow.
	var want []byte
	for _, i := range []int{0, 18, 19, 20} {
		want = append(want, segs[i].Data...)
	}
	if got := w.bytes(); !bytes.Equal(got, want) {
		t.Fatalf("stream is %d bytes, want %d: segments 0, 18, 19, 20 whole", len(got), len(want))
	}
	if s := out.Stats(); s.StreamDropped != 17 || s.StreamSegments != 4 || s.StreamBytes != int64(len(want)) {
		t.Fatalf("output stats %+v", s)
	}
}

// A byte budget drops too, and the init segment is written again before the first
// segment that uses a new one even when the segment that brought it was dropped.
func TestSlowWriterFMP4InitSurvivesDrops(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{Logger: testLogger(t)})
	w := newGatedWriter()
	st := out.NewStream(w, StreamConfig{MaxSegments: 100, MaxBytes: 2500}) // two 1000-byte segments
	errc := runStream(t, st)

	initA, initB := pub.initSeg(data("initA")), (*protocol.Record)(nil)
	var segs []Segment
	for i := range 10 {
		in, inData := initA, data("initA")
		if i >= 5 {
			if initB == nil {
				initB = pub.initSeg(data("initB"))
			}
			in, inData = initB, data("initB")
		}
		flags := uint8(0)
		if i == 9 {
			flags = protocol.FlagEnd
		}
		d := data("frag" + strconv.Itoa(i))
		s := Segment{Record: pub.segment(uint64(i), 2*time.Second, flags, in, d), Data: d}
		if i == 0 || i == 5 {
			s.Init, s.InitData = in, inData
		}
		segs = append(segs, s)
	}
	out.Deliver(segs[0])
	<-w.started // stuck writing init A
	deliverAll(t, out, segs[1:])
	close(w.gate)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	want := append(data("initA"), segs[0].Data...)
	want = append(want, data("initB")...)
	want = append(want, segs[8].Data...)
	want = append(want, segs[9].Data...)
	if got := w.bytes(); !bytes.Equal(got, want) {
		t.Fatalf("stream is %d bytes, want %d: initA, frag0, initB, frag8, frag9", len(got), len(want))
	}
	if s := st.Stats(); s.Dropped != 7 || s.Segments != 3 {
		t.Fatalf("stream stats %+v", s)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(b []byte) (int, error) {
	w.n++
	if w.n > 1 {
		return 0, errors.New("broken pipe")
	}
	return len(b), nil
}

// A writer error ends Run and detaches the stream; cancellation ends a waiting Run; Close
// ends Run once the queue is written; a stream attached late starts at the newest segment.
func TestStreamEnding(t *testing.T) {
	pub := newPublisher(t)
	seg := func(i int) Segment {
		d := data("s" + strconv.Itoa(i))
		return Segment{Record: pub.segment(uint64(i), time.Second, 0, nil, d), Data: d}
	}
	out := NewOutput(Config{Logger: testLogger(t)})
	fw := &failingWriter{}
	st := out.NewStream(fw, StreamConfig{})
	out.Deliver(seg(0))
	out.Deliver(seg(1))
	if err := st.Run(context.Background()); err == nil {
		t.Fatal("Run ignored a write error")
	}
	out.Deliver(seg(2)) // detached: nothing queued for it
	out.mu.Lock()
	n := len(st.queue)
	out.mu.Unlock()
	if n != 0 {
		t.Fatalf("detached stream still queues %d segments", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var buf bytes.Buffer
	late := out.NewStream(&buf, StreamConfig{})
	errc := make(chan error, 1)
	go func() { errc <- late.Run(ctx) }()
	waitFor(t, "the late stream to write the newest segment", func() bool { return late.Stats().Segments == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
	if !bytes.Equal(buf.Bytes(), data("s2")) {
		t.Fatal("a late stream did not start with the newest segment")
	}

	var buf2 bytes.Buffer
	st2 := out.NewStream(&buf2, StreamConfig{})
	out.Deliver(seg(3))
	out.Close()
	if err := st2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st2.Stats().Segments != 2 {
		t.Fatalf("after Close the stream wrote %d segments, want 2", st2.Stats().Segments)
	}
}
