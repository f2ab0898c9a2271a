package protocol

// Data carries one requested block. Block aliases the parsed input.
//
//	0x08 | piece u64 | offset u32 | block bytes (1..BlockSize)
type Data struct {
	Piece  uint64
	Offset uint32
	Block  []byte
}

// DataHeaderLen is the live header before the block bytes.
const DataHeaderLen = 1 + 12

func (Data) Type() LiveType { return TypeData }
func (m Data) Len() int     { return DataHeaderLen + len(m.Block) }

func (m Data) Append(b []byte) []byte {
	return append(appendDataHeader(b, m.Piece, m.Offset), m.Block...)
}

// Ref returns the block this message answers.
func (m Data) Ref() BlockRef {
	return BlockRef{Piece: m.Piece, Offset: m.Offset, Length: uint32(len(m.Block))}
}

func appendDataHeader(b []byte, piece uint64, offset uint32) []byte {
	return appendU32(appendU64(append(b, byte(TypeData)), piece), offset)
}

// AppendDataFrameHeader appends everything of a DATA frame up to the block bytes, so a
// sender can write the block from its store without copying it into the frame.
func AppendDataFrameHeader(b []byte, extID uint8, piece uint64, offset uint32, n int) []byte {
	return appendDataHeader(AppendExtendedHeader(b, extID, DataHeaderLen+n), piece, offset)
}

// ParseData parses a DATA message, type byte included.
func ParseData(p []byte) (Data, error) {
	c := liveCursor(p, TypeData)
	m := Data{Piece: c.u64("piece"), Offset: c.u32("offset")}
	checkPiece(&c, "piece", m.Piece)
	checkOffset(&c, m.Offset)
	if c.err != nil {
		return Data{}, c.err
	}
	m.Block = c.rest()
	if len(m.Block) == 0 || len(m.Block) > BlockSize {
		return Data{}, fieldErr("DATA.block", ErrInvalid, "%d bytes, want 1..%d", len(m.Block), BlockSize)
	}
	return m, nil
}
