package protocol

// Cancel withdraws a queued Request. It has no answer.
//
//	0x06 | piece u64 | offset u32 | length u32
type Cancel struct{ BlockRef }

const cancelLen = 1 + blockRefLen

func (Cancel) Type() LiveType { return TypeCancel }
func (Cancel) Len() int       { return cancelLen }

func (m Cancel) Append(b []byte) []byte { return m.append(append(b, byte(TypeCancel))) }

// ParseCancel parses a CANCEL message, type byte included.
func ParseCancel(p []byte) (Cancel, error) {
	c := liveCursor(p, TypeCancel)
	r := parseBlockRef(&c)
	if err := c.finish(); err != nil {
		return Cancel{}, err
	}
	return Cancel{r}, nil
}
