package seeder

import "github.com/livetorrent/livetorrent/protocol"

// Publisher receives what the ingest produces, in order: the signed stream descriptor
// first (again whenever it changes), then one call per signed record. For an fMP4 stream
// the init segment's record (FlagInit) comes before the first media record that refers to
// it through InitPiece.
//
// raw is the canonical encoding (rec.Append(nil) or d.Append(nil)), what peers relay.
// data is the whole segment; piece FirstPiece+i is data[i*PieceSize : min((i+1)*PieceSize,
// len(data))]. The ingest never modifies raw or data after the call, so the publisher may
// keep them without copying.
//
// Calls come from the goroutine running Ingest.Run, one at a time. A slow publisher slows
// the ingest; it should hand the data to its own loop rather than do network I/O inline.
type Publisher interface {
	PublishDescriptor(d *protocol.Descriptor, raw []byte)
	PublishSegment(rec protocol.Record, raw []byte, data []byte)
}
