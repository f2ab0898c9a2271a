package protocol_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenMessages are written out by hand from the layouts in spec/livetorrent-v1.md.
var goldenMessages = []struct {
	name string
	msg  protocol.Message
	hex  string
	// header is the fixed part of a variable-length message: shorter prefixes must fail;
	// longer ones are valid shorter messages, since the frame delimits the body.
	header int
}{
	{"window", protocol.Window{First: 4096, End: 4160}, "03 0000000000001000 0000000000001040", 0},
	{"window empty", protocol.Window{First: 7, End: 7}, "03 0000000000000007 0000000000000007", 0},
	{"have", protocol.Have{First: 4096, Count: 8}, "04 0000000000001000 00000008", 0},
	{"have max", protocol.Have{First: 1<<63 - 65536, Count: 65536}, "04 7fffffffffff0000 00010000", 0},
	{"request", protocol.Request{BlockRef: protocol.BlockRef{Piece: 4097, Offset: 16384, Length: 16384}},
		"05 0000000000001001 00004000 00004000", 0},
	{"cancel", protocol.Cancel{BlockRef: protocol.BlockRef{Piece: 4097, Offset: 16384, Length: 1696}},
		"06 0000000000001001 00004000 000006a0", 0},
	{"reject", protocol.Reject{BlockRef: protocol.BlockRef{Piece: 5, Offset: 0, Length: 16384}, Reason: protocol.RejectChoked},
		"07 0000000000000005 00000000 00004000 02", 0},
	{"data", protocol.Data{Piece: 4097, Offset: 16384, Block: []byte("abc")}, "08 0000000000001001 00004000 616263", 14},
	{"descriptor envelope", protocol.DescriptorMsg{Raw: []byte("LTD1")}, "01 4c544431", 2},
	{"record envelope", protocol.RecordMsg{Raw: []byte("LTR1")}, "02 4c545231", 2},
}

func TestGoldenMessages(t *testing.T) {
	prefix := []byte("prefix")
	for _, g := range goldenMessages {
		t.Run(g.name, func(t *testing.T) {
			want := unhex(t, g.hex)
			out := g.msg.Append(bytes.Clone(prefix))
			if !bytes.Equal(out[:len(prefix)], prefix) {
				t.Fatalf("prefix clobbered: %x", out)
			}
			p := out[len(prefix):]
			if !bytes.Equal(p, want) {
				t.Fatalf("encoding\n got %x\nwant %x", p, want)
			}
			if g.msg.Len() != len(want) {
				t.Fatalf("Len() = %d, encoding is %d bytes", g.msg.Len(), len(want))
			}
			got, err := protocol.ParseMessage(p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, g.msg) {
				t.Fatalf("parsed %#v, want %#v", got, g.msg)
			}
			n := len(p)
			if g.header > 0 {
				n = g.header
			}
			for i := range n {
				if _, err := protocol.ParseMessage(p[:i]); err == nil {
					t.Fatalf("prefix of %d bytes parsed without error", i)
				}
			}
		})
	}
}

func TestGoldenFrame(t *testing.T) {
	// The example in the spec: HAVE first=4096 count=8 to a peer whose lt_live id is 1.
	out := protocol.AppendLive([]byte{0xff}, 1, protocol.Have{First: 4096, Count: 8})
	want := unhex(t, "ff 0000000f 14 01 04 0000000000001000 00000008")
	if !bytes.Equal(out, want) {
		t.Fatalf("got %x\nwant %x", out, want)
	}
	f, n, err := protocol.ParseFrame(out[1:])
	if err != nil || n != len(out)-1 || f.Type != 20 {
		t.Fatalf("ParseFrame: %+v %d %v", f, n, err)
	}
	id, body, err := protocol.SplitExtended(f.Payload)
	if err != nil || id != 1 {
		t.Fatalf("SplitExtended: %d %v", id, err)
	}
	if h, err := protocol.ParseHave(body); err != nil || h != (protocol.Have{First: 4096, Count: 8}) {
		t.Fatalf("ParseHave: %+v %v", h, err)
	}
	for i := range len(out) - 1 {
		if _, _, err := protocol.ParseFrame(out[1 : 1+i]); !errors.Is(err, protocol.ErrTruncated) {
			t.Fatalf("frame prefix %d: %v, want truncated", i, err)
		}
	}
}

func TestDataFrameHeader(t *testing.T) {
	block := bytes.Repeat([]byte{7}, 100)
	whole := protocol.AppendLive(nil, 3, protocol.Data{Piece: 9, Offset: 16384, Block: block})
	hdr := protocol.AppendDataFrameHeader(nil, 3, 9, 16384, len(block))
	if !bytes.Equal(append(hdr, block...), whole) {
		t.Fatalf("header+block %x\n!= frame %x", append(hdr, block...), whole)
	}
}

func TestSimpleFrames(t *testing.T) {
	cases := []struct {
		got  []byte
		want string
	}{
		{protocol.AppendKeepAlive([]byte{1}), "01 00000000"},
		{protocol.AppendSimple([]byte{1}, 0), "01 00000001 00"},
		{protocol.AppendSimple([]byte{1}, 1), "01 00000001 01"},
		{protocol.AppendSimple([]byte{1}, 2), "01 00000001 02"},
		{protocol.AppendSimple([]byte{1}, 3), "01 00000001 03"},
		{protocol.AppendPort([]byte{1}, 6881), "01 00000003 09 1ae1"},
	}
	for _, c := range cases {
		if want := unhex(t, c.want); !bytes.Equal(c.got, want) {
			t.Errorf("got %x want %x", c.got, want)
		}
		f, n, err := protocol.ParseFrame(c.got[1:])
		if err != nil || n != len(c.got)-1 {
			t.Errorf("ParseFrame(%x): %+v %d %v", c.got[1:], f, n, err)
		}
	}
}

func TestBadFrames(t *testing.T) {
	cases := []struct {
		hex  string
		want error
	}{
		{"00040001", protocol.ErrTooLarge},        // 262145 > MaxFrameLen
		{"ffffffff", protocol.ErrTooLarge},        // a declared 4 GiB message
		{"00000002 00 00", protocol.ErrInvalid},   // choke with a payload
		{"00000002 09 00", protocol.ErrInvalid},   // port with 1 byte
		{"00000001 14", protocol.ErrTruncated},    // extended without an id
		{"00000005 02 00", protocol.ErrTruncated}, // body shorter than declared
	}
	for _, c := range cases {
		_, _, err := protocol.ParseFrame(unhex(t, c.hex))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.hex, err, c.want)
		}
	}
	for ty, want := range map[byte]protocol.FrameAction{0: protocol.FrameUse, 4: protocol.FrameClose,
		5: protocol.FrameClose, 7: protocol.FrameClose, 14: protocol.FrameClose, 20: protocol.FrameUse, 99: protocol.FrameIgnore} {
		if got := protocol.Classify(protoType(ty)); got != want {
			t.Errorf("Classify(%d) = %v, want %v", ty, got, want)
		}
	}
}

func TestBadMessages(t *testing.T) {
	cases := []struct {
		name, hex string
		want      error
	}{
		{"empty", "", protocol.ErrTruncated},
		{"unknown type", "09 00", protocol.ErrUnknownType},
		{"window reversed", "03 0000000000000002 0000000000000001", protocol.ErrInvalid},
		{"window too wide", "03 0000000000000000 0000000000100001", protocol.ErrTooLarge},
		{"window beyond 2^63", "03 7fffffffffffffff 8000000000000001", protocol.ErrInvalid},
		{"window trailing", "03 0000000000000000 0000000000000001 00", protocol.ErrInvalid},
		{"have zero", "04 0000000000000000 00000000", protocol.ErrInvalid},
		{"have too many", "04 0000000000000000 00010001", protocol.ErrInvalid},
		{"have past 2^63", "04 7fffffffffffffff 00000002", protocol.ErrInvalid},
		{"request odd offset", "05 0000000000000001 00000001 00000001", protocol.ErrInvalid},
		{"request zero length", "05 0000000000000001 00000000 00000000", protocol.ErrInvalid},
		{"request long", "05 0000000000000001 00000000 00004001", protocol.ErrInvalid},
		{"request piece 2^63", "05 8000000000000000 00000000 00000001", protocol.ErrInvalid},
		{"cancel trailing", "06 0000000000000001 00000000 00000001 00", protocol.ErrInvalid},
		{"reject short", "07 0000000000000001 00000000 00000001", protocol.ErrTruncated},
		{"data empty", "08 0000000000000001 00000000", protocol.ErrInvalid},
		{"data odd offset", "08 0000000000000001 00000010 00", protocol.ErrInvalid},
		{"data piece 2^63", "08 8000000000000000 00000000 00", protocol.ErrInvalid},
		{"descriptor empty", "01", protocol.ErrTruncated},
		{"record empty", "02", protocol.ErrTruncated},
	}
	for _, c := range cases {
		if _, err := protocol.ParseMessage(unhex(t, c.hex)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	long := append(unhex(t, "08 0000000000000001 00000000"), make([]byte, protocol.BlockSize+1)...)
	if _, err := protocol.ParseMessage(long); !errors.Is(err, protocol.ErrInvalid) {
		t.Errorf("data block of %d bytes: %v", protocol.BlockSize+1, err)
	}
	huge := append([]byte{2}, make([]byte, protocol.MaxRecordLen+1)...)
	if _, err := protocol.ParseMessage(huge); !errors.Is(err, protocol.ErrTooLarge) {
		t.Errorf("oversized record: %v", err)
	}
	// Each parser refuses another message's type byte.
	if _, err := protocol.ParseHave(unhex(t, "05 0000000000000001 00000000 00000001")); !errors.Is(err, protocol.ErrUnknownType) {
		t.Errorf("ParseHave on a REQUEST: %v", err)
	}
}

func TestBlockGeometry(t *testing.T) {
	// Spec example: a 100000-byte segment, piece size 32768, first piece 1000.
	r := protocol.Record{FirstPiece: 1000, Length: 100000, Hashes: make([]protocol.Hash, 4)}
	const ps = 32768
	for _, c := range []struct {
		piece uint64
		off   uint32
		want  uint32
	}{{1000, 0, 16384}, {1000, 16384, 16384}, {1000, 32768, 0}, {1003, 0, 1696}, {1003, 16384, 0}, {1004, 0, 0}, {999, 0, 0}, {1001, 100, 0}} {
		if got := r.BlockLen(c.piece, c.off, ps); got != c.want {
			t.Errorf("BlockLen(%d, %d) = %d, want %d", c.piece, c.off, got, c.want)
		}
	}
	if got := r.PieceLen(1003, ps); got != 1696 {
		t.Errorf("last piece length %d", got)
	}
}
