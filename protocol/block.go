package protocol

// BlockRef names one block: a piece, a byte offset (a multiple of BlockSize) and a length
// (1..BlockSize). Whether the length is exactly right for the piece depends on the piece's
// record; see Record.BlockLen.
type BlockRef struct {
	Piece  uint64
	Offset uint32
	Length uint32
}

const blockRefLen = 16

func (r BlockRef) append(b []byte) []byte {
	return appendU32(appendU32(appendU64(b, r.Piece), r.Offset), r.Length)
}

func parseBlockRef(c *cursor) BlockRef {
	r := BlockRef{Piece: c.u64("piece"), Offset: c.u32("offset"), Length: c.u32("length")}
	checkPiece(c, "piece", r.Piece)
	checkOffset(c, r.Offset)
	if c.err == nil && (r.Length == 0 || r.Length > BlockSize) {
		c.fail("length", ErrInvalid, "%d, want 1..%d", r.Length, BlockSize)
	}
	return r
}

func checkOffset(c *cursor, off uint32) {
	if c.err == nil && off%BlockSize != 0 {
		c.fail("offset", ErrInvalid, "%d not a multiple of %d", off, BlockSize)
	}
}
