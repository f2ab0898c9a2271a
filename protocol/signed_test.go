package protocol_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

func sampleRecord(t testing.TB) (protocol.Descriptor, protocol.Record, []byte) {
	d := prototest.Descriptor()
	data := prototest.SegmentData("segment 100", 100000)
	return d, prototest.Record(&d, 100, 1000, data), data
}

func TestDescriptorRoundTrip(t *testing.T) {
	d := prototest.Descriptor()
	d.Ext = protocol.AppendTLV(nil, protocol.TLV{Type: 200, Value: []byte("future")})
	if err := d.Sign(prototest.PublisherKey()); err != nil {
		t.Fatal(err)
	}
	prefix := []byte("xyz")
	b := d.Append(bytes.Clone(prefix))
	if !bytes.Equal(b[:3], prefix) || len(b)-3 != d.Len() {
		t.Fatalf("prefix or Len wrong: %d vs %d", len(b)-3, d.Len())
	}
	got, err := protocol.ParseDescriptor(b[3:])
	if err != nil {
		t.Fatal(err)
	}
	if err := got.VerifyFor(prototest.Stream()); err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(d.Created) {
		t.Fatalf("created %v != %v", got.Created, d.Created)
	}
	got.Created = d.Created
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, d)
	}
	if tl := protocol.TLVs(got.Ext); len(tl) != 1 || tl[0].Type != 200 || string(tl[0].Value) != "future" {
		t.Fatalf("TLVs: %+v", tl)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	d, r, data := sampleRecord(t)
	b := r.Append([]byte("xyz"))
	if len(b)-3 != r.Len() {
		t.Fatalf("Len %d, encoded %d", r.Len(), len(b)-3)
	}
	got, err := protocol.ParseRecord(b[3:])
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(&d); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
	for p := got.FirstPiece; p < got.EndPiece(); p++ {
		off := got.PieceOffset(p, d.PieceSize)
		piece := data[off : off+uint64(got.PieceLen(p, d.PieceSize))]
		if err := got.VerifyPiece(p, piece); err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(piece)
		bad[len(bad)/2] ^= 1
		if err := got.VerifyPiece(p, bad); !errors.Is(err, protocol.ErrBadHash) {
			t.Fatalf("corrupt piece %d: %v", p, err)
		}
	}
}

func TestSignedTruncation(t *testing.T) {
	d, r, _ := sampleRecord(t)
	for name, b := range map[string][]byte{"descriptor": d.Append(nil), "record": r.Append(nil)} {
		for i := range len(b) {
			var err error
			if name == "descriptor" {
				_, err = protocol.ParseDescriptor(b[:i])
			} else {
				_, err = protocol.ParseRecord(b[:i])
			}
			if err == nil {
				t.Fatalf("%s: prefix of %d bytes parsed", name, i)
			}
			if protocol.IsFieldRule(err) {
				t.Fatalf("%s: prefix of %d bytes is a field rule failure, not a decoding one: %v", name, i, err)
			}
		}
		if name == "descriptor" {
			_, err := protocol.ParseDescriptor(append(bytes.Clone(b), 0))
			if !errors.Is(err, protocol.ErrInvalid) {
				t.Fatalf("descriptor with a trailing byte: %v", err)
			}
		} else if _, err := protocol.ParseRecord(append(bytes.Clone(b), 0)); !errors.Is(err, protocol.ErrInvalid) || protocol.IsFieldRule(err) {
			t.Fatalf("record with a trailing byte: %v", err)
		}
	}
	// Decoded bytes that break a field rule are told apart from undecodable ones:
	// receivers ban for the first and close for the second (spec 7.6, 7.10).
	r.Duration = 0
	if _, err := protocol.ParseRecord(r.Append(nil)); !errors.Is(err, protocol.ErrInvalid) || !protocol.IsFieldRule(err) {
		t.Fatalf("media record without a duration: %v (rule %v)", err, protocol.IsFieldRule(err))
	}
}

// Every single-bit flip anywhere in a signed structure must make it fail to parse or fail
// verification: nothing outside the signature is unsigned, and the signature itself is
// checked.
func TestBitFlipsFailVerification(t *testing.T) {
	d, r, _ := sampleRecord(t)
	stream := prototest.Stream()
	db := d.Append(nil)
	for i := range 8 * len(db) {
		b := bytes.Clone(db)
		b[i/8] ^= 1 << (i % 8)
		if got, err := protocol.ParseDescriptor(b); err == nil {
			if err := got.VerifyFor(stream); err == nil {
				t.Fatalf("descriptor with bit %d flipped verifies", i)
			}
		}
	}
	rb := r.Append(nil)
	for i := range 8 * len(rb) {
		b := bytes.Clone(rb)
		b[i/8] ^= 1 << (i % 8)
		if got, err := protocol.ParseRecord(b); err == nil {
			if err := got.Verify(&d); err == nil {
				t.Fatalf("record with bit %d flipped verifies", i)
			}
		}
	}
}

func TestRecordVerifyErrorsSayWhich(t *testing.T) {
	d, good, _ := sampleRecord(t)
	other := prototest.Key("someone else")
	mutate := func(f func(r *protocol.Record)) protocol.Record {
		r := good
		r.Hashes = append([]protocol.Hash(nil), good.Hashes...)
		f(&r)
		return r
	}
	otherStream := d
	otherStream.Stream.Salt = []byte("channel-2")
	cases := []struct {
		name  string
		r     protocol.Record
		d     *protocol.Descriptor
		err   error
		field string
	}{
		{"wrong key", mutate(func(r *protocol.Record) { r.Sign(&d, other) }), &d, protocol.ErrBadSignature, "record.signature"},
		{"tampered seq", mutate(func(r *protocol.Record) { r.MediaSeq++ }), &d, protocol.ErrBadSignature, "record.signature"},
		{"other stream", good, &otherStream, protocol.ErrWrongStream, "record.info-hash"},
		{"extra piece", mutate(func(r *protocol.Record) { r.Hashes = append(r.Hashes, protocol.Hash{}) }), &d, protocol.ErrInvalid, "record.piece count"},
		{"missing piece", mutate(func(r *protocol.Record) { r.Hashes = r.Hashes[1:] }), &d, protocol.ErrInvalid, "record.piece count"},
		{"length too long", mutate(func(r *protocol.Record) { r.Length = 4*32768 + 1 }), &d, protocol.ErrInvalid, "record.piece count"},
		{"unknown rendition", mutate(func(r *protocol.Record) { r.Rendition = 9 }), &d, protocol.ErrInvalid, "record.rendition"},
		{"init with duration", mutate(func(r *protocol.Record) { r.Flags |= protocol.FlagInit }), &d, protocol.ErrInvalid, "record.flags"},
		{"no duration", mutate(func(r *protocol.Record) { r.Duration = 0 }), &d, protocol.ErrInvalid, "record.duration"},
		{"init after segment", mutate(func(r *protocol.Record) { r.InitPiece = r.FirstPiece }), &d, protocol.ErrInvalid, "record.init piece"},
		{"pieces past 2^63", mutate(func(r *protocol.Record) { r.FirstPiece = 1<<63 - 2 }), &d, protocol.ErrInvalid, "record.first piece"},
		{"unpublished", mutate(func(r *protocol.Record) { r.Published = time.Time{} }), &d, protocol.ErrInvalid, "record.published"},
		{"bad uri", mutate(func(r *protocol.Record) { r.URI = "a b" }), &d, protocol.ErrInvalid, "record.uri"},
		{"bad ext", mutate(func(r *protocol.Record) { r.Ext = []byte{1, 0} }), &d, protocol.ErrTruncated, "record.ext"},
	}
	for _, c := range cases {
		err := c.r.Verify(c.d)
		var fe *protocol.FieldError
		if !errors.Is(err, c.err) || !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, c.field) {
			t.Errorf("%s: %v, want %v in %s", c.name, err, c.err, c.field)
		}
	}
	// A record re-signed by the wrong key but otherwise intact still fails: the verifier
	// uses the descriptor's key, never a key carried by the record.
	forged := good
	if err := forged.Sign(&d, other); err != nil {
		t.Fatal(err)
	}
	if err := forged.Verify(&d); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("forged: %v", err)
	}
}

func TestDescriptorVerifyErrorsSayWhich(t *testing.T) {
	good := prototest.Descriptor()
	other := prototest.Key("someone else")
	mutate := func(f func(d *protocol.Descriptor)) protocol.Descriptor {
		d := good
		d.Renditions = append([]protocol.Rendition(nil), good.Renditions...)
		f(&d)
		return d
	}
	otherSalt := prototest.Stream()
	otherSalt.Salt = []byte("x")
	cases := []struct {
		name  string
		d     protocol.Descriptor
		s     protocol.Stream
		err   error
		field string
	}{
		{"signed by another key", mutate(func(d *protocol.Descriptor) { d.Sign(other) }), prototest.Stream(), protocol.ErrWrongKey, "descriptor.public key"},
		{"salt differs", good, otherSalt, protocol.ErrWrongStream, "descriptor.salt"},
		{"tampered name", mutate(func(d *protocol.Descriptor) { d.Name = "Evil" }), prototest.Stream(), protocol.ErrBadSignature, "descriptor.signature"},
		{"piece size", mutate(func(d *protocol.Descriptor) { d.PieceSize = 30000 }), prototest.Stream(), protocol.ErrInvalid, "descriptor.piece size"},
		{"seq zero", mutate(func(d *protocol.Descriptor) { d.Seq = 0 }), prototest.Stream(), protocol.ErrInvalid, "descriptor.seq"},
		{"no renditions", mutate(func(d *protocol.Descriptor) { d.Renditions = nil }), prototest.Stream(), protocol.ErrInvalid, "descriptor.renditions"},
		{"duplicate rendition", mutate(func(d *protocol.Descriptor) { d.Renditions[1].ID = 0 }), prototest.Stream(), protocol.ErrInvalid, "descriptor.renditions"},
		{"origin scheme", mutate(func(d *protocol.Descriptor) { d.Origin = "ftp://x/y" }), prototest.Stream(), protocol.ErrInvalid, "descriptor.origin"},
		{"window", mutate(func(d *protocol.Descriptor) { d.WindowDuration = time.Millisecond }), prototest.Stream(), protocol.ErrInvalid, "descriptor.window duration"},
	}
	for _, c := range cases {
		err := c.d.VerifyFor(c.s)
		var fe *protocol.FieldError
		if !errors.Is(err, c.err) || !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, c.field) {
			t.Errorf("%s: %v, want %v in %s", c.name, err, c.err, c.field)
		}
	}
	bad := mutate(func(d *protocol.Descriptor) { d.PieceSize = 3 })
	if err := bad.Sign(prototest.PublisherKey()); !errors.Is(err, protocol.ErrInvalid) {
		t.Errorf("signing an invalid descriptor: %v", err)
	}
}

func TestHugeRecordBounded(t *testing.T) {
	d := prototest.Descriptor()
	data := prototest.SegmentData("big", protocol.MaxPiecesPerRecord*int(d.PieceSize))
	r := prototest.Record(&d, 1, 0, data)
	b := r.Append(nil)
	if len(b) > protocol.MaxRecordLen || len(b)+3 > protocol.MaxFrameLen-4 {
		t.Fatalf("largest record %d bytes does not fit a frame", len(b))
	}
	if _, err := protocol.ParseRecord(b); err != nil {
		t.Fatal(err)
	}
	r.Hashes = append(r.Hashes, protocol.Hash{})
	if err := r.Sign(&d, prototest.PublisherKey()); !errors.Is(err, protocol.ErrInvalid) {
		t.Fatalf("record with %d pieces: %v", len(r.Hashes), err)
	}
}
