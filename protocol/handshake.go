package protocol

import (
	pp "github.com/anacrolix/torrent/peer_protocol"
)

// HandshakeLen is the length of a BitTorrent handshake.
const HandshakeLen = 68

// PeerIDPrefix is the recommended start of a LiveTorrent peer id (Azureus style).
const PeerIDPrefix = "-LT0100-"

// Handshake is the BEP 3 handshake:
//
//	0x13 "BitTorrent protocol" | reserved [8] | info-hash [20] | peer id [20]
//
// A live peer sets the BEP 10 extension bit; the DHT bit is optional.
type Handshake struct {
	Reserved pp.PeerExtensionBits
	InfoHash InfoHash
	PeerID   [20]byte
}

// NewHandshake returns a handshake with the BEP 10 bit set, and the DHT bit if dht is true.
func NewHandshake(ih InfoHash, peerID [20]byte, dht bool) Handshake {
	h := Handshake{InfoHash: ih, PeerID: peerID}
	h.Reserved.SetBit(pp.ExtensionBitLtep, true)
	h.Reserved.SetBit(pp.ExtensionBitDht, dht)
	return h
}

// SupportsLive reports whether the BEP 10 bit is set, without which no live extension can
// be negotiated.
func (h Handshake) SupportsLive() bool { return h.Reserved.SupportsExtended() }

func (h Handshake) Len() int { return HandshakeLen }

func (h Handshake) Append(b []byte) []byte {
	b = append(b, pp.Protocol...)
	b = append(b, h.Reserved[:]...)
	b = append(b, h.InfoHash[:]...)
	return append(b, h.PeerID[:]...)
}

// ParseHandshakePrefix checks the first 28 bytes (protocol string and reserved bits), which
// an acceptor can see before the rest arrives.
func ParseHandshakePrefix(b []byte) (pp.PeerExtensionBits, error) {
	var r pp.PeerExtensionBits
	c := cursor{b: b, where: "handshake"}
	if p := c.bytes(len(pp.Protocol), "protocol"); c.err == nil && string(p) != pp.Protocol {
		c.fail("protocol", ErrUnknownType, "not a BitTorrent handshake")
	}
	copy(r[:], c.bytes(8, "reserved"))
	return r, c.err
}

// ParseHandshake parses exactly one 68-byte handshake.
func ParseHandshake(b []byte) (Handshake, error) {
	var h Handshake
	r, err := ParseHandshakePrefix(b)
	if err != nil {
		return h, err
	}
	h.Reserved = r
	c := cursor{b: b, off: 28, where: "handshake"}
	copy(h.InfoHash[:], c.bytes(20, "info-hash"))
	copy(h.PeerID[:], c.bytes(20, "peer id"))
	return h, c.finish()
}
