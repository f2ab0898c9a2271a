package protocol

// Request asks for one block.
//
//	0x05 | piece u64 | offset u32 | length u32
type Request struct{ BlockRef }

const requestLen = 1 + blockRefLen

func (Request) Type() LiveType { return TypeRequest }
func (Request) Len() int       { return requestLen }

func (m Request) Append(b []byte) []byte { return m.append(append(b, byte(TypeRequest))) }

// ParseRequest parses a REQUEST message, type byte included.
func ParseRequest(p []byte) (Request, error) {
	c := liveCursor(p, TypeRequest)
	r := parseBlockRef(&c)
	if err := c.finish(); err != nil {
		return Request{}, err
	}
	return Request{r}, nil
}
