package protocol

import (
	"encoding/binary"

	pp "github.com/anacrolix/torrent/peer_protocol"
)

// MaxFrameLen bounds the length prefix of every frame a peer accepts.
const MaxFrameLen = 1 << 18

// ExtHandshakeID is the extended message id of the BEP 10 handshake.
const ExtHandshakeID = 0

// Frame is one BEP 3 message: a 4-byte length prefix, a type byte and a payload. Payload
// aliases the input.
type Frame struct {
	KeepAlive bool
	Type      pp.MessageType
	Payload   []byte
}

// FrameAction says what a live peer does with a frame of a given type.
type FrameAction int

const (
	FrameUse    FrameAction = iota // choke, unchoke, interested, not interested, port, extended
	FrameIgnore                    // unknown types: skip for forward compatibility
	FrameClose                     // types that cannot be used on a live connection
)

// Classify says how a live peer treats a frame type. BEP 3 have/bitfield/request/piece/cancel
// and the BEP 6 messages carry 32-bit piece indices that cannot address the live piece
// space, so receiving one is a protocol error.
func Classify(t pp.MessageType) FrameAction {
	switch t {
	case pp.Choke, pp.Unchoke, pp.Interested, pp.NotInterested, pp.Port, pp.Extended:
		return FrameUse
	case pp.Have, pp.Bitfield, pp.Request, pp.Piece, pp.Cancel,
		pp.Suggest, pp.HaveAll, pp.HaveNone, pp.Reject, pp.AllowedFast:
		return FrameClose
	}
	return FrameIgnore
}

// ParseFrameLen validates a frame's 4-byte length prefix.
func ParseFrameLen(prefix []byte) (int, error) {
	if len(prefix) < 4 {
		return 0, fieldErr("frame.length", ErrTruncated, "need 4 bytes, have %d", len(prefix))
	}
	n := binary.BigEndian.Uint32(prefix)
	if n > MaxFrameLen {
		return 0, fieldErr("frame.length", ErrTooLarge, "%d bytes, at most %d", n, MaxFrameLen)
	}
	return int(n), nil
}

// ParseFrame parses the first frame in b and returns it with the number of bytes consumed.
// ErrTruncated means more input is needed. It also checks the payload length of the
// fixed-size messages used by the live protocol.
func ParseFrame(b []byte) (Frame, int, error) {
	var f Frame
	n, err := ParseFrameLen(b)
	if err != nil {
		return f, 0, err
	}
	if len(b)-4 < n {
		return f, 0, fieldErr("frame", ErrTruncated, "need %d bytes, have %d", n, len(b)-4)
	}
	if n == 0 {
		f.KeepAlive = true
		return f, 4, nil
	}
	f, err = ParseFrameBody(b[4 : 4+n : 4+n])
	if err != nil {
		return f, 0, err
	}
	return f, 4 + n, nil
}

// ParseFrameBody parses a non-empty frame without its length prefix, for readers that
// consume the prefix themselves. It checks the payload length of the fixed-size messages.
func ParseFrameBody(b []byte) (Frame, error) {
	var f Frame
	if len(b) == 0 {
		return f, fieldErr("frame", ErrTruncated, "no type byte")
	}
	f.Type = pp.MessageType(b[0])
	f.Payload = b[1:]
	switch f.Type {
	case pp.Choke, pp.Unchoke, pp.Interested, pp.NotInterested:
		if len(f.Payload) != 0 {
			return f, fieldErr("frame", ErrInvalid, "%v with %d payload bytes", f.Type, len(f.Payload))
		}
	case pp.Port:
		if len(f.Payload) != 2 {
			return f, fieldErr("frame", ErrInvalid, "port with %d payload bytes", len(f.Payload))
		}
	case pp.Extended:
		if len(f.Payload) < 1 {
			return f, fieldErr("frame", ErrTruncated, "extended message without id")
		}
	}
	return f, nil
}

// AppendKeepAlive appends the 4 zero bytes of a keep-alive.
func AppendKeepAlive(b []byte) []byte { return appendU32(b, 0) }

// AppendSimple appends a payload-less message (choke, unchoke, interested, not interested).
func AppendSimple(b []byte, t pp.MessageType) []byte {
	return append(appendU32(b, 1), byte(t))
}

// AppendPort appends a BEP 5 PORT message.
func AppendPort(b []byte, port uint16) []byte {
	return appendU16(append(appendU32(b, 3), byte(pp.Port)), port)
}

// AppendExtendedHeader appends the frame header of an extended message whose payload (after
// the extended id) is n bytes long.
func AppendExtendedHeader(b []byte, extID uint8, n int) []byte {
	return append(appendU32(b, uint32(2+n)), byte(pp.Extended), extID)
}

// AppendExtHandshakeFrame appends a whole extended-handshake frame.
func AppendExtHandshakeFrame(b []byte, h ExtHandshake) []byte {
	body := h.Append(nil)
	return append(AppendExtendedHeader(b, ExtHandshakeID, len(body)), body...)
}

// SplitExtended splits the payload of an extended frame into id and body.
func SplitExtended(payload []byte) (uint8, []byte, error) {
	if len(payload) < 1 {
		return 0, nil, fieldErr("extended", ErrTruncated, "no extended id")
	}
	return payload[0], payload[1:], nil
}
