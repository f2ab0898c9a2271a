package protocol

// RejectReason says why a request will not be served. Receivers treat unknown values as
// RejectUnspecified.
type RejectReason uint8

const (
	RejectUnspecified RejectReason = 0
	RejectNotHeld     RejectReason = 1
	RejectChoked      RejectReason = 2
	RejectQueueFull   RejectReason = 3
	RejectOutOfWindow RejectReason = 4
	RejectInvalid     RejectReason = 5
)

func (r RejectReason) String() string {
	switch r {
	case RejectNotHeld:
		return "not held"
	case RejectChoked:
		return "choked"
	case RejectQueueFull:
		return "queue full"
	case RejectOutOfWindow:
		return "outside window"
	case RejectInvalid:
		return "invalid block"
	}
	return "unspecified"
}

// Reject answers a Request that will not be served.
//
//	0x07 | piece u64 | offset u32 | length u32 | reason u8
type Reject struct {
	BlockRef
	Reason RejectReason
}

const rejectLen = 1 + blockRefLen + 1

func (Reject) Type() LiveType { return TypeReject }
func (Reject) Len() int       { return rejectLen }

func (m Reject) Append(b []byte) []byte {
	return append(m.append(append(b, byte(TypeReject))), byte(m.Reason))
}

// ParseReject parses a REJECT message, type byte included.
func ParseReject(p []byte) (Reject, error) {
	c := liveCursor(p, TypeReject)
	r := parseBlockRef(&c)
	reason := RejectReason(c.u8("reason"))
	if err := c.finish(); err != nil {
		return Reject{}, err
	}
	return Reject{BlockRef: r, Reason: reason}, nil
}
