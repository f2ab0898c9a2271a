package livetorrent

import (
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// longWindow makes h's stream keep 20 minutes: 600 segments of 2 s, more records than the
// initial exchange may carry.
func longWindow(t *testing.T, h *harness) {
	h.desc.WindowDuration = 20 * time.Minute
	if err := h.desc.Sign(prototest.PublisherKey()); err != nil {
		t.Fatal(err)
	}
	h.descRaw = h.desc.Append(nil)
}

// greeting connects peer p, which holds no descriptor, and returns what h sends it.
func greeting(h *harness, p PeerHandle) []Action {
	return append([]Action(nil), h.do(PeerUp{Peer: p, Addr: "10.0.0.9:6881",
		Ext: protocol.ExtHandshake{LiveID: 1, Version: 1, Reqq: 256}})...)
}

// checkGreeting asserts the initial exchange's limits (spec 4.5): at most maxInitialRecords
// records in increasing order, and HAVEs only for pieces of records sent. It returns the
// first piece of the oldest record sent.
func checkGreeting(t *testing.T, acts []Action) uint64 {
	t.Helper()
	var records, signed int
	first, last := uint64(0), uint64(0)
	for _, a := range acts {
		switch m := a.Msg.(type) {
		case protocol.DescriptorMsg:
			signed++
		case protocol.RecordMsg:
			r, err := protocol.ParseRecord(m.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if records > 0 && r.FirstPiece <= last {
				t.Fatalf("record at %d after one at %d", r.FirstPiece, last)
			}
			if records == 0 {
				first = r.FirstPiece
			}
			last = r.FirstPiece
			records++
			signed++
		case protocol.Have:
			if m.First < first || records == 0 {
				t.Fatalf("HAVE %d+%d announces pieces below the oldest record sent (%d)", m.First, m.Count, first)
			}
		}
	}
	if records == 0 || records > maxInitialRecords || signed > 256 {
		t.Fatalf("greeting has %d records, %d signed messages", records, signed)
	}
	return first
}

// feedTo delivers the messages of acts to a fresh viewer as peer 1's and fails if it
// closes the connection: the reference receiver's limits accept the greeting.
func feedTo(t *testing.T, h *harness, acts []Action) {
	t.Helper()
	v := newHarness(t, Config{DisableOrigin: true})
	v.desc, v.descRaw, v.now = h.desc, h.descRaw, h.now
	v.up(1)
	for _, a := range acts {
		if a.Kind != ActSend {
			continue
		}
		v.recv(1, a.Msg)
		if c, ok := v.closed(1); ok {
			t.Fatalf("receiver closed the connection at %v: %v", a, c.Err)
		}
	}
}

// TestGreetingWithLongWindowPublisher: a publisher keeping more records than the initial
// exchange may carry sends the newest it can, announces no piece of the others, and never
// sends the older ones afterwards (which would exceed the receiver's record burst).
func TestGreetingWithLongWindowPublisher(t *testing.T) {
	h := newHarness(t, Config{Role: RolePublisher, MaxStoreBytes: 1 << 30})
	longWindow(t, h)
	const n = 300
	for k := range uint64(n) {
		h.advance(2 * time.Second)
		h.publish(h.segment(100+k, 1000+4*k, 70_000), k == 0)
	}
	acts := greeting(h, 9)
	first := checkGreeting(t, acts)
	if want := uint64(1000 + 4*(n-maxInitialRecords)); first != want {
		t.Fatalf("oldest record sent starts at %d, want %d", first, want)
	}
	for range 10 {
		for _, a := range h.advance(time.Second) {
			if m, ok := a.Msg.(protocol.RecordMsg); ok && a.Peer == 9 {
				if r, _ := protocol.ParseRecord(m.Raw); r.FirstPiece < first {
					t.Fatalf("record at %d sent after the greeting", r.FirstPiece)
				}
			}
			if m, ok := a.Msg.(protocol.Have); ok && a.Peer == 9 && m.First < first {
				t.Fatalf("HAVE %d+%d after the greeting, below its records", m.First, m.Count)
			}
			acts = append(acts, a)
		}
	}
	feedTo(t, h, acts)
}

// longWindowViewer returns a viewer of a long-window stream that received n records of
// size bytes from peer 1, one every 2 s, pieces numbered with a gap after each; hold marks
// the pieces of each it holds.
func longWindowViewer(t *testing.T, n, size int, hold func(h *harness, seg testSeg)) *harness {
	h := newHarness(t, Config{DisableOrigin: true, MaxStoreBytes: 1 << 30})
	longWindow(t, h)
	h.up(1)
	h.recv(1, protocol.DescriptorMsg{Raw: h.descRaw})
	step := uint64((size+32767)/32768 + 1) // pieces, and a gap
	for k := range uint64(n) {
		h.advance(2 * time.Second)
		seg := h.segment(100+k, 1000+step*k, size)
		h.recv(1, protocol.RecordMsg{Raw: seg.raw})
		hold(h, seg)
	}
	return h
}

// TestGreetingWithLongWindowViewer: the same for a viewer holding more records than fit.
func TestGreetingWithLongWindowViewer(t *testing.T) {
	const n = 300
	h := longWindowViewer(t, n, 70_000, (*harness).ownAll)
	acts := greeting(h, 9)
	first := checkGreeting(t, acts)
	if want := uint64(1000 + 4*(n-maxInitialRecords)); first != want {
		t.Fatalf("oldest record sent starts at %d, want %d", first, want)
	}
	feedTo(t, h, acts)
}

// TestGreetingOfSparseHolder: a viewer holding every other piece of 200 segments (1,200
// separate runs) announces only the newest runs that fit the receiver's HAVE burst.
func TestGreetingOfSparseHolder(t *testing.T) {
	const n = 200
	h := longWindowViewer(t, n, 12*32768-1, func(h *harness, seg testSeg) {
		g := h.sw.st.find(seg.rec.FirstPiece)
		for i := 0; i < len(g.verified); i += 2 {
			g.verified[i] = true
			g.nVerified++
		}
		g.wanted = false
		h.sw.pick.dirty = true
	})
	acts := greeting(h, 9)
	checkGreeting(t, acts)
	var haves []protocol.Have
	for _, a := range acts {
		if m, ok := a.Msg.(protocol.Have); ok {
			haves = append(haves, m)
		}
	}
	if len(haves) != maxInitialHaves {
		t.Fatalf("%d HAVEs in the greeting, want %d", len(haves), maxInitialHaves)
	}
	if last := haves[len(haves)-1]; last.First != 1000+13*(n-1)+10 {
		t.Fatalf("last HAVE at %d, want the newest piece held", last.First)
	}
	feedTo(t, h, acts)
}
