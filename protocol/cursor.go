package protocol

import (
	"encoding/binary"
)

// cursor reads fixed-layout big-endian fields from a byte slice. The first failure is
// sticky: later reads return zero values, and err reports the field that ran short. This
// keeps decoders linear and makes every truncated prefix an error rather than a panic.
type cursor struct {
	b     []byte
	off   int
	where string // structure name used in error messages
	err   error
}

func (c *cursor) need(n int, field string) bool {
	if c.err != nil {
		return false
	}
	if n < 0 || len(c.b)-c.off < n {
		c.err = fieldErr(c.where+"."+field, ErrTruncated, "need %d bytes, have %d", n, len(c.b)-c.off)
		return false
	}
	return true
}

func (c *cursor) u8(field string) uint8 {
	if !c.need(1, field) {
		return 0
	}
	v := c.b[c.off]
	c.off++
	return v
}

func (c *cursor) u16(field string) uint16 {
	if !c.need(2, field) {
		return 0
	}
	v := binary.BigEndian.Uint16(c.b[c.off:])
	c.off += 2
	return v
}

func (c *cursor) u32(field string) uint32 {
	if !c.need(4, field) {
		return 0
	}
	v := binary.BigEndian.Uint32(c.b[c.off:])
	c.off += 4
	return v
}

func (c *cursor) u64(field string) uint64 {
	if !c.need(8, field) {
		return 0
	}
	v := binary.BigEndian.Uint64(c.b[c.off:])
	c.off += 8
	return v
}

// bytes returns the next n bytes, aliasing the input.
func (c *cursor) bytes(n int, field string) []byte {
	if !c.need(n, field) {
		return nil
	}
	v := c.b[c.off : c.off+n : c.off+n]
	c.off += n
	return v
}

// prefixed reads a length-prefixed byte string whose length field has the given width (1 or
// 2 bytes), rejecting lengths above max before touching the data.
func (c *cursor) prefixed(width int, max int, field string) []byte {
	var n int
	if width == 1 {
		n = int(c.u8(field + " length"))
	} else {
		n = int(c.u16(field + " length"))
	}
	if c.err != nil {
		return nil
	}
	if n > max {
		c.err = fieldErr(c.where+"."+field, ErrTooLarge, "length %d exceeds %d", n, max)
		return nil
	}
	return c.bytes(n, field)
}

func (c *cursor) fail(field string, err error, format string, args ...any) {
	if c.err == nil {
		c.err = fieldErr(c.where+"."+field, err, format, args...)
	}
}

// rest returns the unread bytes.
func (c *cursor) rest() []byte { return c.b[c.off:] }

// finish reports trailing bytes as an error: every structure has exactly one encoding.
func (c *cursor) finish() error {
	if c.err == nil && c.off != len(c.b) {
		c.err = fieldErr(c.where, ErrInvalid, "%d trailing bytes", len(c.b)-c.off)
	}
	return c.err
}

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
