package peerconn

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// remoteSays plays the other side of a handshake over an in-memory pipe: it sends b, then
// closes its write side, and reads whatever we send so our writes never block.
func remoteSays(b []byte) net.Conn {
	ours, theirs := net.Pipe()
	go func() {
		go io.Copy(io.Discard, theirs)
		theirs.Write(b)
		theirs.Close()
	}()
	return ours
}

// handshakeSeeds are a correct initiator's opening (handshake and extended handshake) and
// variations of it.
func handshakeSeeds(f *testing.F) {
	them := hello(2)
	good := protocol.NewHandshake(them.InfoHash, them.PeerID, false).Append(nil)
	good = protocol.AppendExtHandshakeFrame(good, them.Ext)
	f.Add(good)
	f.Add(good[:68])
	f.Add(append(good[:68:68], 0, 0, 0, 5, 20, 0, 'd', 'e', 'x'))
	f.Add(append(good[:68:68], 0xff, 0xff, 0xff, 0xff))
	plain := protocol.NewHandshake(them.InfoHash, them.PeerID, false).Append(nil)
	plain[25] = 0 // no BEP 10 bit: a plain BitTorrent client
	f.Add(plain)
	f.Add([]byte("\x13BitTorrent protocol"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
}

// FuzzAccept runs the acceptor's side of the handshakes against arbitrary bytes from the
// initiator: an error or a checked result, never a panic or a hang.
func FuzzAccept(f *testing.F) {
	handshakeSeeds(f)
	me := hello(1)
	f.Fuzz(func(t *testing.T, b []byte) {
		c := remoteSays(b)
		defer c.Close()
		_, r, err := Accept(c, func(ih protocol.InfoHash) (Hello, bool) { return me, ih == me.InfoHash },
			time.Now().Add(2*time.Second))
		checkRemote(t, me, r, err)
	})
}

// FuzzInitiate runs the initiator's side against arbitrary answers.
func FuzzInitiate(f *testing.F) {
	handshakeSeeds(f)
	me := hello(1)
	f.Fuzz(func(t *testing.T, b []byte) {
		c := remoteSays(b)
		defer c.Close()
		r, err := Initiate(c, me, time.Now().Add(2*time.Second))
		checkRemote(t, me, r, err)
	})
}

// checkRemote fails when a handshake succeeded with a remote that offers no lt_live or
// uses our own peer id.
func checkRemote(t *testing.T, me Hello, r Remote, err error) {
	if err == nil && (r.Ext.LiveID == 0 || r.PeerID == me.PeerID) {
		t.Fatalf("accepted a remote without lt_live or with our own id: %+v", r)
	}
}

// FuzzConnRead feeds arbitrary bytes to an established connection's reader: each frame is
// delivered parsed or ends the connection with an error; never a panic.
func FuzzConnRead(f *testing.F) {
	local := hello(1).Ext
	live := func(m protocol.Message) []byte { return protocol.AppendLive(nil, local.LiveID, m) }
	f.Add(live(protocol.Have{First: 100, Count: 3}))
	f.Add(append(live(protocol.Request{BlockRef: protocol.BlockRef{Piece: 7, Offset: 16384, Length: 16384}}), 0, 0, 0, 0))
	f.Add(append(protocol.AppendSimple(nil, 2), live(protocol.Cancel{BlockRef: protocol.BlockRef{Piece: 1, Length: 1}})...))
	f.Add([]byte{0, 0, 0, 3, 20, 2, 'x'})    // a ut_pex payload
	f.Add([]byte{0, 0, 0, 5, 4, 0, 0, 0, 1}) // BEP 3 HAVE: not used by live peers
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := remoteSays(b)
		done := make(chan error, 1)
		conn := Start(c, local, Remote{Ext: protocol.ExtHandshake{LiveID: 3, PexID: 2}}, Config{MaxFrame: 1 << 16},
			func(in Inbound) bool {
				if in.Live == nil && in.Pex == nil && in.Control > 3 {
					t.Errorf("delivered control message %d", in.Control)
				}
				if in.WireBytes < 5 || in.WireBytes > 4+(1<<16) {
					t.Errorf("frame of %d bytes delivered", in.WireBytes)
				}
				return true
			}, func(err error) { done <- err })
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			conn.Close(nil)
			t.Fatal("the connection did not end after its input did")
		}
	})
}
