package livetorrent

import (
	"errors"
	"fmt"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// PeerHandle names one connection. The driver assigns it; it must not be reused while the
// core still knows the peer (until PeerDown or a Close action for it).
type PeerHandle uint64

// Control is one of the BEP 3 one-byte messages. The values are the BEP 3 message ids, so a
// driver converts with a plain cast.
type Control uint8

const (
	Choke         Control = 0
	Unchoke       Control = 1
	Interested    Control = 2
	NotInterested Control = 3
)

func (c Control) String() string {
	switch c {
	case Choke:
		return "choke"
	case Unchoke:
		return "unchoke"
	case Interested:
		return "interested"
	case NotInterested:
		return "not-interested"
	}
	return fmt.Sprintf("control(%d)", uint8(c))
}

// Event is an input to Swarm.Handle.
type Event interface{ isEvent() }

// PeerUp: both handshakes completed. Ext is the peer's extended handshake.
type PeerUp struct {
	Peer     PeerHandle
	Addr     string
	Outbound bool
	Ext      protocol.ExtHandshake
	// Seeder marks a peer the driver reached through the link's own addresses (normally the
	// seeder). It only splits the byte counters by source; the peer gets no trust from it.
	Seeder bool
}

// PeerDown: the connection ended. Err says why (nil for a clean close).
type PeerDown struct {
	Peer PeerHandle
	Err  error
}

// Received is a parsed live message from a peer. Byte slices in Msg may alias the driver's
// read buffer: the core copies what it keeps before Handle returns.
type Received struct {
	Peer PeerHandle
	Msg  protocol.Message
}

// ControlReceived is a choke, unchoke, interested or not-interested message from a peer.
type ControlReceived struct {
	Peer PeerHandle
	Kind Control
}

// Written reports DATA block bytes the driver has written to the peer's socket (or dropped),
// returning upload credit: the core hands at most Config.UploadInFlight unreported bytes
// to the driver per peer. Reports may be batched.
type Written struct {
	Peer  PeerHandle
	Bytes int
}

// Tick is the timer the core asked for with WakeAt. Extra ticks are harmless.
type Tick struct{}

// Publish gives the publisher a new signed segment and its bytes. Descriptor may be nil once
// the core holds one; it replaces the held one when its Seq is higher. Data is kept, not
// copied: the caller must not modify it afterwards. A Publish without a Record only updates
// the descriptor.
type Publish struct {
	Descriptor    *protocol.Descriptor
	DescriptorRaw []byte
	Record        *protocol.Record
	RecordRaw     []byte
	Data          []byte
}

// OriginData answers a FetchOrigin action: the piece's bytes, or Err if the fetch failed.
// Data is copied into the store: the caller may reuse it.
type OriginData struct {
	Piece uint64
	Data  []byte
	Err   error // wraps ErrOriginGone when the origin answered that it has no such segment
}

// ErrOriginGone is what an origin fetch's error wraps when the origin answered that the
// segment does not exist there (HTTP 404 or 410): a live origin has deleted it (it left the
// playlist), or a cache has not got it yet. The core then leaves the whole segment alone for a
// while, doubling the wait each time, instead of retrying each of its pieces.
var ErrOriginGone = errors.New("segment not at the origin")

// DescriptorPointer names the current descriptor from a source outside the swarm that the
// driver has verified: the stream's signed DHT item. Descriptors older than Seq are refused
// from then on, and one with Seq itself must hash (SHA-256) to Hash, so peers cannot hold a
// viewer on a stale descriptor.
type DescriptorPointer struct {
	Seq  uint64
	Hash [32]byte
}

func (PeerUp) isEvent()            {}
func (PeerDown) isEvent()          {}
func (Received) isEvent()          {}
func (ControlReceived) isEvent()   {}
func (Written) isEvent()           {}
func (Tick) isEvent()              {}
func (Publish) isEvent()           {}
func (OriginData) isEvent()        {}
func (DescriptorPointer) isEvent() {}

// ActionKind says which fields of an Action are meaningful.
type ActionKind uint8

const (
	// ActSend: send Msg to Peer. A DATA block aliases stored piece bytes, which never change.
	ActSend ActionKind = iota + 1
	// ActControl: send the one-byte message Control to Peer.
	ActControl
	// ActClose: close Peer's connection because of Err; if Ban, refuse its address for an
	// hour. The core has already forgotten the peer; a later PeerDown for it is ignored.
	ActClose
	// ActDeliver: Delivery holds the next segment of the playback sequence.
	ActDeliver
	// ActSkip: Delivery names a segment of the playback sequence that will never be
	// delivered (evicted before it completed, or its record never arrived).
	ActSkip
	// ActFetchOrigin: fetch Fetch's byte range from the origin and answer with OriginData.
	ActFetchOrigin
	// ActWakeAt: send a Tick at At. Replaces any earlier WakeAt.
	ActWakeAt
	// ActCancelOrigin: abandon the fetch of piece Fetch.Piece (only Piece is set); the
	// piece arrived otherwise. An OriginData for it that is already on its way is ignored.
	ActCancelOrigin
)

// Action is an output of Swarm.Handle. It is one struct rather than an interface so that
// the core reuses its action buffer without allocating per action.
type Action struct {
	Kind     ActionKind
	Peer     PeerHandle
	Msg      protocol.Message // ActSend
	Control  Control          // ActControl
	Err      error            // ActClose
	Ban      bool             // ActClose
	At       time.Time        // ActWakeAt
	Delivery *Delivery        // ActDeliver, ActSkip
	Fetch    *OriginFetch     // ActFetchOrigin, ActCancelOrigin
}

// Delivery is a segment handed to the player, or skipped. Record, Init, Data and InitData
// are the core's stored values: read-only.
type Delivery struct {
	MediaSeq uint64
	Record   *protocol.Record // nil when skipped because the record never arrived
	Data     []byte           // the verified segment bytes (nil when skipped)
	// Init is the initialisation segment (EXT-X-MAP) this segment uses, set when it differs
	// from the one delivered before, so the player is given each init segment once.
	Init     *protocol.Record
	InitData []byte
	Late     time.Duration // how far past its deadline it was delivered (a stall), 0 if in time
	Reason   string        // why it was skipped
	// Count is how many consecutive segments from MediaSeq a skip covers (1 unless the
	// media sequence jumped: a gap is skipped in one action, however long).
	Count uint64
}

// OriginFetch asks for one piece from the origin by HTTP range request.
type OriginFetch struct {
	Piece  uint64
	URL    string // segment URL resolved against the rendition playlist and the descriptor's origin
	Offset uint64 // first byte in the origin resource (record origin offset + piece offset)
	Length int
}

func (a Action) String() string {
	switch a.Kind {
	case ActSend:
		return fmt.Sprintf("send %d %s", a.Peer, formatMsg(a.Msg))
	case ActControl:
		return fmt.Sprintf("ctl %d %s", a.Peer, a.Control)
	case ActClose:
		return fmt.Sprintf("close %d ban=%v: %v", a.Peer, a.Ban, a.Err)
	case ActDeliver:
		d := a.Delivery
		s := fmt.Sprintf("deliver seq=%d bytes=%d", d.MediaSeq, len(d.Data))
		if d.Init != nil {
			s += fmt.Sprintf(" init=%d", d.Init.FirstPiece)
		}
		if d.Late > 0 {
			s += fmt.Sprintf(" late=%v", d.Late)
		}
		return s
	case ActSkip:
		return fmt.Sprintf("skip seq=%d: %s", a.Delivery.MediaSeq, a.Delivery.Reason)
	case ActFetchOrigin:
		f := a.Fetch
		return fmt.Sprintf("fetch piece=%d %s bytes=%d+%d", f.Piece, f.URL, f.Offset, f.Length)
	case ActCancelOrigin:
		return fmt.Sprintf("cancel fetch piece=%d", a.Fetch.Piece)
	case ActWakeAt:
		return fmt.Sprintf("wake %s", a.At.Format("15:04:05.000"))
	}
	return fmt.Sprintf("action(%d)", a.Kind)
}

func formatMsg(m protocol.Message) string {
	switch m := m.(type) {
	case protocol.Have:
		return fmt.Sprintf("HAVE %d+%d", m.First, m.Count)
	case protocol.Window:
		return fmt.Sprintf("WINDOW %d-%d", m.First, m.End)
	case protocol.Request:
		return fmt.Sprintf("REQUEST %d/%d/%d", m.Piece, m.Offset, m.Length)
	case protocol.Cancel:
		return fmt.Sprintf("CANCEL %d/%d/%d", m.Piece, m.Offset, m.Length)
	case protocol.Reject:
		return fmt.Sprintf("REJECT %d/%d/%d %s", m.Piece, m.Offset, m.Length, m.Reason)
	case protocol.Data:
		return fmt.Sprintf("DATA %d/%d len=%d", m.Piece, m.Offset, len(m.Block))
	case protocol.RecordMsg:
		if r, err := protocol.ParseRecord(m.Raw); err == nil {
			return fmt.Sprintf("RECORD seq=%d pieces=%d+%d", r.MediaSeq, r.FirstPiece, len(r.Hashes))
		}
		return "RECORD ?"
	case protocol.DescriptorMsg:
		if d, err := protocol.ParseDescriptor(m.Raw); err == nil {
			return fmt.Sprintf("DESCRIPTOR seq=%d", d.Seq)
		}
		return "DESCRIPTOR ?"
	case nil:
		return "<nil>"
	}
	return m.Type().String()
}
