// Package peerconn runs one LiveTorrent peer connection over a net.Conn: the BitTorrent and
// extended handshakes with deadlines, then a reader and a writer goroutine that own the
// socket. Frames are bounded, the write queue is bounded, and both directions can share
// token-bucket rate limits. The swarm engine sees only parsed messages.
package peerconn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// Hello is what one side says about itself during the handshakes.
type Hello struct {
	InfoHash protocol.InfoHash
	PeerID   [20]byte
	Ext      protocol.ExtHandshake
}

// Remote is what the other side said.
type Remote struct {
	PeerID [20]byte
	Ext    protocol.ExtHandshake
	DHT    bool // the DHT reserved bit was set
}

// ErrNotLive means the other side is not a LiveTorrent peer (for example a plain BitTorrent
// client): the connection was closed without further messages.
var ErrNotLive = errors.New("peer does not speak the live extension")

// ErrUnknownSwarm means an incoming handshake named an info-hash we do not serve.
var ErrUnknownSwarm = errors.New("unknown info-hash")

// ErrSelf means we connected to ourselves.
var ErrSelf = errors.New("connected to self")

// Initiate performs the initiator's side: send our handshake, read theirs, exchange extended
// handshakes. The whole exchange must finish before deadline.
func Initiate(c net.Conn, me Hello, deadline time.Time) (Remote, error) {
	if err := c.SetDeadline(deadline); err != nil {
		return Remote{}, err
	}
	hs := protocol.NewHandshake(me.InfoHash, me.PeerID, false)
	if _, err := c.Write(hs.Append(nil)); err != nil {
		return Remote{}, fmt.Errorf("send handshake: %w", err)
	}
	theirs, err := readHandshake(c)
	if err != nil {
		return Remote{}, err
	}
	if theirs.InfoHash != me.InfoHash {
		return Remote{}, fmt.Errorf("%w: peer answered for %s", ErrUnknownSwarm, theirs.InfoHash)
	}
	return finish(c, me, theirs)
}

// Accept performs the acceptor's side. lookup maps the info-hash the initiator named to our
// Hello for that swarm; an unknown swarm or a peer without the BEP 10 bit is closed before
// we send a single byte, which is the clean refusal a plain BitTorrent client gets.
func Accept(c net.Conn, lookup func(protocol.InfoHash) (Hello, bool), deadline time.Time) (Hello, Remote, error) {
	if err := c.SetDeadline(deadline); err != nil {
		return Hello{}, Remote{}, err
	}
	theirs, err := readHandshake(c)
	if err != nil {
		return Hello{}, Remote{}, err
	}
	me, ok := lookup(theirs.InfoHash)
	if !ok {
		return Hello{}, Remote{}, fmt.Errorf("%w %s", ErrUnknownSwarm, theirs.InfoHash)
	}
	if !theirs.SupportsLive() {
		return Hello{}, Remote{}, fmt.Errorf("%w: no BEP 10 bit in the handshake", ErrNotLive)
	}
	hs := protocol.NewHandshake(me.InfoHash, me.PeerID, false)
	if _, err := c.Write(hs.Append(nil)); err != nil {
		return Hello{}, Remote{}, fmt.Errorf("send handshake: %w", err)
	}
	r, err := finish(c, me, theirs)
	return me, r, err
}

func readHandshake(c net.Conn) (protocol.Handshake, error) {
	var buf [protocol.HandshakeLen]byte
	// Read the fixed prefix first so a non-BitTorrent client is refused on its first bytes.
	if _, err := io.ReadFull(c, buf[:28]); err != nil {
		return protocol.Handshake{}, fmt.Errorf("read handshake: %w", err)
	}
	if _, err := protocol.ParseHandshakePrefix(buf[:28]); err != nil {
		return protocol.Handshake{}, err
	}
	if _, err := io.ReadFull(c, buf[28:]); err != nil {
		return protocol.Handshake{}, fmt.Errorf("read handshake: %w", err)
	}
	return protocol.ParseHandshake(buf[:])
}

// finish checks the remote handshake and exchanges extended handshakes. The remote's first
// message must be its extended handshake, and it must offer lt_live.
func finish(c net.Conn, me Hello, theirs protocol.Handshake) (Remote, error) {
	if theirs.PeerID == me.PeerID {
		return Remote{}, ErrSelf
	}
	if !theirs.SupportsLive() {
		return Remote{}, fmt.Errorf("%w: no BEP 10 bit in the handshake", ErrNotLive)
	}
	if _, err := c.Write(protocol.AppendExtHandshakeFrame(nil, me.Ext)); err != nil {
		return Remote{}, fmt.Errorf("send extended handshake: %w", err)
	}
	var prefix [4]byte
	var n int
	for {
		// Keep-alives may come first (spec 4.7); the handshake deadline bounds them.
		if _, err := io.ReadFull(c, prefix[:]); err != nil {
			return Remote{}, fmt.Errorf("read extended handshake: %w", err)
		}
		var err error
		if n, err = protocol.ParseFrameLen(prefix[:]); err != nil {
			return Remote{}, err
		}
		if n > 0 {
			break
		}
	}
	if n < 2 || n > 2+protocol.MaxExtHandshakeLen {
		return Remote{}, fmt.Errorf("%w: first message of %d bytes is not an extended handshake", ErrNotLive, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return Remote{}, fmt.Errorf("read extended handshake: %w", err)
	}
	if body[0] != 20 || body[1] != protocol.ExtHandshakeID {
		return Remote{}, fmt.Errorf("%w: first message has type %d", ErrNotLive, body[0])
	}
	ext, err := protocol.ParseExtHandshake(body[2:])
	if errors.Is(err, protocol.ErrUnknownType) {
		return Remote{}, fmt.Errorf("%w: %v", ErrNotLive, err)
	}
	if err != nil {
		return Remote{}, err
	}
	if _, err := protocol.NegotiateVersion(protocol.Version, ext.Version); err != nil {
		return Remote{}, err
	}
	return Remote{PeerID: theirs.PeerID, Ext: ext, DHT: theirs.Reserved.SupportsDHT()}, nil
}
