package seeder

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// TestPieceFileKeepsNumberingAcrossRestarts: with a piece file, a packager started after
// another one ran for hours resumes just past its numbers, never below them and far
// less than the 2^20 pieces receivers accept as a jump; without one it would number from
// the clock, millions of pieces ahead.
func TestPieceFileKeepsNumberingAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seeder.key.pieces")
	if v, err := LoadPieceFile(path); err != nil || v != 0 {
		t.Fatalf("missing file: %d, %v; want 0", v, err)
	}
	now := testStart
	d := testDescriptor(t, now)
	seg := func(seq uint64) Segment {
		return Segment{MediaSeq: seq, Duration: 2 * time.Second, URI: "s.ts", Data: make([]byte, 100000)}
	}
	start := func() *Packager {
		p, err := NewPackager(testKey(1), d, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		resume, err := LoadPieceFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p.SetReservation(resume, func(v uint64) error { return SavePieceFile(path, v) })
		return p
	}
	// Three hours of 2 s segments of 7 pieces: 37,800 pieces, one save.
	p := start()
	var last protocol.Record
	for i := range uint64(5400) {
		pk, err := p.Package(seg(i), now.Add(time.Duration(i)*2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		last = pk[0].Record
	}
	saved, err := LoadPieceFile(path)
	if err != nil || saved < last.EndPiece() {
		t.Fatalf("saved bound %d (%v) below the numbers in use (%d)", saved, err, last.EndPiece())
	}
	// Restart three hours in.
	p2 := start()
	pk, err := p2.Package(seg(5400), now.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	first := pk[0].Record.FirstPiece
	if first < last.EndPiece() || first-last.EndPiece() > pieceReserveAhead {
		t.Fatalf("restart resumed at %d after the previous run ended at %d", first, last.EndPiece())
	}
	if first-last.EndPiece() >= protocol.MaxWindowPieces {
		t.Fatalf("restart jumped %d pieces", first-last.EndPiece())
	}
	// Running past the reservation saves a new bound before using the numbers.
	for i := uint64(5401); p2.next < saved+10; i++ {
		if _, err := p2.Package(seg(i), now.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := LoadPieceFile(path); v < p2.next {
		t.Fatalf("bound %d saved below the numbers in use (%d)", v, p2.next)
	}
	// A save that fails fails the allocation rather than risk reusing numbers later.
	p3, _ := NewPackager(testKey(1), d, 0, 0)
	p3.SetReservation(1, func(uint64) error { return errors.New("disk full") })
	if _, err := p3.Package(seg(1), now); err == nil {
		t.Fatal("allocation succeeded although its reservation could not be saved")
	}
}

func TestPieceFileRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p")
	if err := os.WriteFile(path, []byte("twelve\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPieceFile(path); err == nil {
		t.Fatal("garbage accepted as a piece number")
	}
	if err := SavePieceFile(path, 12345); err != nil {
		t.Fatal(err)
	}
	if v, err := LoadPieceFile(path); err != nil || v != 12345 {
		t.Fatalf("round trip: %d, %v", v, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if a, b := DefaultPieceFile("k", nil), DefaultPieceFile("k", []byte("x")); a == b || a != "k.pieces" {
		t.Fatalf("default piece files %q and %q", a, b)
	}
}
