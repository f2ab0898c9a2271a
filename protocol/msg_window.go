package protocol

// Window is the range of pieces [First, End) a peer keeps. It is both the WINDOW message and
// the lt_win key of the extended handshake.
//
//	0x03 | first u64 | end u64
type Window struct {
	First uint64
	End   uint64
}

const windowLen = 1 + 16

func (Window) Type() LiveType { return TypeWindow }
func (Window) Len() int       { return windowLen }

func (m Window) Append(b []byte) []byte {
	return appendU64(appendU64(append(b, byte(TypeWindow)), m.First), m.End)
}

// Contains reports whether piece p lies in the window.
func (m Window) Contains(p uint64) bool { return p >= m.First && p < m.End }

func (m Window) validate(where string) error {
	switch {
	case m.First > m.End:
		return fieldErr(where, ErrInvalid, "first %d after end %d", m.First, m.End)
	case m.End > PieceLimit:
		return fieldErr(where, ErrInvalid, "end %d beyond 2^63", m.End)
	case m.End-m.First > MaxWindowPieces:
		return fieldErr(where, ErrTooLarge, "%d pieces, at most %d", m.End-m.First, MaxWindowPieces)
	}
	return nil
}

// ParseWindow parses a WINDOW message, type byte included.
func ParseWindow(p []byte) (Window, error) {
	c := liveCursor(p, TypeWindow)
	m := Window{First: c.u64("first"), End: c.u64("end")}
	if err := c.finish(); err != nil {
		return Window{}, err
	}
	if err := m.validate("WINDOW"); err != nil {
		return Window{}, err
	}
	return m, nil
}
