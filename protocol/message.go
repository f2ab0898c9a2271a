package protocol

// LiveType is the first byte of a live message (the payload of an extended message sent on
// the peer's lt_live id).
type LiveType uint8

const (
	TypeDescriptor LiveType = 0x01
	TypeRecord     LiveType = 0x02
	TypeWindow     LiveType = 0x03
	TypeHave       LiveType = 0x04
	TypeRequest    LiveType = 0x05
	TypeCancel     LiveType = 0x06
	TypeReject     LiveType = 0x07
	TypeData       LiveType = 0x08
)

func (t LiveType) String() string {
	switch t {
	case TypeDescriptor:
		return "DESCRIPTOR"
	case TypeRecord:
		return "RECORD"
	case TypeWindow:
		return "WINDOW"
	case TypeHave:
		return "HAVE"
	case TypeRequest:
		return "REQUEST"
	case TypeCancel:
		return "CANCEL"
	case TypeReject:
		return "REJECT"
	case TypeData:
		return "DATA"
	}
	return "UNKNOWN"
}

// Protocol-wide limits on piece numbering.
const (
	// BlockSize is the unit of REQUEST and DATA.
	BlockSize = 16384
	// PieceLimit: every piece number is below 2^63, so signed 64-bit arithmetic never wraps.
	PieceLimit = uint64(1) << 63
	// NoPiece marks an absent piece reference.
	NoPiece = ^uint64(0)
	// MaxWindowPieces bounds a WINDOW's span and how far ahead of the known edge a record
	// may start.
	MaxWindowPieces = 1 << 20
	// MaxHaveCount bounds one HAVE range.
	MaxHaveCount = 1 << 16
)

// Message is a live message. Len and Append cover the live type byte and the body.
type Message interface {
	Type() LiveType
	Len() int
	Append(b []byte) []byte
}

// AppendLive appends a whole frame carrying m to a peer whose lt_live id is extID.
func AppendLive(b []byte, extID uint8, m Message) []byte {
	return m.Append(AppendExtendedHeader(b, extID, m.Len()))
}

// ParseMessage decodes one live message. An unknown type gives ErrUnknownType, which a
// receiver ignores; any other error is a protocol violation. The data path can avoid the
// interface allocation by switching on the type byte and calling ParseHave, ParseData etc.
func ParseMessage(p []byte) (Message, error) {
	if len(p) == 0 {
		return nil, fieldErr("live", ErrTruncated, "no type byte")
	}
	switch LiveType(p[0]) {
	case TypeDescriptor:
		return ParseDescriptorMsg(p)
	case TypeRecord:
		return ParseRecordMsg(p)
	case TypeWindow:
		return ParseWindow(p)
	case TypeHave:
		return ParseHave(p)
	case TypeRequest:
		return ParseRequest(p)
	case TypeCancel:
		return ParseCancel(p)
	case TypeReject:
		return ParseReject(p)
	case TypeData:
		return ParseData(p)
	}
	return nil, fieldErr("live", ErrUnknownType, "type 0x%02x", p[0])
}

// liveCursor starts a cursor after checking the type byte.
func liveCursor(p []byte, t LiveType) cursor {
	c := cursor{b: p, where: t.String()}
	if got := LiveType(c.u8("type")); c.err == nil && got != t {
		c.fail("type", ErrUnknownType, "got 0x%02x", byte(got))
	}
	return c
}

func checkPiece(c *cursor, field string, piece uint64) {
	if c.err == nil && piece >= PieceLimit {
		c.fail(field, ErrInvalid, "piece %d not below 2^63", piece)
	}
}
