package seeder

import (
	"bytes"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

func testDescriptor(t *testing.T, now time.Time) *protocol.Descriptor {
	t.Helper()
	d, raw, err := SignDescriptor(testKey(1), DescriptorParams{Name: "p", PieceSize: 16384,
		TargetDuration: 2 * time.Second, WindowDuration: 30 * time.Second}, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, d.Append(nil)) || d.Verify() != nil || d.Seq != uint64(now.UnixMilli()) {
		t.Fatalf("descriptor %+v", d)
	}
	return d
}

func TestPieceAllocation(t *testing.T) {
	now := testStart
	d := testDescriptor(t, now)
	p, err := NewPackager(testKey(1), d, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seg := func(seq uint64, n int) Segment {
		return Segment{MediaSeq: seq, Duration: 2 * time.Second, URI: "s.ts", Data: make([]byte, n)}
	}
	// A burst (the backlog) runs ahead of the clock, never overlapping.
	var end uint64
	for i := range 5 {
		pk, err := p.Package(seg(uint64(i), 100000), now)
		if err != nil {
			t.Fatal(err)
		}
		r := pk[0].Record
		if r.FirstPiece < uint64(now.UnixMilli()) || r.FirstPiece < end || len(r.Hashes) != 7 {
			t.Fatalf("segment %d: first piece %d, %d pieces (next free %d)", i, r.FirstPiece, len(r.Hashes), end)
		}
		if err := r.Verify(d); err != nil {
			t.Fatal(err)
		}
		end = r.EndPiece()
	}
	// Later allocations follow on directly: dense numbers, falling behind the clock.
	later := now.Add(3 * time.Second)
	pk, _ := p.Package(seg(5, 10), later)
	if pk[0].Record.FirstPiece != end {
		t.Errorf("first piece %d, want %d (directly after the previous record)", pk[0].Record.FirstPiece, end)
	}
	// A restarted packager (no memory) a second after the burst still allocates above it,
	// at the clock.
	p2, _ := NewPackager(testKey(1), d, 0, 0)
	pk2, _ := p2.Package(seg(6, 10), later.Add(time.Second))
	if pk2[0].Record.FirstPiece != uint64(later.Add(time.Second).UnixMilli()) {
		t.Errorf("restart: first piece %d, want the time in ms", pk2[0].Record.FirstPiece)
	}
	if pk2[0].Record.FirstPiece < pk[0].Record.EndPiece() {
		t.Errorf("restart reused pieces: %d < %d", pk2[0].Record.FirstPiece, pk[0].Record.EndPiece())
	}
	// A clock stepping backwards does not make the allocator go back.
	pk3, _ := p2.Package(seg(7, 10), now)
	if pk3[0].Record.FirstPiece < pk2[0].Record.EndPiece() {
		t.Error("allocation went backwards with the clock")
	}
}

func TestPackageRecordFields(t *testing.T) {
	now := testStart.Add(123456789 * time.Nanosecond)
	d := testDescriptor(t, testStart)
	p, _ := NewPackager(testKey(1), d, 0, 10*time.Second)
	init := &InitSection{URI: "init.mp4", Offset: 5, Data: []byte("init bytes")}
	pdt := testStart.Add(-time.Minute + 1500*time.Microsecond)
	s := Segment{MediaSeq: 42, DiscontinuitySeq: 3, Discontinuity: true, End: true, Duration: 2002 * time.Millisecond,
		ProgramDateTime: pdt, URI: "seg 42.ts", OriginOffset: 77, Data: make([]byte, 40000), Init: init}
	pks, err := p.Package(s, now)
	if err != nil || len(pks) != 2 {
		t.Fatalf("%d records, %v", len(pks), err)
	}
	ir, mr := pks[0].Record, pks[1].Record
	if !ir.IsInit() || ir.Duration != 0 || ir.InitPiece != protocol.NoPiece || ir.MediaSeq != 42 || ir.URI != "init.mp4" ||
		ir.OriginOffset != 5 || ir.Length != 10 || !bytes.Equal(pks[0].Data, init.Data) {
		t.Errorf("init record %+v", ir)
	}
	want := protocol.FlagDiscontinuity | protocol.FlagEnd
	if mr.Flags != want || mr.MediaSeq != 42 || mr.DiscontinuitySeq != 3 || mr.Duration != 2002*time.Millisecond ||
		mr.InitPiece != ir.FirstPiece || mr.OriginOffset != 77 || mr.Length != 40000 || len(mr.Hashes) != 3 ||
		!mr.ProgramDateTime.Equal(pdt.Truncate(time.Millisecond)) || !mr.Published.Equal(now.Truncate(time.Millisecond)) {
		t.Errorf("media record %+v", mr)
	}
	if mr.URI != "" {
		t.Errorf("URI %q with a space kept; a record carries printable ASCII only", mr.URI)
	}
	for _, pk := range pks {
		if err := pk.Record.Verify(d); err != nil || !bytes.Equal(pk.Raw, pk.Record.Append(nil)) {
			t.Fatal(err)
		}
	}
	// The same init again: not re-published. A changed one, or an old one: re-published.
	s.Discontinuity, s.End = false, false
	if pks, _ := p.Package(s, now.Add(time.Second)); len(pks) != 1 || pks[0].Record.InitPiece != ir.FirstPiece {
		t.Error("unchanged init segment re-published")
	}
	s.Init = &InitSection{URI: "init.mp4", Offset: 5, Data: []byte("other bytes")}
	if pks, _ := p.Package(s, now.Add(2*time.Second)); len(pks) != 2 || pks[1].Record.InitPiece != pks[0].Record.FirstPiece {
		t.Error("changed init segment not re-published")
	}
	if pks, _ := p.Package(s, now.Add(13*time.Second)); len(pks) != 2 {
		t.Error("init segment not refreshed after InitRefresh")
	}
}

func TestPackageRejects(t *testing.T) {
	d := testDescriptor(t, testStart)
	p, _ := NewPackager(testKey(1), d, 0, 0)
	bad := []Segment{
		{MediaSeq: 1, Duration: 2 * time.Second},                                                      // empty
		{MediaSeq: 1, Data: []byte("x")},                                                              // no duration
		{MediaSeq: 1, Duration: 601 * time.Second, Data: []byte("x")},                                 // too long
		{MediaSeq: 1, Duration: time.Second, Data: make([]byte, 16384*protocol.MaxPiecesPerRecord+1)}, // too many pieces
		{MediaSeq: 1, Duration: time.Second, Data: []byte("x"), Init: &InitSection{URI: "i"}},         // empty init
	}
	for i, s := range bad {
		if _, err := p.Package(s, testStart); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := NewPackager(testKey(1), d, 7, 0); err == nil {
		t.Error("a rendition missing from the descriptor accepted")
	}
}
