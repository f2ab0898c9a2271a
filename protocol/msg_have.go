package protocol

// Have announces that the sender holds every piece in [First, First+Count), verified.
//
//	0x04 | first u64 | count u32
type Have struct {
	First uint64
	Count uint32
}

const haveLen = 1 + 12

func (Have) Type() LiveType { return TypeHave }
func (Have) Len() int       { return haveLen }

func (m Have) Append(b []byte) []byte {
	return appendU32(appendU64(append(b, byte(TypeHave)), m.First), m.Count)
}

// End returns one past the last piece announced.
func (m Have) End() uint64 { return m.First + uint64(m.Count) }

// ParseHave parses a HAVE message, type byte included.
func ParseHave(p []byte) (Have, error) {
	c := liveCursor(p, TypeHave)
	m := Have{First: c.u64("first"), Count: c.u32("count")}
	if err := c.finish(); err != nil {
		return Have{}, err
	}
	switch {
	case m.Count == 0 || m.Count > MaxHaveCount:
		return Have{}, fieldErr("HAVE.count", ErrInvalid, "%d, want 1..%d", m.Count, MaxHaveCount)
	case m.First >= PieceLimit || PieceLimit-m.First < uint64(m.Count):
		return Have{}, fieldErr("HAVE.first", ErrInvalid, "range ends beyond 2^63")
	}
	return m, nil
}
