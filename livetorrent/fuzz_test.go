package livetorrent

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// FuzzViewerPeers drives a viewer core with an arbitrary script of events from two peers:
// messages (parsed from the fuzz input), control messages, write reports, disconnects and
// clock steps. Whatever the peers say, the core must not panic, and every byte it delivers
// to the player must match the record's hashes: nothing unverified is ever played.
//
// Script layout, repeated: op (1 byte), length (2 bytes, big endian), body.
// op%8: 0-2 message from peer 1+op%2 (body parsed as a live message), 3 control (body[0]),
// 4 Written, 5 clock step of body[0] × 50 ms then Tick, 6 peer down then up again,
// 7 origin answer for the first piece asked.
func FuzzViewerPeers(f *testing.F) {
	h := newHarness(f, Config{Role: RoleViewer})
	seg := h.segment(0, 100, 40000)
	seg2 := h.segment(1, 102, 20000)
	op := func(code byte, body []byte) []byte {
		b := []byte{code, 0, 0}
		binary.BigEndian.PutUint16(b[1:], uint16(len(body)))
		return append(b, body...)
	}
	msg := func(peer int, m protocol.Message) []byte { return op(byte(peer-1), m.Append(nil)) }
	happy := slices.Concat(
		msg(1, protocol.DescriptorMsg{Raw: h.descRaw}),
		msg(1, protocol.RecordMsg{Raw: seg.raw}),
		msg(1, protocol.RecordMsg{Raw: seg2.raw}),
		msg(1, protocol.Window{First: 100, End: 104}),
		msg(1, protocol.Have{First: 100, Count: 4}),
		op(3, []byte{byte(Unchoke)}),
		op(5, []byte{20}),
		msg(1, seg.block(100, 0)), msg(1, seg.block(100, 16384)), msg(1, seg.block(101, 0)),
		op(5, []byte{20}),
		msg(2, protocol.Request{BlockRef: protocol.BlockRef{Piece: 100, Length: 16384}}),
		op(4, []byte{0x40}),
		op(5, []byte{200}),
	)
	f.Add(happy)
	corrupt := bytes.Clone(happy)
	corrupt[len(corrupt)-40] ^= 1
	f.Add(corrupt)
	f.Add(slices.Concat(msg(1, protocol.DescriptorMsg{Raw: h.descRaw}), op(6, nil), msg(2, protocol.RecordMsg{Raw: seg.raw}), op(7, nil)))

	f.Fuzz(func(t *testing.T, script []byte) {
		h := newHarness(t, Config{Role: RoleViewer, OriginJitter: -1})
		h.up(1)
		h.up(2)
		check := func(actions []Action) {
			for _, a := range actions {
				if a.Kind != ActDeliver {
					continue
				}
				d := a.Delivery
				if err := verifyDelivery(d.Record, d.Data); err != nil {
					t.Fatalf("delivered media seq %d: %v", d.MediaSeq, err)
				}
				if d.Init != nil {
					if err := verifyDelivery(d.Init, d.InitData); err != nil {
						t.Fatalf("delivered init segment: %v", err)
					}
				}
			}
		}
		var fetch *OriginFetch
		for len(script) >= 3 {
			code, n := script[0], int(binary.BigEndian.Uint16(script[1:3]))
			script = script[3:]
			body := script[:min(n, len(script))]
			script = script[len(body):]
			var acts []Action
			switch code % 8 {
			case 0, 1, 2:
				m, err := protocol.ParseMessage(body)
				if err != nil {
					continue
				}
				acts = h.recv(PeerHandle(1+code%2), m)
			case 3:
				if len(body) > 0 {
					acts = h.ctl(1, Control(body[0]%4))
				}
			case 4:
				if len(body) > 0 {
					acts = h.do(Written{Peer: 2, Bytes: int(body[0]) << 8})
				}
			case 5:
				if len(body) > 0 {
					acts = h.advance(time.Duration(body[0]) * 50 * time.Millisecond)
				}
			case 6:
				h.do(PeerDown{Peer: 2, Err: fmt.Errorf("gone")})
				acts = h.up(2)
			case 7:
				if fetch != nil {
					acts = h.do(OriginData{Piece: fetch.Piece, Data: body})
					fetch = nil
				}
			}
			check(acts)
			for _, a := range acts {
				if a.Kind == ActFetchOrigin && fetch == nil {
					f := *a.Fetch
					fetch = &f
				}
			}
		}
	})
}

// verifyDelivery checks delivered bytes against their record.
func verifyDelivery(r *protocol.Record, data []byte) error {
	if r == nil {
		return fmt.Errorf("no record")
	}
	if uint64(len(data)) != r.Length {
		return fmt.Errorf("%d bytes, record says %d", len(data), r.Length)
	}
	if !slices.Equal(protocol.HashPieces(data, prototest.Descriptor().PieceSize), r.Hashes) {
		return fmt.Errorf("bytes do not match the record's hashes")
	}
	return nil
}
