package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"time"
)

// Record limits.
const (
	MaxPiecesPerRecord = 7680
	MaxRecordURI       = 1024
	MaxRecordExt       = 1024
	MaxSegmentDuration = 600 * time.Second
	recordMagic        = "LTR1"
	recordFixedBytes   = 4 + 1 + 20 + 1 + 1 + 8 + 4 + 4 + 8 + 8 + 8 + 8 + 8 + 8 + 2 + 2 + 2 + ed25519.SignatureSize
	// MaxRecordLen is the largest encoded record.
	MaxRecordLen = recordFixedBytes + MaxRecordURI + 32*MaxPiecesPerRecord + MaxRecordExt
)

// Record flags. Receivers ignore bits they do not know.
const (
	FlagDiscontinuity uint8 = 1 << 0 // EXT-X-DISCONTINUITY precedes this segment
	FlagInit          uint8 = 1 << 1 // an initialisation segment (EXT-X-MAP)
	FlagEnd           uint8 = 1 << 2 // the last segment: EXT-X-ENDLIST follows
	FlagGap           uint8 = 1 << 3 // EXT-X-GAP: the segment is missing at the origin
)

// Hash is a SHA-256 piece hash.
type Hash [sha256.Size]byte

// Record is the publisher-signed description of one segment: its place in the playlist, its
// bytes' place in the piece space and the hash of every piece.
type Record struct {
	InfoHash         InfoHash
	Rendition        uint8
	Flags            uint8
	MediaSeq         uint64
	DiscontinuitySeq uint32
	Duration         time.Duration // microsecond precision; 0 iff FlagInit
	ProgramDateTime  time.Time     // millisecond precision; zero if absent
	Published        time.Time     // millisecond precision
	InitPiece        uint64        // first piece of the init segment's record, or NoPiece
	FirstPiece       uint64
	Length           uint64 // segment bytes
	OriginOffset     uint64 // EXT-X-BYTERANGE offset at the origin
	URI              string // relative to the rendition playlist, or absolute; empty if none
	Hashes           []Hash
	Ext              []byte
	Signature        [ed25519.SignatureSize]byte
}

// IsInit reports whether the record describes an initialisation segment.
func (r *Record) IsInit() bool { return r.Flags&FlagInit != 0 }

// EndPiece returns one past the record's last piece.
func (r *Record) EndPiece() uint64 { return r.FirstPiece + uint64(len(r.Hashes)) }

// Contains reports whether piece p belongs to the record.
func (r *Record) Contains(p uint64) bool { return p >= r.FirstPiece && p < r.EndPiece() }

// PieceLen returns the length of piece p (which must be in the record) for piece size ps.
func (r *Record) PieceLen(p uint64, ps uint32) int {
	start := (p - r.FirstPiece) * uint64(ps)
	return int(min(uint64(ps), r.Length-start))
}

// PieceOffset returns the byte offset of piece p within the segment.
func (r *Record) PieceOffset(p uint64, ps uint32) uint64 { return (p - r.FirstPiece) * uint64(ps) }

// BlockLen returns the exact length a REQUEST for (p, off) must carry, or 0 if the block
// does not exist.
func (r *Record) BlockLen(p uint64, off uint32, ps uint32) uint32 {
	if !r.Contains(p) || off%BlockSize != 0 {
		return 0
	}
	pl := uint32(r.PieceLen(p, ps))
	if off >= pl {
		return 0
	}
	return min(BlockSize, pl-off)
}

// VerifyPiece checks piece data against its hash.
func (r *Record) VerifyPiece(p uint64, data []byte) error {
	if !r.Contains(p) {
		return fieldErr("piece", ErrInvalid, "piece %d not in record [%d, %d)", p, r.FirstPiece, r.EndPiece())
	}
	if sha256.Sum256(data) != r.Hashes[p-r.FirstPiece] {
		return fieldErr("piece", ErrBadHash, "piece %d", p)
	}
	return nil
}

func (r *Record) Len() int {
	return recordFixedBytes + len(r.URI) + 32*len(r.Hashes) + len(r.Ext)
}

func (r *Record) appendSigned(b []byte) []byte {
	b = append(b, recordMagic...)
	b = append(b, signedStructVersion)
	b = append(b, r.InfoHash[:]...)
	b = append(b, r.Rendition, r.Flags)
	b = appendU64(b, r.MediaSeq)
	b = appendU32(b, r.DiscontinuitySeq)
	b = appendU32(b, uint32(r.Duration.Microseconds()))
	b = appendU64(b, msOrZero(r.ProgramDateTime))
	b = appendU64(b, msOrZero(r.Published))
	b = appendU64(b, r.InitPiece)
	b = appendU64(b, r.FirstPiece)
	b = appendU64(b, r.Length)
	b = appendU64(b, r.OriginOffset)
	b = append(appendU16(b, uint16(len(r.URI))), r.URI...)
	b = appendU16(b, uint16(len(r.Hashes)))
	for i := range r.Hashes {
		b = append(b, r.Hashes[i][:]...)
	}
	return append(appendU16(b, uint16(len(r.Ext))), r.Ext...)
}

// Append appends the canonical encoding, signature included.
func (r *Record) Append(b []byte) []byte {
	return append(r.appendSigned(b), r.Signature[:]...)
}

// Sign checks the record against the descriptor it belongs to and signs it.
func (r *Record) Sign(d *Descriptor, priv ed25519.PrivateKey) error {
	if err := r.check(d); err != nil {
		return err
	}
	copy(r.Signature[:], ed25519.Sign(priv, r.appendSigned(nil)))
	return nil
}

// Verify checks the record against a verified descriptor: stream, rendition, piece
// geometry, flags and finally the signature. The error names the first check that failed.
func (r *Record) Verify(d *Descriptor) error {
	if err := r.check(d); err != nil {
		return err
	}
	if !ed25519.Verify(d.Stream.Key[:], r.appendSigned(nil), r.Signature[:]) {
		return fieldErr("record.signature", ErrBadSignature, "media sequence %d", r.MediaSeq)
	}
	return nil
}

func (r *Record) check(d *Descriptor) error {
	const w = "record."
	if err := r.checkSelf(); err != nil {
		return err
	}
	if r.InfoHash != d.Stream.InfoHash() {
		return fieldErr(w+"info-hash", ErrWrongStream, "%s, stream %s", r.InfoHash, d.Stream.InfoHash())
	}
	if _, ok := d.Rendition(r.Rendition); !ok {
		return fieldErr(w+"rendition", ErrInvalid, "id %d not in the descriptor", r.Rendition)
	}
	ps := uint64(d.PieceSize)
	n := uint64(len(r.Hashes))
	if r.Length > n*ps || r.Length <= (n-1)*ps {
		return fieldErr(w+"piece count", ErrInvalid, "%d pieces of %d bytes cannot hold %d bytes", n, ps, r.Length)
	}
	return nil
}

// checkSelf validates what can be checked without the descriptor.
func (r *Record) checkSelf() error {
	const w = "record."
	n := len(r.Hashes)
	switch {
	case n == 0 || n > MaxPiecesPerRecord:
		return fieldErr(w+"piece count", ErrInvalid, "%d, want 1..%d", n, MaxPiecesPerRecord)
	case r.FirstPiece >= PieceLimit || PieceLimit-r.FirstPiece < uint64(n):
		return fieldErr(w+"first piece", ErrInvalid, "pieces end beyond 2^63")
	case r.Length == 0:
		return fieldErr(w+"length", ErrInvalid, "empty segment")
	case r.IsInit() && (r.Duration != 0 || r.InitPiece != NoPiece):
		return fieldErr(w+"flags", ErrInvalid, "an init segment has no duration and no init piece")
	case !r.IsInit() && (r.Duration <= 0 || r.Duration > MaxSegmentDuration):
		return fieldErr(w+"duration", ErrInvalid, "%v not in (0, %v]", r.Duration, MaxSegmentDuration)
	case r.Duration%time.Microsecond != 0:
		return fieldErr(w+"duration", ErrInvalid, "not whole microseconds")
	case r.InitPiece != NoPiece && r.InitPiece >= r.FirstPiece:
		return fieldErr(w+"init piece", ErrInvalid, "%d does not precede first piece %d", r.InitPiece, r.FirstPiece)
	case r.Published.IsZero() || !validMs(r.Published):
		return fieldErr(w+"published", ErrInvalid, "must be whole milliseconds after 1970")
	case !validMs(r.ProgramDateTime):
		return fieldErr(w+"program date-time", ErrInvalid, "must be whole milliseconds after 1970, or absent")
	case len(r.URI) > MaxRecordURI || !printableASCII(r.URI):
		return fieldErr(w+"uri", ErrInvalid, "not printable ASCII of at most %d bytes", MaxRecordURI)
	case len(r.Ext) > MaxRecordExt:
		return fieldErr(w+"ext", ErrTooLarge, "%d bytes", len(r.Ext))
	}
	return checkTLVs(r.Ext, w+"ext")
}

// ParseRecord decodes a record and checks what it can without the descriptor. It does not
// verify the signature: call Verify.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	if len(b) > MaxRecordLen {
		return r, fieldErr("record", ErrTooLarge, "%d bytes, at most %d", len(b), MaxRecordLen)
	}
	c := cursor{b: b, where: "record"}
	if m := c.bytes(4, "magic"); c.err == nil && string(m) != recordMagic {
		c.fail("magic", ErrUnknownType, "%q, want %q", m, recordMagic)
	}
	if v := c.u8("version"); c.err == nil && v != signedStructVersion {
		c.fail("version", ErrUnknownType, "%d, want %d", v, signedStructVersion)
	}
	copy(r.InfoHash[:], c.bytes(20, "info-hash"))
	r.Rendition = c.u8("rendition")
	r.Flags = c.u8("flags")
	r.MediaSeq = c.u64("media sequence")
	r.DiscontinuitySeq = c.u32("discontinuity sequence")
	r.Duration = time.Duration(c.u32("duration")) * time.Microsecond
	r.ProgramDateTime = timeOrZero(&c, "program date-time")
	r.Published = timeOrZero(&c, "published")
	r.InitPiece = c.u64("init piece")
	r.FirstPiece = c.u64("first piece")
	r.Length = c.u64("length")
	r.OriginOffset = c.u64("origin offset")
	r.URI = string(c.prefixed(2, MaxRecordURI, "uri"))
	n := int(c.u16("piece count"))
	if c.err == nil && (n == 0 || n > MaxPiecesPerRecord) {
		c.fail("piece count", ErrInvalid, "%d, want 1..%d", n, MaxPiecesPerRecord)
	}
	if raw := c.bytes(32*n, "hashes"); c.err == nil {
		r.Hashes = make([]Hash, n)
		for i := range r.Hashes {
			copy(r.Hashes[i][:], raw[32*i:])
		}
	}
	if ext := c.prefixed(2, MaxRecordExt, "ext"); len(ext) > 0 {
		r.Ext = bytes.Clone(ext)
	}
	copy(r.Signature[:], c.bytes(ed25519.SignatureSize, "signature"))
	if err := c.finish(); err != nil {
		return Record{}, err
	}
	if err := r.checkSelf(); err != nil {
		return Record{}, asRule(err)
	}
	return r, nil
}

func msOrZero(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMilli())
}

// validMs reports whether t is absent or encodable: whole milliseconds in (1970, 2^62 ms].
func validMs(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	ms := t.UnixMilli()
	return ms > 0 && ms <= 1<<62 && t.Nanosecond()%int(time.Millisecond) == 0
}

func timeOrZero(c *cursor, field string) time.Time {
	ms := c.u64(field)
	switch {
	case c.err != nil || ms == 0:
		return time.Time{}
	case ms > 1<<62:
		c.fail(field, ErrInvalid, "%d ms is out of range", ms)
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}

// HashPieces cuts segment data into pieces of size ps and hashes each: what a publisher
// puts into a record.
func HashPieces(data []byte, ps uint32) []Hash {
	n := (len(data) + int(ps) - 1) / int(ps)
	out := make([]Hash, n)
	for i := range out {
		out[i] = sha256.Sum256(data[i*int(ps) : min(len(data), (i+1)*int(ps))])
	}
	return out
}
