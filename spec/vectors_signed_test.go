package spec_test

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

type renditionFields struct {
	ID        uint8  `json:"id"`
	Bandwidth uint32 `json:"bandwidth"`
	Width     uint16 `json:"width"`
	Height    uint16 `json:"height"`
	Codecs    string `json:"codecs"`
	URI       string `json:"uri"`
}

type descriptorFields struct {
	PublicKey        string            `json:"public_key"`
	Salt             string            `json:"salt"`
	Seq              string            `json:"seq"`
	CreatedMs        string            `json:"created_ms"`
	PieceSize        uint32            `json:"piece_size"`
	TargetDurationMs int64             `json:"target_duration_ms"`
	WindowDurationMs int64             `json:"window_duration_ms"`
	Name             string            `json:"name"`
	Origin           string            `json:"origin"`
	Renditions       []renditionFields `json:"renditions"`
	Ext              string            `json:"ext"`
	Signature        string            `json:"signature"`
}

func descriptorFieldsOf(d *protocol.Descriptor) descriptorFields {
	f := descriptorFields{PublicKey: d.Stream.Key.String(), Salt: hex.EncodeToString(d.Stream.Salt),
		Seq: u64(d.Seq), CreatedMs: u64(uint64(d.Created.UnixMilli())), PieceSize: d.PieceSize,
		TargetDurationMs: d.TargetDuration.Milliseconds(), WindowDurationMs: d.WindowDuration.Milliseconds(),
		Name: d.Name, Origin: d.Origin, Ext: hex.EncodeToString(d.Ext), Signature: hex.EncodeToString(d.Signature[:])}
	for _, r := range d.Renditions {
		f.Renditions = append(f.Renditions, renditionFields(r))
	}
	return f
}

type descriptorCase struct {
	Name      string           `json:"name"`
	Fields    descriptorFields `json:"fields"`
	SignedLen int              `json:"signed_len"`
	Encoded   string           `json:"encoded"`
}

func descriptorVectors() vectorFile {
	out := vectorFile{Description: "Signed stream descriptors. encoded is the canonical encoding; its first " +
		"signed_len bytes are what the signature (the last 64 bytes) covers. 64-bit values are decimal strings."}
	d := prototest.Descriptor()
	d2 := d
	d2.Seq, d2.Stream.Salt, d2.Origin, d2.Name = 2, nil, "", ""
	d2.Renditions = d.Renditions[1:]
	d2.Ext = protocol.AppendTLV(nil, protocol.TLV{Type: 200, Value: []byte("unknown extension")})
	must(d2.Sign(prototest.PublisherKey()))
	for _, c := range []struct {
		name string
		d    protocol.Descriptor
	}{{"two renditions with salt", d}, {"no salt, no origin, unknown extension", d2}} {
		enc := c.d.Append(nil)
		out.Cases = append(out.Cases, descriptorCase{Name: c.name, Fields: descriptorFieldsOf(&c.d),
			SignedLen: len(enc) - 64, Encoded: hex.EncodeToString(enc)})
	}
	return out
}

type pieceFields struct {
	Piece  string `json:"piece"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	SHA256 string `json:"sha256"`
}

type recordFields struct {
	InfoHash              string   `json:"info_hash"`
	Rendition             uint8    `json:"rendition"`
	Flags                 uint8    `json:"flags"`
	MediaSequence         string   `json:"media_sequence"`
	DiscontinuitySequence uint32   `json:"discontinuity_sequence"`
	DurationUs            int64    `json:"duration_us"`
	ProgramDateTimeMs     string   `json:"program_date_time_ms"`
	PublishedMs           string   `json:"published_ms"`
	InitPiece             string   `json:"init_piece"`
	FirstPiece            string   `json:"first_piece"`
	Length                string   `json:"length"`
	OriginOffset          string   `json:"origin_offset"`
	URI                   string   `json:"uri"`
	PieceHashes           []string `json:"piece_hashes"`
	Ext                   string   `json:"ext"`
	Signature             string   `json:"signature"`
}

func recordFieldsOf(r *protocol.Record) recordFields {
	f := recordFields{InfoHash: r.InfoHash.String(), Rendition: r.Rendition, Flags: r.Flags,
		MediaSequence: u64(r.MediaSeq), DiscontinuitySequence: r.DiscontinuitySeq,
		DurationUs: r.Duration.Microseconds(), ProgramDateTimeMs: u64(msOf(r.ProgramDateTime)),
		PublishedMs: u64(msOf(r.Published)), InitPiece: u64(r.InitPiece), FirstPiece: u64(r.FirstPiece),
		Length: u64(r.Length), OriginOffset: u64(r.OriginOffset), URI: r.URI, Ext: hex.EncodeToString(r.Ext),
		Signature: hex.EncodeToString(r.Signature[:])}
	for _, h := range r.Hashes {
		f.PieceHashes = append(f.PieceHashes, hex.EncodeToString(h[:]))
	}
	return f
}

func msOf(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMilli())
}

type recordCase struct {
	Name        string        `json:"name"`
	Descriptor  string        `json:"descriptor"`
	Fields      recordFields  `json:"fields"`
	SignedLen   int           `json:"signed_len"`
	Encoded     string        `json:"encoded"`
	SegmentData string        `json:"segment_data"`
	Pieces      []pieceFields `json:"pieces"`
}

// sampleRecords returns the descriptor and the records of the vectors: an MPEG-TS media
// segment, and an fMP4 init segment with a media segment that references it.
func sampleRecords() (protocol.Descriptor, []protocol.Record, [][]byte, []string) {
	d := prototest.Descriptor()
	key := prototest.PublisherKey()
	tsData := prototest.SegmentData("segment 100", 40000)
	ts := prototest.Record(&d, 100, 1000, tsData)

	initData := prototest.SegmentData("init 1", 700)
	init := protocol.Record{InfoHash: d.Stream.InfoHash(), Rendition: 1, Flags: protocol.FlagInit,
		MediaSeq: 7, Published: prototest.Epoch.Add(time.Minute), InitPiece: protocol.NoPiece,
		FirstPiece: 2000, Length: uint64(len(initData)), URI: "init.mp4", Hashes: protocol.HashPieces(initData, d.PieceSize)}
	must(init.Sign(&d, key))
	mediaData := prototest.SegmentData("fragment 7", 70000)
	media := protocol.Record{InfoHash: d.Stream.InfoHash(), Rendition: 1, Flags: protocol.FlagDiscontinuity | protocol.FlagEnd,
		MediaSeq: 7, DiscontinuitySeq: 3, Duration: 1_998_000 * time.Microsecond,
		Published: prototest.Epoch.Add(time.Minute + 10*time.Millisecond), InitPiece: 2000, FirstPiece: 2001,
		Length: uint64(len(mediaData)), OriginOffset: 1_048_576, URI: "all.m4s",
		Hashes: protocol.HashPieces(mediaData, d.PieceSize)}
	must(media.Sign(&d, key))
	return d, []protocol.Record{ts, init, media}, [][]byte{tsData, initData, mediaData},
		[]string{"MPEG-TS media segment", "fMP4 init segment", "fMP4 media segment after a discontinuity, last of the stream, byte range"}
}

func recordVectors() vectorFile {
	out := vectorFile{Description: "Signed segment records, each with the descriptor that verifies it, the " +
		"segment bytes, and every piece's place and SHA-256. 64-bit values are decimal strings; " +
		"init_piece 18446744073709551615 means none."}
	d, recs, datas, names := sampleRecords()
	denc := hex.EncodeToString(d.Append(nil))
	for i := range recs {
		r := &recs[i]
		enc := r.Append(nil)
		c := recordCase{Name: names[i], Descriptor: denc, Fields: recordFieldsOf(r), SignedLen: len(enc) - 64,
			Encoded: hex.EncodeToString(enc), SegmentData: hex.EncodeToString(datas[i])}
		for p := r.FirstPiece; p < r.EndPiece(); p++ {
			off := r.PieceOffset(p, d.PieceSize)
			n := r.PieceLen(p, d.PieceSize)
			h := sha256.Sum256(datas[i][off : off+uint64(n)])
			c.Pieces = append(c.Pieces, pieceFields{Piece: u64(p), Offset: int(off), Length: n, SHA256: hex.EncodeToString(h[:])})
		}
		out.Cases = append(out.Cases, c)
	}
	return out
}

type tamperedCase struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"` // descriptor, record or piece
	Encoded    string `json:"encoded"`
	Descriptor string `json:"descriptor,omitempty"` // for records and pieces
	PublicKey  string `json:"public_key,omitempty"` // for descriptors: the stream the link names
	Salt       string `json:"salt,omitempty"`
	Piece      string `json:"piece,omitempty"`
	Record     string `json:"record,omitempty"` // for pieces
	Error      string `json:"error"`
}

func tamperedVectors() vectorFile {
	out := vectorFile{Description: "Inputs a receiver must reject, with the error category. descriptor cases " +
		"are checked against the stream (public_key, salt) named by the link; record cases against the " +
		"(valid) descriptor; piece cases against a valid record. A case whose name ends in \", re-signed\" " +
		"carries a valid signature by the stream key over its bytes: the field, magic or version named is its " +
		"only fault."}
	st := prototest.Stream()
	key := prototest.PublisherKey()
	other := prototest.Key("someone else")
	good := prototest.Descriptor()
	goodEnc := good.Append(nil)
	add := func(name, kind string, enc []byte, errOf error) {
		c := tamperedCase{Name: name, Kind: kind, Encoded: hex.EncodeToString(enc), Error: category(errOf)}
		if kind == "descriptor" {
			c.PublicKey, c.Salt = st.Key.String(), hex.EncodeToString(st.Salt)
		} else {
			c.Descriptor = hex.EncodeToString(goodEnc)
		}
		out.Cases = append(out.Cases, c)
	}
	checkDesc := func(b []byte) error {
		d, err := protocol.ParseDescriptor(b)
		if err != nil {
			return err
		}
		return d.VerifyFor(st)
	}
	checkRec := func(b []byte) error {
		r, err := protocol.ParseRecord(b)
		if err != nil {
			return err
		}
		return r.Verify(&good)
	}
	flip := func(b []byte, i int) []byte {
		c := append([]byte(nil), b...)
		c[i] ^= 0x01
		return c
	}

	renamed := good
	renamed.Name = "Evil Channel"
	add("descriptor name changed after signing", "descriptor", renamed.Append(nil), checkDesc(renamed.Append(nil)))
	foreign := good
	must(foreign.Sign(other))
	add("descriptor signed by another key", "descriptor", foreign.Append(nil), checkDesc(foreign.Append(nil)))
	salted := good
	salted.Stream.Salt = []byte("channel-2")
	must(salted.Sign(key))
	add("descriptor for another salt", "descriptor", salted.Append(nil), checkDesc(salted.Append(nil)))
	add("descriptor signature bit flipped", "descriptor", flip(goodEnc, len(goodEnc)-1), checkDesc(flip(goodEnc, len(goodEnc)-1)))
	add("descriptor with a trailing byte", "descriptor", append(append([]byte(nil), goodEnc...), 0), checkDesc(append(append([]byte(nil), goodEnc...), 0)))
	add("descriptor truncated", "descriptor", goodEnc[:100], checkDesc(goodEnc[:100]))
	magic := flip(goodEnc, 3)
	add("descriptor with another magic", "descriptor", magic, checkDesc(magic))

	_, recs, datas, _ := sampleRecords()
	r := recs[0]
	renc := r.Append(nil)
	seq := r
	seq.MediaSeq++
	add("record media sequence changed after signing", "record", seq.Append(nil), checkRec(seq.Append(nil)))
	forged := r
	must(forged.Sign(&good, other))
	add("record signed by another key", "record", forged.Append(nil), checkRec(forged.Append(nil)))
	wrong := r
	wrong.InfoHash = salted.Stream.InfoHash()
	must(wrong.Sign(&salted, key))
	add("record of another stream (salt), signed by the same key", "record", wrong.Append(nil), checkRec(wrong.Append(nil)))
	short := r
	short.Hashes = short.Hashes[:1]
	short.Length = 40000
	add("record with too few piece hashes for its length", "record", short.Append(nil), checkRec(short.Append(nil)))
	add("record hash bit flipped", "record", flip(renc, 120), checkRec(flip(renc, 120)))
	add("record truncated", "record", renc[:len(renc)-1], checkRec(renc[:len(renc)-1]))

	bad := append([]byte(nil), datas[0][:32768]...)
	bad[100] ^= 0xff
	c := tamperedCase{Name: "piece data corrupted", Kind: "piece", Encoded: hex.EncodeToString(bad),
		Descriptor: hex.EncodeToString(goodEnc), Record: hex.EncodeToString(renc), Piece: u64(r.FirstPiece),
		Error: category(r.VerifyPiece(r.FirstPiece, bad))}
	out.Cases = append(out.Cases, c)
	out.Cases = appendCases(out.Cases, fieldRuleCases(checkDesc, checkRec))
	for _, c := range out.Cases {
		if c.(tamperedCase).Error == "" || c.(tamperedCase).Error[:5] == "other" {
			panic("tampered vector accepted: " + c.(tamperedCase).Name)
		}
	}
	return out
}
