package spec_test

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// This file builds every vector from fixed inputs. Ed25519 signatures are deterministic, so
// the same inputs always give the same files.

type vectorFile struct {
	Description string `json:"description"`
	Cases       []any  `json:"cases"`
}

type identityCase struct {
	Name          string `json:"name"`
	SeedLabel     string `json:"seed_label"`
	Seed          string `json:"seed"`
	PrivateKeyPEM string `json:"private_key_pem"`
	PublicKey     string `json:"public_key"`
	Salt          string `json:"salt"`
	InfoHash      string `json:"info_hash"`
}

func identityVectors() vectorFile {
	out := vectorFile{Description: "Stream identity. seed = SHA-256(seed_label); the ed25519 key pair comes " +
		"from the seed (RFC 8032); the key file is PEM PKCS#8 (RFC 8410); info_hash = SHA-1(public_key || salt)."}
	for _, c := range []struct{ name, label, salt string }{
		{"with salt", "livetorrent test vector publisher", "channel-1"},
		{"without salt", "livetorrent test vector publisher", ""},
		{"other key", "someone else", "x"},
	} {
		priv := prototest.Key(c.label)
		pemBytes, err := protocol.MarshalKeyFile(priv)
		must(err)
		s := protocol.StreamOf(priv, []byte(c.salt))
		out.Cases = append(out.Cases, identityCase{
			Name: c.name, SeedLabel: c.label, Seed: hex.EncodeToString(priv.Seed()),
			PrivateKeyPEM: string(pemBytes), PublicKey: s.Key.String(),
			Salt: hex.EncodeToString(s.Salt), InfoHash: s.InfoHash().String(),
		})
	}
	return out
}

type linkCase struct {
	Name      string   `json:"name"`
	Link      string   `json:"link"`
	Valid     bool     `json:"valid"`
	Error     string   `json:"error,omitempty"`
	PublicKey string   `json:"public_key,omitempty"`
	Salt      string   `json:"salt,omitempty"`
	InfoHash  string   `json:"info_hash,omitempty"`
	DN        string   `json:"dn,omitempty"`
	Trackers  []string `json:"trackers,omitempty"`
	Peers     []string `json:"peers,omitempty"`
	Origin    string   `json:"origin,omitempty"`
	Canonical string   `json:"canonical,omitempty"`
}

func linkVectors() vectorFile {
	out := vectorFile{Description: "Links. A valid case lists the decoded parameters and the canonical form " +
		"(parameters in the order xs, s, dn, tr, x.pe, x.origin; values percent-encoded as " +
		"application/x-www-form-urlencoded). An invalid case names the error category."}
	st := prototest.Stream()
	key := st.Key.String()
	full := protocol.Link{Stream: st, Name: "Test Channel",
		Trackers: []string{"udp://tracker.example:6969/announce", "http://tracker.example/announce"},
		Peers:    []string{"192.0.2.1:6881", "[2001:db8::1]:6881", "seed.example:7000"},
		Origin:   "https://origin.example/live/master.m3u8"}
	inputs := []struct{ name, link string }{
		{"full", full.String()},
		{"key only", "magnet:?xs=urn:btpk:" + key},
		{"upper-case hex, unknown parameters, matching xt", "magnet:?x.future=1&xs=urn:btpk:" + strings.ToUpper(key) +
			"&s=6368616E6E656C2D31&xt=urn:btih:" + st.InfoHash().String() + "&dn=Caf%C3%A9"},
		{"not a magnet", "https://example.com/?xs=urn:btpk:" + key},
		{"no xs", "magnet:?xt=urn:btih:" + st.InfoHash().String()},
		{"short key", "magnet:?xs=urn:btpk:" + key[:62]},
		{"two xs", "magnet:?xs=urn:btpk:" + key + "&xs=urn:btpk:" + key},
		{"salt too long", "magnet:?xs=urn:btpk:" + key + "&s=" + strings.Repeat("ab", 65)},
		{"xt mismatch", "magnet:?xs=urn:btpk:" + key + "&xt=urn:btih:" + strings.Repeat("0", 40)},
		{"tracker scheme", "magnet:?xs=urn:btpk:" + key + "&tr=ws%3A%2F%2Ft%2Fa"},
		{"peer without port", "magnet:?xs=urn:btpk:" + key + "&x.pe=192.0.2.1"},
		{"origin scheme", "magnet:?xs=urn:btpk:" + key + "&x.origin=file%3A%2F%2F%2Fetc%2Fpasswd"},
	}
	inputs = append(inputs, linkInvalidInputs()...)
	for _, in := range inputs {
		c := linkCase{Name: in.name, Link: in.link}
		l, err := protocol.ParseLink(in.link)
		if err != nil {
			c.Error = category(err)
		} else {
			c.Valid = true
			c.PublicKey, c.Salt, c.InfoHash = l.Stream.Key.String(), hex.EncodeToString(l.Stream.Salt), l.Stream.InfoHash().String()
			c.DN, c.Trackers, c.Peers, c.Origin, c.Canonical = l.Name, l.Trackers, l.Peers, l.Origin, l.String()
		}
		out.Cases = append(out.Cases, c)
	}
	return out
}

type messageCase struct {
	Name    string         `json:"name"`
	Kind    string         `json:"kind"`
	Fields  map[string]any `json:"fields,omitempty"`
	Payload string         `json:"payload,omitempty"`
	Frame   string         `json:"frame"`
	Error   string         `json:"error,omitempty"`
	// Canonical, for an ext_handshake not in the form a sender writes: the payload that
	// re-encoding its fields gives.
	Canonical string `json:"canonical,omitempty"`
}

// liveFields lists a live message's fields as the spec names them.
func liveFields(m protocol.Message) map[string]any {
	ref := func(r protocol.BlockRef) map[string]any {
		return map[string]any{"piece": u64(r.Piece), "offset": r.Offset, "length": r.Length}
	}
	switch m := m.(type) {
	case protocol.Window:
		return map[string]any{"first": u64(m.First), "end": u64(m.End)}
	case protocol.Have:
		return map[string]any{"first": u64(m.First), "count": m.Count}
	case protocol.Request:
		return ref(m.BlockRef)
	case protocol.Cancel:
		return ref(m.BlockRef)
	case protocol.Reject:
		f := ref(m.BlockRef)
		f["reason"] = uint8(m.Reason)
		return f
	case protocol.Data:
		return map[string]any{"piece": u64(m.Piece), "offset": m.Offset, "block": hex.EncodeToString(m.Block)}
	case protocol.DescriptorMsg:
		return map[string]any{"descriptor": hex.EncodeToString(m.Raw)}
	case protocol.RecordMsg:
		return map[string]any{"record": hex.EncodeToString(m.Raw)}
	}
	panic("unknown message")
}

// liveExtID is the lt_live id the receiver of every sample frame advertised.
const liveExtID = 1

func messageVectors() vectorFile {
	out := vectorFile{Description: "Messages. For live messages, payload is the live message (type byte and body) " +
		"and frame is the whole BEP 3 frame sent to a peer whose lt_live id is 1. Invalid cases give a " +
		"live payload that a receiver must reject with the named error category. For extended handshakes, " +
		"payload is the bencoded dictionary and frame carries it with extended id 0; fields omit the keys a " +
		"receiver treats as absent (a 0 or an empty string) and give lt_v in effect (absent: 1); canonical, " +
		"when present, is the payload re-encoding the fields gives. ext_handshake_invalid cases must be " +
		"rejected with the named error category."}
	var id [20]byte
	copy(id[:], protocol.PeerIDPrefix+"abcdefghijkl")
	hs := protocol.NewHandshake(prototest.Stream().InfoHash(), id, false)
	out.Cases = append(out.Cases, messageCase{Name: "handshake", Kind: "handshake",
		Fields: map[string]any{"reserved": hex.EncodeToString(hs.Reserved[:]), "info_hash": hs.InfoHash.String(),
			"peer_id": hex.EncodeToString(id[:])}, Frame: hex.EncodeToString(hs.Append(nil))})
	ext := protocol.ExtHandshake{LiveID: 1, PexID: 2, Client: "LiveTorrent 0.1", Port: 6881, Reqq: 256,
		YourIP: netip.MustParseAddr("127.0.0.1"), Version: 1, Window: protocol.Window{First: 4096, End: 4160},
		HasWindow: true, UploadHint: 1_000_000, DescriptorSeq: 1}
	out.Cases = append(out.Cases, messageCase{Name: "extended handshake", Kind: "ext_handshake",
		Fields: map[string]any{"m": map[string]any{"lt_live": 1, "ut_pex": 2}, "v": ext.Client, "p": 6881,
			"reqq": 256, "yourip": "7f000001", "lt_v": 1, "lt_win": map[string]any{"first": "4096", "end": "4160"},
			"lt_up": 1_000_000, "lt_dseq": 1},
		Payload: hex.EncodeToString(ext.Append(nil)), Frame: hex.EncodeToString(protocol.AppendExtHandshakeFrame(nil, ext))})
	out.Cases = appendCases(out.Cases, extHandshakeEdgeCases())
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"keep-alive", protocol.AppendKeepAlive(nil)}, {"choke", protocol.AppendSimple(nil, 0)},
		{"unchoke", protocol.AppendSimple(nil, 1)}, {"interested", protocol.AppendSimple(nil, 2)},
		{"not interested", protocol.AppendSimple(nil, 3)}, {"port", protocol.AppendPort(nil, 6881)},
	} {
		out.Cases = append(out.Cases, messageCase{Name: c.name, Kind: "bep3", Frame: hex.EncodeToString(c.b)})
	}
	d := prototest.Descriptor()
	r := prototest.Record(&d, 100, 1000, prototest.SegmentData("segment 100", 40000))
	for _, m := range []protocol.Message{
		protocol.DescriptorMsg{Raw: d.Append(nil)},
		protocol.RecordMsg{Raw: r.Append(nil)},
		protocol.Window{First: 4096, End: 4160},
		protocol.Have{First: 4096, Count: 8},
		protocol.Request{BlockRef: protocol.BlockRef{Piece: 1001, Offset: 0, Length: 7232}},
		protocol.Cancel{BlockRef: protocol.BlockRef{Piece: 1000, Offset: 16384, Length: 16384}},
		protocol.Reject{BlockRef: protocol.BlockRef{Piece: 1000, Offset: 0, Length: 16384}, Reason: protocol.RejectChoked},
		protocol.Data{Piece: 1000, Offset: 16384, Block: []byte("example block bytes")},
	} {
		out.Cases = append(out.Cases, messageCase{Name: strings.ToLower(m.Type().String()), Kind: "live",
			Fields: liveFields(m), Payload: hex.EncodeToString(m.Append(nil)),
			Frame: hex.EncodeToString(protocol.AppendLive(nil, liveExtID, m))})
	}
	for _, c := range []struct{ name, payload string }{
		{"empty payload", ""},
		{"window first after end", "03 0000000000000002 0000000000000001"},
		{"window wider than 2^20", "03 0000000000000000 0000000000100001"},
		{"have count zero", "04 0000000000001000 00000000"},
		{"have beyond 2^63", "04 7fffffffffffffff 00000002"},
		{"request offset not a block boundary", "05 0000000000001000 00000001 00000001"},
		{"request longer than a block", "05 0000000000001000 00000000 00004001"},
		{"request piece 2^63", "05 8000000000000000 00000000 00000001"},
		{"cancel with a trailing byte", "06 0000000000001000 00000000 00000001 00"},
		{"reject without reason", "07 0000000000001000 00000000 00000001"},
		{"data without block", "08 0000000000001000 00000000"},
		{"record envelope empty", "02"},
	} {
		p := strings.ReplaceAll(c.payload, " ", "")
		raw, err := hex.DecodeString(p)
		must(err)
		_, perr := protocol.ParseMessage(raw)
		if perr == nil {
			panic("invalid vector parses: " + c.name)
		}
		out.Cases = append(out.Cases, messageCase{Name: c.name, Kind: "live_invalid", Payload: p,
			Frame: hex.EncodeToString(append(protocol.AppendExtendedHeader(nil, liveExtID, len(raw)), raw...)),
			Error: category(perr)})
	}
	out.Cases = appendCases(out.Cases, liveInvalidCases())
	out.Cases = appendCases(out.Cases, extHandshakeInvalidCases())
	return out
}

func appendCases[T any](cases []any, more []T) []any {
	for _, c := range more {
		cases = append(cases, c)
	}
	return cases
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// category names an error's category as the vectors and the spec do.
func category(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range []error{protocol.ErrTruncated, protocol.ErrTooLarge, protocol.ErrUnknownType,
		protocol.ErrBadSignature, protocol.ErrWrongKey, protocol.ErrWrongStream, protocol.ErrBadHash, protocol.ErrInvalid} {
		if errors.Is(err, c) {
			return c.Error()
		}
	}
	return "other: " + err.Error()
}

// u64 writes a 64-bit value as a decimal string: JSON numbers above 2^53 are not exact in
// every language.
func u64(v uint64) string { return strconv.FormatUint(v, 10) }
