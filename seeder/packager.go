package seeder

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// Segment is one fetched media segment, ready to be packaged.
type Segment struct {
	MediaSeq         uint64
	DiscontinuitySeq uint32
	Discontinuity    bool // EXT-X-DISCONTINUITY precedes it
	End              bool // the last segment: EXT-X-ENDLIST follows
	Duration         time.Duration
	ProgramDateTime  time.Time // zero if unknown
	URI              string    // as written in the media playlist; "" if not on the origin
	OriginOffset     uint64    // EXT-X-BYTERANGE offset
	Data             []byte
	Init             *InitSection // the EXT-X-MAP in effect (fMP4); nil for MPEG-TS
}

// InitSection is an fMP4 init segment (EXT-X-MAP).
type InitSection struct {
	URI    string // as written in the media playlist
	Offset uint64 // BYTERANGE offset
	Data   []byte
}

// Packaged is a signed record with its canonical encoding and the segment bytes.
type Packaged struct {
	Record protocol.Record
	Raw    []byte
	Data   []byte
}

// Packager signs records for one rendition of a stream and allocates their pieces.
// It is not safe for concurrent use.
type Packager struct {
	priv      ed25519.PrivateKey
	desc      *protocol.Descriptor
	rendition uint8
	refresh   time.Duration
	next      uint64 // lowest piece number not yet allocated
	init      *publishedInit

	// Piece numbering across restarts (SetReservation): resume is where a previous run's
	// numbers ended, at most; save persists a new bound before numbers below it are used.
	resume   uint64
	reserved uint64
	save     func(upTo uint64) error
}

// publishedInit is the init segment media records currently refer to.
type publishedInit struct {
	uri    string
	offset uint64
	sum    [sha256.Size]byte
	first  uint64
	at     time.Time
}

// NewPackager returns a packager for the rendition of desc (which priv signed). An
// unchanged init segment is packaged again under new pieces once it is initRefresh old.
func NewPackager(priv ed25519.PrivateKey, desc *protocol.Descriptor, rendition uint8, initRefresh time.Duration) (*Packager, error) {
	if _, ok := desc.Rendition(rendition); !ok {
		return nil, fmt.Errorf("seeder: rendition %d not in the descriptor", rendition)
	}
	if initRefresh <= 0 {
		initRefresh = desc.WindowDuration / 2
	}
	return &Packager{priv: priv, desc: desc, rendition: rendition, refresh: initRefresh}, nil
}

// SetReservation makes the packager keep its numbering across restarts (spec 15.4): the
// first allocation starts at resume (when not 0), the bound a previous run saved, and save is
// called with a new bound, ahead of the numbers in use, before any number at or above the
// last bound is allocated. A failed save fails the allocation.
func (p *Packager) SetReservation(resume uint64, save func(upTo uint64) error) {
	p.resume, p.save = resume, save
}

// allocate reserves n consecutive pieces.
//
// Piece numbers must never be reused for the lifetime of a stream. With a saved
// reservation (SetReservation) a restart resumes where the previous run's reservation
// ended: no reuse, and a jump small enough that viewers still holding the previous run's
// records accept the new ones. Without one, a restarted seeder remembers nothing of the
// previous run. So the first allocation of a run starts at
// max(last+1, now in Unix milliseconds), with last unknown (0) after a restart, and later
// ones follow on directly. The clock is the memory: a previous run with the same key
// allocated consecutively from its own start time, so it could only have reached numbers
// above the restart time by allocating more than one piece per millisecond on average —
// 1000 pieces/s, 262 Mbit/s at 32 KiB pieces, far above a live rendition. Short bursts
// (the backlog at start) run ahead of the clock by well under a second, which a restart
// cannot beat. Between runs the numbers jump forward (gaps are allowed); within a run they
// stay dense, so a window holds about as many piece numbers as pieces. 2^63 ms is 292
// million years away.
func (p *Packager) allocate(n int, now time.Time) (uint64, error) {
	first := p.next
	switch {
	case first > 0:
	case p.resume > 0:
		first = p.resume
	default:
		first = uint64(max(now.UnixMilli(), 1))
	}
	if first >= protocol.PieceLimit || protocol.PieceLimit-first < uint64(n) {
		return 0, errors.New("seeder: piece space exhausted")
	}
	end := first + uint64(n)
	if p.save != nil && end > p.reserved {
		upTo := min(end+pieceReserveAhead, protocol.PieceLimit)
		if err := p.save(upTo); err != nil {
			return 0, fmt.Errorf("seeder: saving the piece reservation: %w", err)
		}
		p.reserved = upTo
	}
	p.next = end
	return first, nil
}

// Package signs the records for one segment: the init segment's record first when the
// init segment changed (or is due for a refresh), then the media record. Published is now.
func (p *Packager) Package(seg Segment, now time.Time) ([]Packaged, error) {
	if len(seg.Data) == 0 {
		return nil, fmt.Errorf("seeder: segment %d is empty", seg.MediaSeq)
	}
	if seg.Duration <= 0 || seg.Duration > protocol.MaxSegmentDuration {
		return nil, fmt.Errorf("seeder: segment %d duration %v not in (0, %v]", seg.MediaSeq, seg.Duration, protocol.MaxSegmentDuration)
	}
	now = msTime(now)
	var out []Packaged
	initPiece := protocol.NoPiece
	if seg.Init != nil {
		if len(seg.Init.Data) == 0 {
			return nil, fmt.Errorf("seeder: init segment %q is empty", seg.Init.URI)
		}
		sum := sha256.Sum256(seg.Init.Data)
		cur := p.init
		if cur == nil || cur.uri != seg.Init.URI || cur.offset != seg.Init.Offset || cur.sum != sum || now.Sub(cur.at) >= p.refresh {
			rec := protocol.Record{
				Flags:            protocol.FlagInit,
				MediaSeq:         seg.MediaSeq,
				DiscontinuitySeq: seg.DiscontinuitySeq,
				InitPiece:        protocol.NoPiece,
				URI:              recordURI(seg.Init.URI),
				OriginOffset:     seg.Init.Offset,
			}
			pk, err := p.sign(rec, seg.Init.Data, now)
			if err != nil {
				return nil, fmt.Errorf("seeder: init segment for %d: %w", seg.MediaSeq, err)
			}
			out = append(out, pk)
			p.init = &publishedInit{uri: seg.Init.URI, offset: seg.Init.Offset, sum: sum, first: pk.Record.FirstPiece, at: now}
		}
		initPiece = p.init.first
	}
	var flags uint8
	if seg.Discontinuity {
		flags |= protocol.FlagDiscontinuity
	}
	if seg.End {
		flags |= protocol.FlagEnd
	}
	rec := protocol.Record{
		Flags:            flags,
		MediaSeq:         seg.MediaSeq,
		DiscontinuitySeq: seg.DiscontinuitySeq,
		Duration:         seg.Duration.Truncate(time.Microsecond),
		ProgramDateTime:  pdtOrZero(seg.ProgramDateTime),
		InitPiece:        initPiece,
		URI:              recordURI(seg.URI),
		OriginOffset:     seg.OriginOffset,
	}
	pk, err := p.sign(rec, seg.Data, now)
	if err != nil {
		return nil, fmt.Errorf("seeder: segment %d: %w", seg.MediaSeq, err)
	}
	return append(out, pk), nil
}

func (p *Packager) sign(rec protocol.Record, data []byte, now time.Time) (Packaged, error) {
	ps := p.desc.PieceSize
	n := (len(data) + int(ps) - 1) / int(ps)
	if n > protocol.MaxPiecesPerRecord {
		return Packaged{}, fmt.Errorf("%d bytes need %d pieces, at most %d per record", len(data), n, protocol.MaxPiecesPerRecord)
	}
	first, err := p.allocate(n, now)
	if err != nil {
		return Packaged{}, err
	}
	rec.InfoHash = p.desc.Stream.InfoHash()
	rec.Rendition = p.rendition
	rec.Published = now
	rec.FirstPiece = first
	rec.Length = uint64(len(data))
	rec.Hashes = protocol.HashPieces(data, ps)
	if err := rec.Sign(p.desc, p.priv); err != nil {
		return Packaged{}, err
	}
	return Packaged{Record: rec, Raw: rec.Append(nil), Data: data}, nil
}

// recordURI keeps a playlist URI if a record can carry it; otherwise the segment is
// simply not fetchable from the origin by viewers.
func recordURI(s string) string {
	if len(s) > protocol.MaxRecordURI || !printable(s) {
		return ""
	}
	return s
}

// msTime truncates to the millisecond precision of the signed structures.
func msTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func pdtOrZero(t time.Time) time.Time {
	if t.IsZero() || t.UnixMilli() <= 0 || t.UnixMilli() > 1<<62 {
		return time.Time{}
	}
	return msTime(t)
}

// DescriptorParams are the stream properties a descriptor carries.
type DescriptorParams struct {
	Salt           []byte
	Name           string
	Origin         string // origin media playlist URL, "" for none
	PieceSize      uint32
	TargetDuration time.Duration
	WindowDuration time.Duration
	Rendition      protocol.Rendition
}

// SignDescriptor builds and signs a descriptor. Its sequence number is max(prevSeq+1,
// now in Unix ms): receivers keep the highest sequence, so a restarted seeder must
// never issue a lower one (the same argument as for piece numbers).
func SignDescriptor(priv ed25519.PrivateKey, p DescriptorParams, prevSeq uint64, now time.Time) (*protocol.Descriptor, []byte, error) {
	now = msTime(now)
	seq := prevSeq + 1
	if ms := uint64(max(now.UnixMilli(), 0)); ms > seq {
		seq = ms
	}
	d := &protocol.Descriptor{
		Stream:         protocol.StreamOf(priv, p.Salt),
		Seq:            seq,
		Created:        now,
		PieceSize:      p.PieceSize,
		TargetDuration: p.TargetDuration.Truncate(time.Millisecond),
		WindowDuration: p.WindowDuration.Truncate(time.Millisecond),
		Name:           p.Name,
		Origin:         p.Origin,
		Renditions:     []protocol.Rendition{p.Rendition},
	}
	if err := d.Sign(priv); err != nil {
		return nil, nil, err
	}
	return d, d.Append(nil), nil
}
