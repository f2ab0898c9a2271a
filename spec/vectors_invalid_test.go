package spec_test

import (
	"crypto/ed25519"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// This file builds the invalid cases of the vectors (and the valid cases that sit on a
// rule's edge) from the reference encoders: a structure with one bad field is encoded with
// protocol's Append (which does not check), and a signed one is re-signed with the
// publisher key so that its field is its only fault.

// liveInvalidCases returns live payloads that ParseMessage rejects, made by the encoders.
func liveInvalidCases() []messageCase {
	ref := func(piece uint64, off, n uint32) protocol.BlockRef {
		return protocol.BlockRef{Piece: piece, Offset: off, Length: n}
	}
	d := prototest.Descriptor()
	big := d.Append(nil)
	big = append(big, make([]byte, protocol.MaxDescriptorLen+1-len(big))...)
	cancel := protocol.Cancel{BlockRef: ref(1000, 0, 16384)}.Append(nil)
	reject := protocol.Reject{BlockRef: ref(1000, 0, 16384), Reason: protocol.RejectChoked}.Append(nil)
	var out []messageCase
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"have count 65537", protocol.Have{First: 4096, Count: protocol.MaxHaveCount + 1}.Append(nil)},
		{"have first 2^63", protocol.Have{First: protocol.PieceLimit, Count: 1}.Append(nil)},
		{"window end 2^63 + 1", protocol.Window{First: protocol.PieceLimit - 16, End: protocol.PieceLimit + 1}.Append(nil)},
		{"window first after end, both below 2^63", protocol.Window{First: 4160, End: 4096}.Append(nil)},
		{"data piece 2^63", protocol.Data{Piece: protocol.PieceLimit, Block: []byte("x")}.Append(nil)},
		{"data offset not a block boundary", protocol.Data{Piece: 1000, Offset: 100, Block: []byte("x")}.Append(nil)},
		{"data empty block", protocol.Data{Piece: 1000, Offset: 16384}.Append(nil)},
		{"data block of 16385 bytes", protocol.Data{Piece: 1000, Block: make([]byte, protocol.BlockSize+1)}.Append(nil)},
		{"request offset 16383", protocol.Request{BlockRef: ref(1000, protocol.BlockSize-1, 1)}.Append(nil)},
		{"request length 0", protocol.Request{BlockRef: ref(1000, 0, 0)}.Append(nil)},
		{"request truncated", protocol.Request{BlockRef: ref(1000, 0, 16384)}.Append(nil)[:16]},
		{"cancel truncated", cancel[:len(cancel)-1]},
		{"cancel length 0", protocol.Cancel{BlockRef: ref(1000, 0, 0)}.Append(nil)},
		{"cancel piece 2^63", protocol.Cancel{BlockRef: ref(protocol.PieceLimit, 0, 1)}.Append(nil)},
		{"reject with a trailing byte", append(reject, 0)},
		{"reject length 16385", protocol.Reject{BlockRef: ref(1000, 0, protocol.BlockSize+1)}.Append(nil)},
		{"descriptor envelope empty", protocol.DescriptorMsg{}.Append(nil)},
		{"descriptor body of 65537 bytes", protocol.DescriptorMsg{Raw: big}.Append(nil)},
		{"unknown live type 0x09 (ignored)", []byte{0x09, 0x00}},
	} {
		_, err := protocol.ParseMessage(c.b)
		if err == nil {
			panic("invalid live vector parses: " + c.name)
		}
		out = append(out, messageCase{Name: c.name, Kind: "live_invalid", Payload: hex.EncodeToString(c.b),
			Frame: hex.EncodeToString(append(protocol.AppendExtendedHeader(nil, liveExtID, len(c.b)), c.b...)),
			Error: category(err)})
	}
	return out
}

// extFields lists a decoded extended handshake as the spec names its keys: the keys a
// receiver treats as absent are left out, and lt_v is the version in effect.
func extFields(h protocol.ExtHandshake) map[string]any {
	m := map[string]any{"lt_live": h.LiveID}
	if h.PexID != 0 {
		m["ut_pex"] = h.PexID
	}
	f := map[string]any{"m": m, "lt_v": h.Version}
	if h.Client != "" {
		f["v"] = h.Client
	}
	if h.Port != 0 {
		f["p"] = h.Port
	}
	if h.Reqq != 0 {
		f["reqq"] = h.Reqq
	}
	if h.YourIP.IsValid() {
		f["yourip"] = hex.EncodeToString(h.YourIP.AsSlice())
	}
	if h.HasWindow {
		f["lt_win"] = map[string]any{"first": u64(h.Window.First), "end": u64(h.Window.End)}
	}
	if h.UploadHint != 0 {
		f["lt_up"] = h.UploadHint
	}
	if h.DescriptorSeq != 0 {
		f["lt_dseq"] = h.DescriptorSeq
	}
	return f
}

// extDict returns the bencoded dictionary of a sample extended handshake with edit applied.
func extDict(edit func(d, m map[string]any)) []byte {
	m := map[string]any{"lt_live": 1, "ut_pex": 2}
	d := map[string]any{"m": m, "v": "LiveTorrent 0.1", "p": 6881, "reqq": 256, "lt_v": 1,
		"lt_win": string(protocol.Window{First: 4096, End: 4160}.Append(nil)[1:]), "lt_dseq": 1}
	edit(d, m)
	b, err := bencode.Marshal(d)
	must(err)
	return b
}

func extFrame(p []byte) string {
	return hex.EncodeToString(append(protocol.AppendExtendedHeader(nil, protocol.ExtHandshakeID, len(p)), p...))
}

// extHandshakeEdgeCases returns valid extended handshakes that are not in the form a sender
// writes: canonical is what re-encoding their fields gives.
func extHandshakeEdgeCases() []messageCase {
	var out []messageCase
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"extended handshake, zero values and empty strings count as absent", extDict(func(d, m map[string]any) {
			m["ut_pex"] = 0
			d["v"], d["p"], d["reqq"], d["yourip"], d["lt_v"], d["lt_win"], d["lt_up"], d["lt_dseq"] = "", 0, 0, "", 0, "", 0, 0
		})},
		{"extended handshake, unknown keys and extension names ignored, lt_v 2", extDict(func(d, m map[string]any) {
			m["ut_metadata"] = 3
			d["lt_v"], d["x_future"], d["yourip"] = 2, map[string]any{"a": []any{1, "b"}}, string([]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
		})},
	} {
		h, err := protocol.ParseExtHandshake(c.b)
		must(err)
		out = append(out, messageCase{Name: c.name, Kind: "ext_handshake", Fields: extFields(h),
			Payload: hex.EncodeToString(c.b), Frame: extFrame(c.b), Canonical: hex.EncodeToString(h.Append(nil))})
	}
	return out
}

// extHandshakeInvalidCases returns extended handshakes that ParseExtHandshake rejects.
func extHandshakeInvalidCases() []messageCase {
	list, err := bencode.Marshal([]any{"m", 1})
	must(err)
	var out []messageCase
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"no lt_live in m", extDict(func(d, m map[string]any) { delete(m, "lt_live") })},
		{"no m", extDict(func(d, m map[string]any) { delete(d, "m") })},
		{"lt_live 0", extDict(func(d, m map[string]any) { m["lt_live"] = 0 })},
		{"lt_live 256", extDict(func(d, m map[string]any) { m["lt_live"] = 256 })},
		{"lt_live a string", extDict(func(d, m map[string]any) { m["lt_live"] = "1" })},
		{"lt_live and ut_pex share id 1", extDict(func(d, m map[string]any) { m["ut_pex"] = 1 })},
		{"lt_win of 15 bytes", extDict(func(d, m map[string]any) { d["lt_win"] = d["lt_win"].(string)[:15] })},
		{"lt_win of 17 bytes", extDict(func(d, m map[string]any) { d["lt_win"] = d["lt_win"].(string) + "\x00" })},
		{"lt_win first after end", extDict(func(d, m map[string]any) {
			d["lt_win"] = string(protocol.Window{First: 4160, End: 4096}.Append(nil)[1:])
		})},
		{"v of 65 bytes", extDict(func(d, m map[string]any) { d["v"] = strings.Repeat("v", protocol.MaxClientName+1) })},
		{"reqq -1", extDict(func(d, m map[string]any) { d["reqq"] = -1 })},
		{"reqq 4097", extDict(func(d, m map[string]any) { d["reqq"] = protocol.MaxReqq + 1 })},
		{"yourip of 5 bytes", extDict(func(d, m map[string]any) { d["yourip"] = "\x7f\x00\x00\x01\x00" })},
		{"p 65536", extDict(func(d, m map[string]any) { d["p"] = 65536 })},
		{"lt_v -1", extDict(func(d, m map[string]any) { d["lt_v"] = -1 })},
		{"lt_dseq -1", extDict(func(d, m map[string]any) { d["lt_dseq"] = -1 })},
		{"v an integer", extDict(func(d, m map[string]any) { d["v"] = 1 })},
		{"payload of 8193 bytes", extDict(func(d, m map[string]any) {
			d["x_pad"] = ""
			b, err := bencode.Marshal(d)
			must(err)
			// "0:" becomes "8xxx:" and 8xxx bytes: the payload grows by the pad and 3 digits.
			d["x_pad"] = strings.Repeat("x", protocol.MaxExtHandshakeLen+1-len(b)-3)
		})},
		{"not a dictionary", list},
	} {
		_, err := protocol.ParseExtHandshake(c.b)
		if err == nil {
			panic("invalid extended handshake parses: " + c.name)
		}
		out = append(out, messageCase{Name: c.name, Kind: "ext_handshake_invalid", Payload: hex.EncodeToString(c.b),
			Frame: extFrame(c.b), Error: category(err)})
	}
	return out
}

// resign replaces the signature (last 64 bytes) of an encoded descriptor or record with the
// publisher's signature over the bytes before it.
func resign(enc []byte) []byte {
	n := len(enc) - ed25519.SignatureSize
	return append(enc[:n:n], ed25519.Sign(prototest.PublisherKey(), enc[:n])...)
}

// fieldRuleCases returns descriptors and records, each signed by the publisher key, whose
// only fault is one field (or the magic or version). check* give the reference's verdict.
func fieldRuleCases(checkDesc, checkRec func([]byte) error) []tamperedCase {
	st := prototest.Stream()
	good := prototest.Descriptor()
	goodEnc := hex.EncodeToString(good.Append(nil))
	var out []tamperedCase
	desc := func(name string, edit func(d *protocol.Descriptor)) {
		d := prototest.Descriptor()
		d.Renditions = append([]protocol.Rendition(nil), d.Renditions...)
		edit(&d)
		enc := resign(d.Append(nil))
		out = append(out, tamperedCase{Name: name, Kind: "descriptor", Encoded: hex.EncodeToString(enc),
			PublicKey: st.Key.String(), Salt: hex.EncodeToString(st.Salt), Error: category(checkDesc(enc))})
	}
	descBytes := func(name string, edit func(b []byte) []byte) {
		d := prototest.Descriptor()
		enc := resign(edit(d.Append(nil)))
		out = append(out, tamperedCase{Name: name, Kind: "descriptor", Encoded: hex.EncodeToString(enc),
			PublicKey: st.Key.String(), Salt: hex.EncodeToString(st.Salt), Error: category(checkDesc(enc))})
	}
	desc("descriptor piece size 49152, not a power of two, re-signed", func(d *protocol.Descriptor) { d.PieceSize = 3 * 16384 })
	desc("descriptor piece size 8192, re-signed", func(d *protocol.Descriptor) { d.PieceSize = protocol.MinPieceSize / 2 })
	desc("descriptor piece size 2097152, re-signed", func(d *protocol.Descriptor) { d.PieceSize = protocol.MaxPieceSize * 2 })
	desc("descriptor rendition count 0, re-signed", func(d *protocol.Descriptor) { d.Renditions = nil })
	desc("descriptor rendition count 17, re-signed", func(d *protocol.Descriptor) {
		for i := len(d.Renditions); i <= protocol.MaxRenditions; i++ {
			r := d.Renditions[1]
			r.ID = uint8(i)
			d.Renditions = append(d.Renditions, r)
		}
	})
	desc("descriptor duplicate rendition id, re-signed", func(d *protocol.Descriptor) { d.Renditions[1].ID = d.Renditions[0].ID })
	desc("descriptor seq 0, re-signed", func(d *protocol.Descriptor) { d.Seq = 0 })
	desc("descriptor created 0, re-signed", func(d *protocol.Descriptor) { d.Created = time.UnixMilli(0) })
	desc("descriptor target duration 0, re-signed", func(d *protocol.Descriptor) { d.TargetDuration = 0 })
	desc("descriptor target duration 600001 ms, re-signed", func(d *protocol.Descriptor) {
		d.TargetDuration = protocol.MaxTargetDuration + time.Millisecond
	})
	desc("descriptor window duration 999 ms, re-signed", func(d *protocol.Descriptor) { d.WindowDuration = 999 * time.Millisecond })
	desc("descriptor window duration 3600001 ms, re-signed", func(d *protocol.Descriptor) {
		d.WindowDuration = protocol.MaxWindowDuration + time.Millisecond
	})
	desc("descriptor name not UTF-8, re-signed", func(d *protocol.Descriptor) { d.Name = "Test \xff Channel" })
	desc("descriptor name of 257 bytes, re-signed", func(d *protocol.Descriptor) { d.Name = strings.Repeat("n", protocol.MaxDescriptorName+1) })
	desc("descriptor origin with scheme ftp, re-signed", func(d *protocol.Descriptor) { d.Origin = "ftp://origin.example/live/master.m3u8" })
	desc("descriptor rendition URI with a space, re-signed", func(d *protocol.Descriptor) { d.Renditions[0].URI = "720p/index .m3u8" })
	desc("descriptor ext entry running past the area, re-signed", func(d *protocol.Descriptor) { d.Ext = []byte{200, 0, 5, 'a'} })
	descBytes("descriptor version 2, re-signed", func(b []byte) []byte { b[4] = 2; return b })
	descBytes("descriptor with the record magic LTR1, re-signed", func(b []byte) []byte { copy(b, "LTR1"); return b })

	_, recs, _, _ := sampleRecords()
	rec := func(name string, i int, edit func(r *protocol.Record)) {
		r := recs[i]
		r.Hashes = append([]protocol.Hash(nil), r.Hashes...)
		edit(&r)
		enc := resign(r.Append(nil))
		out = append(out, tamperedCase{Name: name, Kind: "record", Encoded: hex.EncodeToString(enc),
			Descriptor: goodEnc, Error: category(checkRec(enc))})
	}
	recBytes := func(name string, edit func(b []byte) []byte) {
		enc := edit(recs[0].Append(nil))
		out = append(out, tamperedCase{Name: name, Kind: "record", Encoded: hex.EncodeToString(enc),
			Descriptor: goodEnc, Error: category(checkRec(enc))})
	}
	const ts, init, media = 0, 1, 2
	rec("record INIT with a duration, re-signed", init, func(r *protocol.Record) { r.Duration = 2 * time.Second })
	rec("record INIT with an init piece, re-signed", init, func(r *protocol.Record) { r.InitPiece = 1000 })
	rec("record media duration 0, re-signed", ts, func(r *protocol.Record) { r.Duration = 0 })
	rec("record media duration 600000001 us, re-signed", ts, func(r *protocol.Record) {
		r.Duration = protocol.MaxSegmentDuration + time.Microsecond
	})
	rec("record init piece equal to first piece, re-signed", media, func(r *protocol.Record) { r.InitPiece = r.FirstPiece })
	rec("record piece count 0, re-signed", ts, func(r *protocol.Record) { r.Hashes = nil })
	rec("record published 0, re-signed", ts, func(r *protocol.Record) { r.Published = time.Time{} })
	rec("record first piece + n beyond 2^63, re-signed", ts, func(r *protocol.Record) {
		r.FirstPiece = protocol.PieceLimit - uint64(len(r.Hashes)) + 1
	})
	rec("record program date-time above 2^62 ms, re-signed", ts, func(r *protocol.Record) {
		r.ProgramDateTime = time.UnixMilli(1<<62 + 1)
	})
	rec("record URI with a space, re-signed", ts, func(r *protocol.Record) { r.URI = "seg 100.ts" })
	rec("record rendition 7 not in the descriptor, re-signed", ts, func(r *protocol.Record) { r.Rendition = 7 })
	recBytes("record with a trailing byte after a valid signature", func(b []byte) []byte { return append(b, 0) })
	recBytes("record with the descriptor magic LTD1, re-signed", func(b []byte) []byte { copy(b, "LTD1"); return resign(b) })
	recBytes("record version 2, re-signed", func(b []byte) []byte { b[4] = 2; return resign(b) })
	return out
}

// linkInvalidInputs returns links past the limits of spec 3.3, and a valid ';' in dn.
func linkInvalidInputs() []struct{ name, link string } {
	st := prototest.Stream()
	key := "magnet:?xs=urn:btpk:" + st.Key.String()
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	long := key + "&x.pad="
	long += strings.Repeat("a", protocol.MaxLinkLen+1-len(long))
	return []struct{ name, link string }{
		{"link of 8193 bytes", long},
		{"bad percent-escape in dn", key + "&dn=Caf%C"},
		{"bad percent-escape in a parameter name", key + "&d%ZZ=x"},
		{"two s", key + "&s=6368616e6e656c2d31&s=6368616e6e656c2d31"},
		{"two dn", key + "&dn=a&dn=a"},
		{"two xt", key + "&xt=urn:btih:" + st.InfoHash().String() + "&xt=urn:btih:" + st.InfoHash().String()},
		{"two x.origin", key + "&x.origin=https%3A%2F%2Fo.example%2Fa&x.origin=https%3A%2F%2Fo.example%2Fa"},
		{"odd-length salt", key + "&s=636"},
		{"dn of 257 bytes", protocol.Link{Stream: st, Name: strings.Repeat("n", protocol.MaxLinkName+1)}.String()},
		{"dn not UTF-8", key + "&dn=%FF"},
		{"33 tr", protocol.Link{Stream: st, Trackers: many(protocol.MaxLinkTrackers+1, func(i int) string {
			return "udp://t" + u64(uint64(i)) + ".example:6969/announce"
		})}.String()},
		{"65 x.pe", protocol.Link{Stream: st, Peers: many(protocol.MaxLinkPeers+1, func(i int) string {
			return "192.0.2." + u64(uint64(i+1)) + ":6881"
		})}.String()},
		{"tr with an empty host and a port", protocol.Link{Stream: st, Trackers: []string{"http://:80/"}}.String()},
		{"upper-case urn:btpk prefix", "magnet:?xs=URN:BTPK:" + st.Key.String()},
		{"semicolon in dn", protocol.Link{Stream: st, Name: "News; Weather"}.String()},
	}
}

type keyFileCase struct {
	Name    string `json:"name"`
	KeyFile string `json:"key_file"`
	Valid   bool   `json:"valid"`
	Error   string `json:"error,omitempty"`
	Seed    string `json:"seed,omitempty"`
}

// pkcs8 is PKCS#8's OneAsymmetricKey (RFC 5958) without attributes, to build key files the
// writer never produces.
type pkcs8 struct {
	Version    int
	Algorithm  algorithmID
	PrivateKey []byte
	PublicKey  asn1.BitString `asn1:"optional,tag:1"`
}

type algorithmID struct{ Algorithm asn1.ObjectIdentifier }

func keyFileVectors() vectorFile {
	out := vectorFile{Description: "Key files (spec 2.4). A valid case gives the 32-byte Ed25519 seed the file " +
		"holds; an invalid case names the error category. Keys come from seed = SHA-256(\"livetorrent test " +
		"vector publisher\"), the Ed448 key from fixed bytes."}
	priv := prototest.PublisherKey()
	good, err := protocol.MarshalKeyFile(priv)
	must(err)
	oidEd25519 := asn1.ObjectIdentifier{1, 3, 101, 112}
	seedOctets, err := asn1.Marshal(priv.Seed())
	must(err)
	file := func(k pkcs8, typ string) string {
		der, err := asn1.Marshal(k)
		must(err)
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	pubBits := func(b []byte) asn1.BitString { return asn1.BitString{Bytes: b, BitLength: 8 * len(b)} }
	pub := []byte(priv.Public().(ed25519.PublicKey))
	otherPub := []byte(prototest.Key("someone else").Public().(ed25519.PublicKey))
	ed448Seed, err := asn1.Marshal(prototest.SegmentData("ed448 test key", 57))
	must(err)
	shortSeed, err := asn1.Marshal(priv.Seed()[:ed25519.SeedSize-1])
	must(err)
	for _, c := range []struct{ name, file string }{
		{"v1 form, as written", string(good)},
		{"v2 form with the matching public key", file(pkcs8{Version: 1, Algorithm: algorithmID{oidEd25519},
			PrivateKey: seedOctets, PublicKey: pubBits(pub)}, "PRIVATE KEY")},
		{"over 4096 bytes", strings.Repeat("# padding before the PEM block\n", 4097/31+1) + string(good)},
		{"Ed448 key (OID 1.3.101.113)", file(pkcs8{Algorithm: algorithmID{asn1.ObjectIdentifier{1, 3, 101, 113}},
			PrivateKey: ed448Seed}, "PRIVATE KEY")},
		{"PKCS#8 version field 2", file(pkcs8{Version: 2, Algorithm: algorithmID{oidEd25519}, PrivateKey: seedOctets}, "PRIVATE KEY")},
		{"PKCS#8 version field 4", file(pkcs8{Version: 4, Algorithm: algorithmID{oidEd25519}, PrivateKey: seedOctets}, "PRIVATE KEY")},
		{"v2 form with a public key that does not match the seed", file(pkcs8{Version: 1,
			Algorithm: algorithmID{oidEd25519}, PrivateKey: seedOctets, PublicKey: pubBits(otherPub)}, "PRIVATE KEY")},
		{"v1 form carrying a public key", file(pkcs8{Algorithm: algorithmID{oidEd25519}, PrivateKey: seedOctets,
			PublicKey: pubBits(pub)}, "PRIVATE KEY")},
		{"two PEM blocks", string(good) + string(good)},
		{"PEM type EC PRIVATE KEY", strings.ReplaceAll(string(good), "PRIVATE KEY", "EC PRIVATE KEY")},
		{"no PEM block", hex.EncodeToString(priv.Seed()) + "\n"},
		{"seed of 31 bytes", file(pkcs8{Algorithm: algorithmID{oidEd25519}, PrivateKey: shortSeed}, "PRIVATE KEY")},
	} {
		k := keyFileCase{Name: c.name, KeyFile: c.file}
		if p, err := protocol.ParseKeyFile([]byte(c.file)); err != nil {
			k.Error = category(err)
		} else {
			k.Valid, k.Seed = true, hex.EncodeToString(p.Seed())
		}
		out.Cases = append(out.Cases, k)
	}
	return out
}
