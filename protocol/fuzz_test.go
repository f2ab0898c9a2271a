package protocol_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// Every live message has exactly one encoding, so a successful parse must re-encode to the
// very bytes it came from.
func fuzzLive[M protocol.Message](f *testing.F, parse func([]byte) (M, error), seeds ...M) {
	for _, s := range seeds {
		f.Add(s.Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parse(b)
		if err != nil {
			return
		}
		if out := m.Append(nil); !bytes.Equal(out, b) || m.Len() != len(b) {
			t.Fatalf("re-encoding %x gives %x (Len %d)", b, out, m.Len())
		}
		if _, err := protocol.ParseMessage(b); err != nil {
			t.Fatalf("ParseMessage disagrees: %v", err)
		}
	})
}

func FuzzWindow(f *testing.F) {
	fuzzLive(f, protocol.ParseWindow, protocol.Window{First: 1, End: 9})
}

func FuzzHave(f *testing.F) {
	fuzzLive(f, protocol.ParseHave, protocol.Have{First: 4096, Count: 8})
}

func FuzzRequest(f *testing.F) {
	fuzzLive(f, protocol.ParseRequest, protocol.Request{BlockRef: protocol.BlockRef{Piece: 3, Offset: 16384, Length: 100}})
}

func FuzzCancel(f *testing.F) {
	fuzzLive(f, protocol.ParseCancel, protocol.Cancel{BlockRef: protocol.BlockRef{Piece: 3, Length: 16384}})
}

func FuzzReject(f *testing.F) {
	fuzzLive(f, protocol.ParseReject, protocol.Reject{BlockRef: protocol.BlockRef{Piece: 3, Length: 1}, Reason: protocol.RejectQueueFull})
}

func FuzzData(f *testing.F) {
	fuzzLive(f, protocol.ParseData, protocol.Data{Piece: 3, Offset: 16384, Block: []byte("block")})
}

func FuzzDescriptorMsg(f *testing.F) {
	d := prototest.Descriptor()
	fuzzLive(f, protocol.ParseDescriptorMsg, protocol.DescriptorMsg{Raw: d.Append(nil)})
}

func FuzzRecordMsg(f *testing.F) {
	d, r, _ := sampleRecord(f)
	_ = d
	fuzzLive(f, protocol.ParseRecordMsg, protocol.RecordMsg{Raw: r.Append(nil)})
}

func FuzzDescriptor(f *testing.F) {
	d := prototest.Descriptor()
	f.Add(d.Append(nil))
	d.Stream.Salt = nil
	d.Origin = ""
	d.Ext = protocol.AppendTLV(nil, protocol.TLV{Type: 1, Value: []byte{2}})
	d.Sign(prototest.PublisherKey())
	f.Add(d.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := protocol.ParseDescriptor(b)
		if err != nil {
			return
		}
		if out := d.Append(nil); !bytes.Equal(out, b) || d.Len() != len(b) {
			t.Fatalf("re-encoding %x gives %x", b, out)
		}
		_ = d.Verify() // must not panic whatever the signature
	})
}

func FuzzRecord(f *testing.F) {
	d, r, _ := sampleRecord(f)
	f.Add(r.Append(nil))
	r.Flags = protocol.FlagInit | protocol.FlagDiscontinuity
	r.Duration = 0
	r.URI = ""
	r.Sign(&d, prototest.PublisherKey())
	f.Add(r.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := protocol.ParseRecord(b)
		if err != nil {
			return
		}
		if out := r.Append(nil); !bytes.Equal(out, b) || r.Len() != len(b) {
			t.Fatalf("re-encoding %x gives %x", b, out)
		}
		_ = r.Verify(&d)
		for p := r.FirstPiece; p < r.EndPiece() && p < r.FirstPiece+4; p++ {
			_ = r.BlockLen(p, 0, d.PieceSize)
			_ = r.VerifyPiece(p, b)
		}
	})
}

func FuzzHandshake(f *testing.F) {
	f.Add(protocol.NewHandshake(prototest.Stream().InfoHash(), [20]byte{1}, true).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := protocol.ParseHandshake(b)
		if err != nil {
			return
		}
		if out := h.Append(nil); !bytes.Equal(out, b) {
			t.Fatalf("re-encoding %x gives %x", b, out)
		}
	})
}

func FuzzExtHandshake(f *testing.F) {
	f.Add(sampleExtHandshake().Append(nil))
	f.Add([]byte("d1:md7:lt_livei1e6:ut_pexi0ee4:lt_vi9ee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := protocol.ParseExtHandshake(b)
		if err != nil {
			return
		}
		// Unknown keys are dropped, so compare values, not bytes.
		h2, err := protocol.ParseExtHandshake(h.Append(nil))
		if err != nil || !reflect.DeepEqual(h, h2) {
			t.Fatalf("round trip of %q: %+v != %+v (%v)", b, h2, h, err)
		}
	})
}

func FuzzLink(f *testing.F) {
	f.Add(sampleLink().String())
	f.Add("magnet:?xs=urn:btpk:" + prototest.Stream().Key.String())
	f.Fuzz(func(t *testing.T, s string) {
		l, err := protocol.ParseLink(s)
		if err != nil {
			return
		}
		l2, err := protocol.ParseLink(l.String())
		if err != nil || !reflect.DeepEqual(l, l2) {
			t.Fatalf("round trip of %q: %+v != %+v (%v)", s, l2, l, err)
		}
	})
}

func FuzzFrame(f *testing.F) {
	f.Add(protocol.AppendLive(nil, 1, protocol.Have{First: 1, Count: 1}))
	f.Add(protocol.AppendKeepAlive(protocol.AppendSimple(nil, 1)))
	f.Add(protocol.AppendPort(nil, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			fr, n, err := protocol.ParseFrame(b)
			if err != nil {
				return
			}
			if n < 4 || n > len(b) || (!fr.KeepAlive && n != 5+len(fr.Payload)) {
				t.Fatalf("consumed %d of %d for %+v", n, len(b), fr)
			}
			if fr.Type == 20 {
				if _, body, err := protocol.SplitExtended(fr.Payload); err == nil {
					protocol.ParseMessage(body)
					protocol.ParseExtHandshake(body)
				}
			}
			b = b[n:]
		}
	})
}

func FuzzKeyFile(f *testing.F) {
	pemBytes, _ := protocol.MarshalKeyFile(prototest.PublisherKey())
	f.Add(pemBytes)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := protocol.ParseKeyFile(b)
		if err != nil {
			return
		}
		out, err := protocol.MarshalKeyFile(k)
		if err != nil {
			t.Fatal(err)
		}
		if k2, err := protocol.ParseKeyFile(out); err != nil || !k2.Equal(k) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzDHTItem(f *testing.F) {
	f.Add(sampleItem().Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := protocol.ParseDHTItem(b)
		if err != nil {
			return
		}
		back, err := protocol.ParseDHTItem(it.Append(nil))
		if err != nil || back != it {
			t.Fatalf("round trip: %+v != %+v (%v)", back, it, err)
		}
	})
}
