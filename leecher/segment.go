package leecher

import (
	"path"
	"strings"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// Segment is one complete, verified media segment handed to the outputs in playback order.
// The outputs keep references to Data and InitData: the caller must not modify them after
// Deliver (the engine's stored segment bytes never change).
type Segment struct {
	// Record is the segment's signed record (MediaSeq, DiscontinuitySeq, Flags, Duration,
	// ProgramDateTime, URI, InitPiece, FirstPiece, Rendition).
	Record protocol.Record
	Data   []byte
	// Init is the initialisation segment (fMP4 EXT-X-MAP) the segment uses. It may be nil
	// when it is the same as the previous segment's init (Record.InitPiece names it), and
	// is always nil for MPEG-TS.
	Init     *protocol.Record
	InitData []byte
	// Skipped counts segments lost just before this one (a gap); 0 normally. Skip is the
	// other way to report losses; both add up.
	Skipped int
}

// mediaKind is how a segment is named and typed towards players.
type mediaKind struct {
	ext         string // extension of the local segment URL, with the dot
	contentType string
}

var (
	kindTS   = mediaKind{".ts", "video/mp2t"}
	kindFMP4 = mediaKind{".m4s", "video/iso.segment"}
	// Packed audio segments (RFC 8216 §3.4) keep their own extension.
	kindsPackedAudio = map[string]mediaKind{
		".aac": {".aac", "audio/aac"},
		".mp3": {".mp3", "audio/mpeg"},
		".ac3": {".ac3", "audio/ac3"},
		".ec3": {".ec3", "audio/eac3"},
	}
)

const initContentType = "video/mp4"

// kindOf decides the container of a segment: fMP4 when it has an init segment, else the
// origin URI's extension names packed audio, else MPEG-TS.
func kindOf(rec *protocol.Record, hasInit bool) mediaKind {
	if hasInit {
		return kindFMP4
	}
	uri := rec.URI
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	if k, ok := kindsPackedAudio[strings.ToLower(path.Ext(uri))]; ok {
		return k
	}
	return kindTS
}

// initSegment is an fMP4 initialisation segment, identified by its record's first piece.
type initSegment struct {
	id   uint64
	data []byte
}

// entry is a segment in the window, with its place in the local playlist.
type entry struct {
	seq      uint64 // local media sequence number
	disc     uint64 // local discontinuity sequence number
	discTag  bool   // EXT-X-DISCONTINUITY precedes it
	lost     int    // segments lost just before it
	mediaSeq uint64 // the record's media sequence
	piece    uint64 // the record's first piece: unique, used as the ETag
	duration time.Duration
	pdt      time.Time
	end      bool // the stream's last segment
	kind     mediaKind
	init     *initSegment // nil unless fMP4
	data     []byte
}
