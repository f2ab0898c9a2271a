package protocol

import (
	"bytes"
	"crypto/ed25519"
	"time"
	"unicode/utf8"
)

// Descriptor limits.
const (
	MinPieceSize         = 16384
	MaxPieceSize         = 1 << 20
	MaxDescriptorLen     = 65536
	MaxDescriptorName    = 256
	MaxRenditions        = 16
	MaxRenditionURI      = 2048
	MaxCodecs            = 255
	MaxDescriptorExt     = 4096
	MaxTargetDuration    = 600 * time.Second
	MinWindowDuration    = time.Second
	MaxWindowDuration    = time.Hour
	descriptorMagic      = "LTD1"
	signedStructVersion  = 1
	descriptorFixedBytes = 4 + 1 + 32 + 1 + 8 + 8 + 4 + 4 + 4 + 2 + 2 + 1 + 2 + ed25519.SignatureSize
)

// ValidPieceSize reports whether p is a power of two from MinPieceSize to MaxPieceSize.
func ValidPieceSize(p uint32) bool {
	return p >= MinPieceSize && p <= MaxPieceSize && p&(p-1) == 0
}

// Rendition is one variant of the stream (one media playlist at the origin).
type Rendition struct {
	ID        uint8
	Bandwidth uint32 // bits per second
	Width     uint16
	Height    uint16
	Codecs    string // RFC 6381 codecs string, printable ASCII
	URI       string // media playlist, relative to the descriptor's origin or absolute
}

// Descriptor is the publisher-signed description of a stream. The encoding is canonical and
// the signature covers every byte before it, so receivers relay the bytes they got.
type Descriptor struct {
	Stream         Stream
	Seq            uint64
	Created        time.Time // millisecond precision
	PieceSize      uint32
	TargetDuration time.Duration // millisecond precision
	WindowDuration time.Duration // millisecond precision
	Name           string
	Origin         string // origin playlist URL, empty if there is no fallback
	Renditions     []Rendition
	Ext            []byte // extension TLVs
	Signature      [ed25519.SignatureSize]byte
}

// Rendition returns the rendition with the given id.
func (d *Descriptor) Rendition(id uint8) (Rendition, bool) {
	for _, r := range d.Renditions {
		if r.ID == id {
			return r, true
		}
	}
	return Rendition{}, false
}

func (d *Descriptor) Len() int {
	n := descriptorFixedBytes + len(d.Stream.Salt) + len(d.Name) + len(d.Origin) + len(d.Ext)
	for _, r := range d.Renditions {
		n += 1 + 4 + 2 + 2 + 1 + len(r.Codecs) + 2 + len(r.URI)
	}
	return n
}

// appendSigned appends the signed part: every field but the signature.
func (d *Descriptor) appendSigned(b []byte) []byte {
	b = append(b, descriptorMagic...)
	b = append(b, signedStructVersion)
	b = append(b, d.Stream.Key[:]...)
	b = append(append(b, byte(len(d.Stream.Salt))), d.Stream.Salt...)
	b = appendU64(b, d.Seq)
	b = appendU64(b, uint64(d.Created.UnixMilli()))
	b = appendU32(b, d.PieceSize)
	b = appendU32(b, uint32(d.TargetDuration.Milliseconds()))
	b = appendU32(b, uint32(d.WindowDuration.Milliseconds()))
	b = append(appendU16(b, uint16(len(d.Name))), d.Name...)
	b = append(appendU16(b, uint16(len(d.Origin))), d.Origin...)
	b = append(b, byte(len(d.Renditions)))
	for _, r := range d.Renditions {
		b = append(b, r.ID)
		b = appendU32(b, r.Bandwidth)
		b = appendU16(appendU16(b, r.Width), r.Height)
		b = append(append(b, byte(len(r.Codecs))), r.Codecs...)
		b = append(appendU16(b, uint16(len(r.URI))), r.URI...)
	}
	return append(appendU16(b, uint16(len(d.Ext))), d.Ext...)
}

// Append appends the canonical encoding, signature included.
func (d *Descriptor) Append(b []byte) []byte {
	return append(d.appendSigned(b), d.Signature[:]...)
}

// Sign checks the descriptor, sets its key from priv and signs it.
func (d *Descriptor) Sign(priv ed25519.PrivateKey) error {
	copy(d.Stream.Key[:], priv.Public().(ed25519.PublicKey))
	if err := d.check(); err != nil {
		return err
	}
	copy(d.Signature[:], ed25519.Sign(priv, d.appendSigned(nil)))
	return nil
}

// Verify checks the fields and the signature against the descriptor's own key. The caller
// also checks that the key (and salt) are the stream's: see VerifyFor.
func (d *Descriptor) Verify() error {
	if err := d.check(); err != nil {
		return err
	}
	if !ed25519.Verify(d.Stream.Key[:], d.appendSigned(nil), d.Signature[:]) {
		return fieldErr("descriptor.signature", ErrBadSignature, "")
	}
	return nil
}

// VerifyFor verifies the descriptor and that it belongs to stream s.
func (d *Descriptor) VerifyFor(s Stream) error {
	if d.Stream.Key != s.Key {
		return fieldErr("descriptor.public key", ErrWrongKey, "signed by %s, stream key %s", d.Stream.Key, s.Key)
	}
	if !bytes.Equal(d.Stream.Salt, s.Salt) {
		return fieldErr("descriptor.salt", ErrWrongStream, "salt differs from the link's")
	}
	return d.Verify()
}

// check validates every field against the limits, so an invalid descriptor can be neither
// signed nor accepted.
func (d *Descriptor) check() error {
	const w = "descriptor."
	switch {
	case len(d.Stream.Salt) > MaxSaltLen:
		return fieldErr(w+"salt", ErrTooLarge, "%d bytes", len(d.Stream.Salt))
	case d.Seq == 0:
		return fieldErr(w+"seq", ErrInvalid, "must be at least 1")
	case d.Created.IsZero() || !validMs(d.Created):
		return fieldErr(w+"created", ErrInvalid, "must be whole milliseconds after 1970")
	case !ValidPieceSize(d.PieceSize):
		return fieldErr(w+"piece size", ErrInvalid, "%d is not a power of two in %d..%d", d.PieceSize, MinPieceSize, MaxPieceSize)
	case d.TargetDuration < time.Millisecond || d.TargetDuration > MaxTargetDuration:
		return fieldErr(w+"target duration", ErrInvalid, "%v not in 1ms..%v", d.TargetDuration, MaxTargetDuration)
	case d.WindowDuration < MinWindowDuration || d.WindowDuration > MaxWindowDuration:
		return fieldErr(w+"window duration", ErrInvalid, "%v not in %v..%v", d.WindowDuration, MinWindowDuration, MaxWindowDuration)
	case len(d.Name) > MaxDescriptorName || !utf8.ValidString(d.Name):
		return fieldErr(w+"name", ErrInvalid, "not UTF-8 of at most %d bytes", MaxDescriptorName)
	case len(d.Origin) > MaxOriginURL:
		return fieldErr(w+"origin", ErrTooLarge, "%d bytes", len(d.Origin))
	case len(d.Renditions) == 0 || len(d.Renditions) > MaxRenditions:
		return fieldErr(w+"renditions", ErrInvalid, "%d, want 1..%d", len(d.Renditions), MaxRenditions)
	case len(d.Ext) > MaxDescriptorExt:
		return fieldErr(w+"ext", ErrTooLarge, "%d bytes", len(d.Ext))
	}
	if d.TargetDuration%time.Millisecond != 0 || d.WindowDuration%time.Millisecond != 0 {
		return fieldErr(w+"durations", ErrInvalid, "not whole milliseconds")
	}
	if d.Origin != "" {
		if err := checkURL(d.Origin, MaxOriginURL, "http", "https"); err != nil {
			return fieldErr(w+"origin", ErrInvalid, "%v", err)
		}
	}
	seen := map[uint8]bool{}
	for _, r := range d.Renditions {
		switch {
		case seen[r.ID]:
			return fieldErr(w+"renditions", ErrInvalid, "duplicate id %d", r.ID)
		case len(r.Codecs) > MaxCodecs || !printableASCII(r.Codecs):
			return fieldErr(w+"rendition.codecs", ErrInvalid, "not printable ASCII of at most %d bytes", MaxCodecs)
		case len(r.URI) > MaxRenditionURI || !printableASCII(r.URI):
			return fieldErr(w+"rendition.uri", ErrInvalid, "not printable ASCII of at most %d bytes", MaxRenditionURI)
		}
		seen[r.ID] = true
	}
	if err := checkTLVs(d.Ext, w+"ext"); err != nil {
		return err
	}
	if d.Len() > MaxDescriptorLen {
		return fieldErr("descriptor", ErrTooLarge, "%d bytes, at most %d", d.Len(), MaxDescriptorLen)
	}
	return nil
}

// ParseDescriptor decodes a descriptor and checks its fields. It does not verify the
// signature: call Verify or VerifyFor.
func ParseDescriptor(b []byte) (Descriptor, error) {
	var d Descriptor
	if len(b) > MaxDescriptorLen {
		return d, fieldErr("descriptor", ErrTooLarge, "%d bytes, at most %d", len(b), MaxDescriptorLen)
	}
	c := cursor{b: b, where: "descriptor"}
	if m := c.bytes(4, "magic"); c.err == nil && string(m) != descriptorMagic {
		c.fail("magic", ErrUnknownType, "%q, want %q", m, descriptorMagic)
	}
	if v := c.u8("version"); c.err == nil && v != signedStructVersion {
		c.fail("version", ErrUnknownType, "%d, want %d", v, signedStructVersion)
	}
	copy(d.Stream.Key[:], c.bytes(32, "public key"))
	if salt := c.prefixed(1, MaxSaltLen, "salt"); len(salt) > 0 {
		d.Stream.Salt = bytes.Clone(salt)
	}
	d.Seq = c.u64("seq")
	d.Created = timeOrZero(&c, "created")
	d.PieceSize = c.u32("piece size")
	d.TargetDuration = time.Duration(c.u32("target duration")) * time.Millisecond
	d.WindowDuration = time.Duration(c.u32("window duration")) * time.Millisecond
	d.Name = string(c.prefixed(2, MaxDescriptorName, "name"))
	d.Origin = string(c.prefixed(2, MaxOriginURL, "origin"))
	n := int(c.u8("rendition count"))
	if c.err == nil && (n == 0 || n > MaxRenditions) {
		c.fail("rendition count", ErrInvalid, "%d, want 1..%d", n, MaxRenditions)
	}
	if c.err == nil {
		d.Renditions = make([]Rendition, 0, n)
	}
	for i := 0; i < n && c.err == nil; i++ {
		r := Rendition{ID: c.u8("rendition.id"), Bandwidth: c.u32("rendition.bandwidth"),
			Width: c.u16("rendition.width"), Height: c.u16("rendition.height")}
		r.Codecs = string(c.prefixed(1, MaxCodecs, "rendition.codecs"))
		r.URI = string(c.prefixed(2, MaxRenditionURI, "rendition.uri"))
		d.Renditions = append(d.Renditions, r)
	}
	if ext := c.prefixed(2, MaxDescriptorExt, "ext"); len(ext) > 0 {
		d.Ext = bytes.Clone(ext)
	}
	copy(d.Signature[:], c.bytes(ed25519.SignatureSize, "signature"))
	if err := c.finish(); err != nil {
		return Descriptor{}, err
	}
	if err := d.check(); err != nil {
		return Descriptor{}, asRule(err)
	}
	return d, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
