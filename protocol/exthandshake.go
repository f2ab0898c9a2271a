package protocol

import (
	"net/netip"

	"github.com/anacrolix/torrent/bencode"
)

// Extended-handshake constants.
const (
	// ExtensionName is the BEP 10 extension name under which live messages travel.
	ExtensionName = "lt_live"
	// PexExtensionName is BEP 11 peer exchange.
	PexExtensionName = "ut_pex"
	// Version is the live protocol version this package speaks.
	Version = 1
	// MaxExtHandshakeLen bounds the bencoded extended handshake.
	MaxExtHandshakeLen = 8192
	// MaxClientName bounds the "v" key.
	MaxClientName = 64
	// MaxReqq bounds the "reqq" key.
	MaxReqq = 4096
)

// ExtHandshake is the BEP 10 extended handshake (extended message id 0) with the live keys.
// The bencoded dictionary is the payload after the extended message id.
type ExtHandshake struct {
	LiveID        uint8  // m.lt_live: id the sender receives live messages on (1..255)
	PexID         uint8  // m.ut_pex: 0 if the sender does not do peer exchange
	Client        string // v
	Port          uint16 // p: listen port, 0 if none
	Reqq          uint32 // reqq: max outstanding requests the sender queues, 0 if unstated
	YourIP        netip.Addr
	Version       int    // lt_v: highest live version the sender speaks (absent means 1)
	Window        Window // lt_win, meaningful if HasWindow
	HasWindow     bool
	UploadHint    uint64 // lt_up: bytes per second, 0 = unknown
	DescriptorSeq uint64 // lt_dseq: 0 = the sender holds no descriptor
}

type extHandshakeWire struct {
	M      map[string]any `bencode:"m"`
	V      string         `bencode:"v,omitempty"`
	P      int64          `bencode:"p,omitempty"`
	Reqq   int64          `bencode:"reqq,omitempty"`
	YourIP []byte         `bencode:"yourip,omitempty"`
	LtV    int64          `bencode:"lt_v,omitempty"`
	LtWin  []byte         `bencode:"lt_win,omitempty"`
	LtUp   int64          `bencode:"lt_up,omitempty"`
	LtDseq int64          `bencode:"lt_dseq,omitempty"`
}

func (h ExtHandshake) wire() extHandshakeWire {
	w := extHandshakeWire{
		M:      map[string]any{ExtensionName: int64(h.LiveID)},
		V:      h.Client,
		P:      int64(h.Port),
		Reqq:   int64(h.Reqq),
		LtV:    int64(h.Version),
		LtUp:   int64(h.UploadHint),
		LtDseq: int64(h.DescriptorSeq),
	}
	if h.PexID != 0 {
		w.M[PexExtensionName] = int64(h.PexID)
	}
	if h.YourIP.IsValid() {
		w.YourIP = h.YourIP.AsSlice()
	}
	if h.HasWindow {
		w.LtWin = appendU64(appendU64(nil, h.Window.First), h.Window.End)
	}
	return w
}

// Append appends the bencoded dictionary. Keys come out sorted, so the encoding is stable.
func (h ExtHandshake) Append(b []byte) []byte {
	enc, err := bencode.Marshal(h.wire())
	if err != nil {
		// Every field is an int, string or map of ints: marshalling cannot fail.
		panic(err)
	}
	return append(b, enc...)
}

func (h ExtHandshake) Len() int { return len(h.Append(nil)) }

// ParseExtHandshake decodes and validates an extended handshake. Unknown keys are ignored;
// a known key of the wrong type or out of range is an error. A dictionary without
// m.lt_live is ErrUnknownType: the other side is not a live peer.
func ParseExtHandshake(b []byte) (ExtHandshake, error) {
	var h ExtHandshake
	if len(b) > MaxExtHandshakeLen {
		return h, fieldErr("ext handshake", ErrTooLarge, "%d bytes, at most %d", len(b), MaxExtHandshakeLen)
	}
	var w extHandshakeWire
	if err := bencode.Unmarshal(b, &w); err != nil {
		return h, fieldErr("ext handshake", ErrInvalid, "%v", err)
	}
	id, ok := w.M[ExtensionName]
	if !ok {
		return h, fieldErr("ext handshake.m", ErrUnknownType, "no %q: not a live peer", ExtensionName)
	}
	n, ok := id.(int64)
	if !ok || n < 1 || n > 255 {
		return h, fieldErr("ext handshake.m."+ExtensionName, ErrInvalid, "want integer 1..255, got %v", id)
	}
	h.LiveID = uint8(n)
	if id, ok := w.M[PexExtensionName]; ok {
		n, ok := id.(int64)
		if !ok || n < 0 || n > 255 {
			return h, fieldErr("ext handshake.m."+PexExtensionName, ErrInvalid, "want integer 0..255, got %v", id)
		}
		h.PexID = uint8(n)
		if h.PexID == h.LiveID {
			return h, fieldErr("ext handshake.m", ErrInvalid, "%s and %s share id %d", ExtensionName, PexExtensionName, n)
		}
	}
	if len(w.V) > MaxClientName {
		return h, fieldErr("ext handshake.v", ErrTooLarge, "%d bytes, at most %d", len(w.V), MaxClientName)
	}
	h.Client = w.V
	if w.P < 0 || w.P > 65535 {
		return h, fieldErr("ext handshake.p", ErrInvalid, "port %d", w.P)
	}
	h.Port = uint16(w.P)
	if w.Reqq < 0 || w.Reqq > MaxReqq {
		return h, fieldErr("ext handshake.reqq", ErrInvalid, "%d, want 1..%d", w.Reqq, MaxReqq)
	}
	h.Reqq = uint32(w.Reqq)
	if len(w.YourIP) != 0 {
		ip, ok := netip.AddrFromSlice(w.YourIP)
		if !ok {
			return h, fieldErr("ext handshake.yourip", ErrInvalid, "%d bytes, want 4 or 16", len(w.YourIP))
		}
		h.YourIP = ip
	}
	switch {
	case w.LtV == 0:
		h.Version = 1
	case w.LtV < 0:
		return h, fieldErr("ext handshake.lt_v", ErrInvalid, "version %d", w.LtV)
	default:
		h.Version = int(min(w.LtV, 1<<30))
	}
	if len(w.LtWin) != 0 {
		c := cursor{b: w.LtWin, where: "ext handshake.lt_win"}
		h.Window = Window{First: c.u64("first"), End: c.u64("end")}
		if err := c.finish(); err != nil {
			return h, err
		}
		if err := h.Window.validate("ext handshake.lt_win"); err != nil {
			return h, err
		}
		h.HasWindow = true
	}
	if w.LtUp < 0 {
		return h, fieldErr("ext handshake.lt_up", ErrInvalid, "%d", w.LtUp)
	}
	h.UploadHint = uint64(w.LtUp)
	if w.LtDseq < 0 {
		return h, fieldErr("ext handshake.lt_dseq", ErrInvalid, "%d", w.LtDseq)
	}
	h.DescriptorSeq = uint64(w.LtDseq)
	return h, nil
}

// NegotiateVersion returns the live version two peers use, or an error if they share none.
func NegotiateVersion(local, remote int) (int, error) {
	v := min(local, remote)
	if v < 1 {
		return 0, fieldErr("ext handshake.lt_v", ErrInvalid, "no common version (local %d, remote %d)", local, remote)
	}
	return v, nil
}
