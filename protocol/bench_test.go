package protocol_test

import (
	"crypto/sha256"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

func BenchmarkParseHave(b *testing.B) {
	p := protocol.Have{First: 4096, Count: 8}.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.ParseHave(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	p := protocol.Request{BlockRef: protocol.BlockRef{Piece: 4096, Offset: 16384, Length: 16384}}.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.ParseRequest(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseDataFrame decodes a whole DATA frame as the read loop does: frame, extended
// id, live header. The block is not copied.
func BenchmarkParseDataFrame(b *testing.B) {
	frame := protocol.AppendLive(nil, 1, protocol.Data{Piece: 4096, Offset: 16384, Block: make([]byte, protocol.BlockSize)})
	b.SetBytes(protocol.BlockSize)
	b.ReportAllocs()
	for b.Loop() {
		f, _, err := protocol.ParseFrame(frame)
		if err != nil {
			b.Fatal(err)
		}
		_, body, _ := protocol.SplitExtended(f.Payload)
		if _, err := protocol.ParseData(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendDataFrameHeader(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = protocol.AppendDataFrameHeader(buf[:0], 1, 4096, 16384, protocol.BlockSize)
	}
}

func BenchmarkVerifyPiece(b *testing.B) {
	d := prototest.Descriptor()
	data := prototest.SegmentData("bench", int(d.PieceSize))
	r := protocol.Record{FirstPiece: 7, Length: uint64(len(data)), Hashes: []protocol.Hash{sha256.Sum256(data)}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.VerifyPiece(7, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRecord(b *testing.B) {
	d, r, _ := sampleRecord(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Verify(&d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRecord(b *testing.B) {
	_, r, _ := sampleRecord(b)
	raw := r.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.ParseRecord(raw); err != nil {
			b.Fatal(err)
		}
	}
}
