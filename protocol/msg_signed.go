package protocol

// DescriptorMsg carries a signed descriptor's bytes. Receivers keep the bytes as received:
// they relay them unchanged and compare them byte for byte with what they hold.
//
//	0x01 | descriptor
type DescriptorMsg struct{ Raw []byte }

func (DescriptorMsg) Type() LiveType { return TypeDescriptor }
func (m DescriptorMsg) Len() int     { return 1 + len(m.Raw) }
func (m DescriptorMsg) Append(b []byte) []byte {
	return append(append(b, byte(TypeDescriptor)), m.Raw...)
}

// ParseDescriptorMsg parses the envelope (Raw aliases p); ParseDescriptor decodes Raw.
func ParseDescriptorMsg(p []byte) (DescriptorMsg, error) {
	raw, err := parseSigned(p, TypeDescriptor, MaxDescriptorLen)
	return DescriptorMsg{raw}, err
}

// RecordMsg carries a signed segment record's bytes.
//
//	0x02 | record
type RecordMsg struct{ Raw []byte }

func (RecordMsg) Type() LiveType           { return TypeRecord }
func (m RecordMsg) Len() int               { return 1 + len(m.Raw) }
func (m RecordMsg) Append(b []byte) []byte { return append(append(b, byte(TypeRecord)), m.Raw...) }

// ParseRecordMsg parses the envelope (Raw aliases p); ParseRecord decodes Raw.
func ParseRecordMsg(p []byte) (RecordMsg, error) {
	raw, err := parseSigned(p, TypeRecord, MaxRecordLen)
	return RecordMsg{raw}, err
}

func parseSigned(p []byte, t LiveType, max int) ([]byte, error) {
	c := liveCursor(p, t)
	if c.err != nil {
		return nil, c.err
	}
	raw := c.rest()
	switch {
	case len(raw) == 0:
		return nil, fieldErr(t.String(), ErrTruncated, "empty body")
	case len(raw) > max:
		return nil, fieldErr(t.String(), ErrTooLarge, "%d bytes, at most %d", len(raw), max)
	}
	return raw, nil
}
