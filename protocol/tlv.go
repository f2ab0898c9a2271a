package protocol

// checkTLVs validates an extension area: a sequence of (type u8, length u16, value) entries
// that must cover the area exactly. Unknown types are allowed and ignored by receivers, but
// the area is signed, so it is kept byte for byte.
func checkTLVs(ext []byte, where string) error {
	c := cursor{b: ext, where: where}
	for c.err == nil && c.off < len(c.b) {
		c.u8("type")
		n := int(c.u16("length"))
		c.bytes(n, "value")
	}
	return c.err
}

// TLV is one extension entry.
type TLV struct {
	Type  uint8
	Value []byte
}

// AppendTLV appends one extension entry; values longer than 65535 bytes are not encodable.
func AppendTLV(b []byte, t TLV) []byte {
	return append(appendU16(append(b, t.Type), uint16(len(t.Value))), t.Value...)
}

// TLVs iterates a validated extension area.
func TLVs(ext []byte) []TLV {
	var out []TLV
	c := cursor{b: ext}
	for c.err == nil && c.off < len(c.b) {
		t := c.u8("type")
		v := c.bytes(int(c.u16("length")), "value")
		if c.err == nil {
			out = append(out, TLV{Type: t, Value: v})
		}
	}
	return out
}
