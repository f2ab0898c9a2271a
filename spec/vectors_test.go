// Package spec_test keeps spec/vectors/ in step with the protocol package: it regenerates the
// vectors (go test ./spec -update) and checks every file by decoding it the way an
// independent implementation would.
package spec_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

var update = flag.Bool("update", false, "rewrite spec/vectors/*.json")

func generators() map[string]func() vectorFile {
	return map[string]func() vectorFile{
		"identity.json":   identityVectors,
		"link.json":       linkVectors,
		"messages.json":   messageVectors,
		"descriptor.json": descriptorVectors,
		"record.json":     recordVectors,
		"tampered.json":   tamperedVectors,
		"dhtitem.json":    dhtItemVectors,
		"keyfile.json":    keyFileVectors,
	}
}

func TestVectorsUpToDate(t *testing.T) {
	for name, gen := range generators() {
		want, err := json.MarshalIndent(gen(), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		path := filepath.Join("vectors", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./spec -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: regenerate with go test ./spec -update and review the diff", path)
		}
	}
}

func load[T any](t *testing.T, name string) []T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []T }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatalf("%s has no cases", name)
	}
	return f.Cases
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIdentityVectors(t *testing.T) {
	for _, c := range load[identityCase](t, "identity.json") {
		priv, err := protocol.ParseKeyFile([]byte(c.PrivateKeyPEM))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if hex.EncodeToString(priv.Seed()) != c.Seed || !priv.Equal(prototest.Key(c.SeedLabel)) {
			t.Errorf("%s: seed differs", c.Name)
		}
		s := protocol.StreamOf(priv, unhex(t, c.Salt))
		if s.Key.String() != c.PublicKey || s.InfoHash().String() != c.InfoHash {
			t.Errorf("%s: key %s info-hash %s", c.Name, s.Key, s.InfoHash())
		}
	}
}

func TestKeyFileVectors(t *testing.T) {
	for _, c := range load[keyFileCase](t, "keyfile.json") {
		priv, err := protocol.ParseKeyFile([]byte(c.KeyFile))
		if !c.Valid {
			if got := category(err); err == nil || got != c.Error {
				t.Errorf("%s: error %q, want %q", c.Name, got, c.Error)
			}
			continue
		}
		if err != nil || hex.EncodeToString(priv.Seed()) != c.Seed {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
}

func TestLinkVectors(t *testing.T) {
	for _, c := range load[linkCase](t, "link.json") {
		l, err := protocol.ParseLink(c.Link)
		if !c.Valid {
			if got := category(err); got != c.Error {
				t.Errorf("%s: error %q, want %q", c.Name, got, c.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		got := linkCase{Name: c.Name, Link: c.Link, Valid: true, PublicKey: l.Stream.Key.String(),
			Salt: hex.EncodeToString(l.Stream.Salt), InfoHash: l.Stream.InfoHash().String(), DN: l.Name,
			Trackers: l.Trackers, Peers: l.Peers, Origin: l.Origin, Canonical: l.String()}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.Name, got, c)
		}
		if again, err := protocol.ParseLink(c.Canonical); err != nil || again.String() != c.Canonical {
			t.Errorf("%s: canonical form does not round-trip: %v", c.Name, err)
		}
	}
}

func TestMessageVectors(t *testing.T) {
	for _, c := range load[messageCase](t, "messages.json") {
		frame := unhex(t, c.Frame)
		switch c.Kind {
		case "handshake":
			h, err := protocol.ParseHandshake(frame)
			if err != nil || h.InfoHash.String() != c.Fields["info_hash"] || !h.SupportsLive() ||
				hex.EncodeToString(h.PeerID[:]) != c.Fields["peer_id"] || hex.EncodeToString(h.Reserved[:]) != c.Fields["reserved"] {
				t.Errorf("%s: %+v %v", c.Name, h, err)
			}
			continue
		case "bep3":
			if _, n, err := protocol.ParseFrame(frame); err != nil || n != len(frame) {
				t.Errorf("%s: %v", c.Name, err)
			}
			continue
		}
		f, n, err := protocol.ParseFrame(frame)
		if err != nil || n != len(frame) || f.Type != 20 {
			t.Errorf("%s: frame %v", c.Name, err)
			continue
		}
		id, body, _ := protocol.SplitExtended(f.Payload)
		if !bytes.Equal(body, unhex(t, c.Payload)) {
			t.Errorf("%s: frame payload %x != payload %s", c.Name, body, c.Payload)
		}
		switch c.Kind {
		case "ext_handshake":
			h, err := protocol.ParseExtHandshake(body)
			if err != nil || id != protocol.ExtHandshakeID {
				t.Errorf("%s: id %d: %v", c.Name, id, err)
				continue
			}
			if got := normalise(t, extFields(h)); !reflect.DeepEqual(got, c.Fields) {
				t.Errorf("%s: fields %v, want %v", c.Name, got, c.Fields)
			}
			want := body
			if c.Canonical != "" {
				want = unhex(t, c.Canonical)
				if again, err := protocol.ParseExtHandshake(want); err != nil ||
					!reflect.DeepEqual(normalise(t, extFields(again)), c.Fields) {
					t.Errorf("%s: canonical form decodes to other fields: %v", c.Name, err)
				}
			}
			if !bytes.Equal(h.Append(nil), want) {
				t.Errorf("%s: re-encoding differs", c.Name)
			}
		case "ext_handshake_invalid":
			_, err := protocol.ParseExtHandshake(body)
			if got := category(err); id != protocol.ExtHandshakeID || err == nil || got != c.Error {
				t.Errorf("%s: id %d, error %q, want %q", c.Name, id, got, c.Error)
			}
		case "live":
			m, err := protocol.ParseMessage(body)
			if err != nil || id != liveExtID {
				t.Errorf("%s: %v", c.Name, err)
				continue
			}
			if got := normalise(t, liveFields(m)); !reflect.DeepEqual(got, c.Fields) {
				t.Errorf("%s: fields %v, want %v", c.Name, got, c.Fields)
			}
			if !bytes.Equal(protocol.AppendLive(nil, liveExtID, m), frame) {
				t.Errorf("%s: re-encoding differs", c.Name)
			}
		case "live_invalid":
			_, err := protocol.ParseMessage(body)
			if got := category(err); id != liveExtID || err == nil || got != c.Error {
				t.Errorf("%s: error %q, want %q", c.Name, got, c.Error)
			}
		default:
			t.Errorf("%s: unknown kind %q", c.Name, c.Kind)
		}
	}
}

// normalise passes fields through JSON so they compare with decoded vectors.
func normalise(t *testing.T, v map[string]any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDescriptorVectors(t *testing.T) {
	for _, c := range load[descriptorCase](t, "descriptor.json") {
		enc := unhex(t, c.Encoded)
		d, err := protocol.ParseDescriptor(enc)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if err := d.VerifyFor(protocol.Stream{Key: d.Stream.Key, Salt: unhex(t, c.Fields.Salt)}); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if !reflect.DeepEqual(descriptorFieldsOf(&d), c.Fields) {
			t.Errorf("%s: fields\n got %+v\nwant %+v", c.Name, descriptorFieldsOf(&d), c.Fields)
		}
		if c.SignedLen != len(enc)-64 || !bytes.Equal(d.Append(nil), enc) {
			t.Errorf("%s: encoding or signed length differs", c.Name)
		}
	}
}

func TestRecordVectors(t *testing.T) {
	for _, c := range load[recordCase](t, "record.json") {
		d, err := protocol.ParseDescriptor(unhex(t, c.Descriptor))
		if err != nil || d.Verify() != nil {
			t.Fatalf("%s: descriptor: %v", c.Name, err)
		}
		enc := unhex(t, c.Encoded)
		r, err := protocol.ParseRecord(enc)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if err := r.Verify(&d); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if !reflect.DeepEqual(recordFieldsOf(&r), c.Fields) || !bytes.Equal(r.Append(nil), enc) || c.SignedLen != len(enc)-64 {
			t.Errorf("%s: fields or encoding differ", c.Name)
		}
		data := unhex(t, c.SegmentData)
		if uint64(len(data)) != r.Length || len(c.Pieces) != len(r.Hashes) {
			t.Fatalf("%s: %d bytes, %d pieces", c.Name, len(data), len(c.Pieces))
		}
		for _, p := range c.Pieces {
			n, _ := strconv.ParseUint(p.Piece, 10, 64)
			if err := r.VerifyPiece(n, data[p.Offset:p.Offset+p.Length]); err != nil {
				t.Errorf("%s: piece %d: %v", c.Name, n, err)
			}
			if r.PieceLen(n, d.PieceSize) != p.Length || int(r.PieceOffset(n, d.PieceSize)) != p.Offset {
				t.Errorf("%s: piece %d geometry", c.Name, n)
			}
		}
	}
}

func TestTamperedVectors(t *testing.T) {
	for _, c := range load[tamperedCase](t, "tampered.json") {
		enc := unhex(t, c.Encoded)
		var err error
		switch c.Kind {
		case "descriptor":
			var d protocol.Descriptor
			if d, err = protocol.ParseDescriptor(enc); err == nil {
				var st protocol.Stream
				copy(st.Key[:], unhex(t, c.PublicKey))
				st.Salt = unhex(t, c.Salt)
				if len(st.Salt) == 0 {
					st.Salt = nil
				}
				err = d.VerifyFor(st)
			}
		case "record", "piece":
			d, derr := protocol.ParseDescriptor(unhex(t, c.Descriptor))
			if derr != nil {
				t.Fatal(derr)
			}
			if c.Kind == "record" {
				var r protocol.Record
				if r, err = protocol.ParseRecord(enc); err == nil {
					err = r.Verify(&d)
				}
			} else {
				r, rerr := protocol.ParseRecord(unhex(t, c.Record))
				if rerr != nil || r.Verify(&d) != nil {
					t.Fatalf("%s: the record itself must be valid: %v", c.Name, rerr)
				}
				n, _ := strconv.ParseUint(c.Piece, 10, 64)
				err = r.VerifyPiece(n, enc)
			}
		default:
			t.Fatalf("%s: unknown kind %q", c.Name, c.Kind)
		}
		if err == nil {
			t.Errorf("%s: accepted", c.Name)
		} else if got := category(err); got != c.Error {
			t.Errorf("%s: error %q, want %q", c.Name, got, c.Error)
		}
		// A re-signed case carries the stream key's valid signature: its field is its only fault.
		if strings.HasSuffix(c.Name, ", re-signed") {
			n, key := len(enc)-ed25519.SignatureSize, prototest.Stream().Key
			if n < 0 || !ed25519.Verify(key[:], enc[:n], enc[n:]) {
				t.Errorf("%s: signature does not verify", c.Name)
			}
		}
	}
}
