package peerconn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

func hello(id byte) Hello {
	h := Hello{InfoHash: prototest.Stream().InfoHash(),
		Ext: protocol.ExtHandshake{LiveID: 1, PexID: 2, Version: 1, Client: "test", Reqq: 64}}
	copy(h.PeerID[:], protocol.PeerIDPrefix)
	h.PeerID[19] = id
	return h
}

// pipe returns both ends of a real loopback TCP connection.
func pipe(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := ln.Accept(); ch <- res{c, err} }()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { a.Close(); r.c.Close() })
	return a, r.c
}

func handshakePair(t *testing.T) (net.Conn, Remote, net.Conn, Remote) {
	a, b := pipe(t)
	me, them := hello(1), hello(2)
	deadline := time.Now().Add(5 * time.Second)
	type res struct {
		r   Remote
		err error
	}
	ch := make(chan res, 1)
	go func() {
		_, r, err := Accept(b, func(ih protocol.InfoHash) (Hello, bool) { return them, ih == them.InfoHash }, deadline)
		ch <- res{r, err}
	}()
	ra, err := Initiate(a, me, deadline)
	if err != nil {
		t.Fatal(err)
	}
	rb := <-ch
	if rb.err != nil {
		t.Fatal(rb.err)
	}
	if ra.PeerID != them.PeerID || rb.r.PeerID != me.PeerID || ra.Ext.Client != "test" || rb.r.Ext.Reqq != 64 {
		t.Fatalf("remotes: %+v %+v", ra, rb)
	}
	return a, ra, b, rb.r
}

func TestMessagesFlow(t *testing.T) {
	a, ra, b, rb := handshakePair(t)
	got := make(chan Inbound, 16)
	done := make(chan error, 2)
	ca := Start(a, hello(1).Ext, ra, Config{}, func(Inbound) bool { return true }, func(err error) { done <- err })
	cb := Start(b, hello(2).Ext, rb, Config{}, func(in Inbound) bool { got <- in; return true }, func(err error) { done <- err })
	block := bytes.Repeat([]byte{9}, protocol.BlockSize)
	must(t, ca.SendControl(pp.Unchoke))
	must(t, ca.Send(protocol.Have{First: 10, Count: 2}))
	must(t, ca.Send(protocol.Data{Piece: 10, Offset: 0, Block: block}))
	want := []Inbound{{Control: pp.Unchoke}, {Live: protocol.Have{First: 10, Count: 2}}}
	for _, w := range want {
		in := recv(t, got)
		if in.Control != w.Control || in.Live != w.Live {
			t.Fatalf("got %+v, want %+v", in, w)
		}
	}
	in := recv(t, got)
	d, ok := in.Live.(protocol.Data)
	if !ok || d.Piece != 10 || !bytes.Equal(d.Block, block) || in.WireBytes != 4+2+protocol.DataHeaderLen+len(block) {
		t.Fatalf("data: %+v", in)
	}
	ca.Close(nil)
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connections did not finish")
		}
	}
	if _, err := cb.Counters(); err == 0 {
		t.Fatal("no bytes counted")
	}
	if err := ca.Send(protocol.Have{First: 1, Count: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func recv(t *testing.T, ch chan Inbound) Inbound {
	t.Helper()
	select {
	case in := <-ch:
		return in
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
	return Inbound{}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// acceptResult runs Accept on b and returns its error and whether any byte reached a.
func refusal(t *testing.T, b net.Conn) chan error {
	ch := make(chan error, 1)
	go func() {
		me := hello(2)
		_, _, err := Accept(b, func(ih protocol.InfoHash) (Hello, bool) { return me, ih == me.InfoHash }, time.Now().Add(5*time.Second))
		b.Close()
		ch <- err
	}()
	return ch
}

func TestPlainBitTorrentClientRefused(t *testing.T) {
	a, b := pipe(t)
	errc := refusal(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ih := metainfo.Hash(prototest.Stream().InfoHash())
	var id [20]byte
	copy(id[:], "-XX0001-plainclient!")
	// anacrolix's handshake, as a plain client without the BEP 10 bit.
	_, err := pp.Handshake(ctx, a, &ih, id, pp.NewPeerExtensionBytes(pp.ExtensionBitFast))
	if err == nil {
		t.Fatal("plain client completed a handshake")
	}
	if err := <-errc; !errors.Is(err, ErrNotLive) {
		t.Fatalf("acceptor: %v", err)
	}
	a.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _ := io.Copy(io.Discard, a); n != 0 {
		t.Fatalf("the refused client received %d bytes", n)
	}
}

func TestExtensionWithoutLiveRefused(t *testing.T) {
	a, b := pipe(t)
	errc := refusal(t, b)
	var id [20]byte
	copy(id[:], "-XX0001-otherclient!")
	a.Write(protocol.NewHandshake(prototest.Stream().InfoHash(), id, false).Append(nil))
	body := []byte("d1:md11:ut_metadatai3eee")
	a.Write(append(protocol.AppendExtendedHeader(nil, 0, len(body)), body...))
	if err := <-errc; !errors.Is(err, ErrNotLive) {
		t.Fatalf("acceptor: %v", err)
	}
}

// TestKeepAliveBeforeExtHandshake: keep-alives may precede the extended handshake (spec
// 4.7, EXT_AWAITED); they are skipped, not taken for a first message of the wrong kind.
func TestKeepAliveBeforeExtHandshake(t *testing.T) {
	a, b := pipe(t)
	me := hello(1)
	a.Write(protocol.NewHandshake(me.InfoHash, me.PeerID, false).Append(nil))
	a.Write(make([]byte, 3*4)) // three keep-alives
	a.Write(protocol.AppendExtHandshakeFrame(nil, me.Ext))
	_, r, err := Accept(b, func(protocol.InfoHash) (Hello, bool) { return hello(2), true }, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatalf("accept after keep-alives: %v", err)
	}
	if r.PeerID != me.PeerID || r.Ext.Client != "test" {
		t.Fatalf("remote %+v", r)
	}
}

func TestUnknownSwarmRefusedSilently(t *testing.T) {
	a, b := pipe(t)
	errc := refusal(t, b)
	a.Write(protocol.NewHandshake(protocol.InfoHash{1, 2, 3}, [20]byte{7}, false).Append(nil))
	if err := <-errc; !errors.Is(err, ErrUnknownSwarm) {
		t.Fatalf("acceptor: %v", err)
	}
	a.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, _ := io.Copy(io.Discard, a); n != 0 {
		t.Fatalf("got %d bytes for an unknown swarm", n)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	_, b := pipe(t)
	start := time.Now()
	_, _, err := Accept(b, func(protocol.InfoHash) (Hello, bool) { return hello(2), true }, time.Now().Add(200*time.Millisecond))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("silent initiator: %v after %v", err, time.Since(start))
	}
}

// A peer whose stream breaks the rules is closed with an error saying why.
func TestHostileFramesClose(t *testing.T) {
	for name, tc := range map[string]struct {
		frame []byte
		want  error
	}{
		"4 GiB length":    {[]byte{0xff, 0xff, 0xff, 0xff}, protocol.ErrTooLarge},
		"bitfield":        {[]byte{0, 0, 0, 2, 5, 0xff}, protocol.ErrInvalid},
		"bad live have":   {protocol.AppendLive(nil, 1, protocol.Have{First: 1, Count: 0}), protocol.ErrInvalid},
		"choke with body": {[]byte{0, 0, 0, 2, 0, 0}, protocol.ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			a, ra, b, rb := handshakePair(t)
			_ = ra
			done := make(chan error, 1)
			Start(b, hello(2).Ext, rb, Config{}, func(Inbound) bool { return true }, func(err error) { done <- err })
			a.Write(tc.frame)
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Fatalf("closed with %v, want %v", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("not closed")
			}
		})
	}
}

func TestUnknownLiveTypeIgnored(t *testing.T) {
	a, _, b, rb := handshakePair(t)
	got := make(chan Inbound, 4)
	Start(b, hello(2).Ext, rb, Config{}, func(in Inbound) bool { got <- in; return true }, func(error) {})
	a.Write(append(protocol.AppendExtendedHeader(nil, 1, 3), 0x7f, 1, 2)) // a future message type
	a.Write(append(protocol.AppendExtendedHeader(nil, 9, 1), 0))          // an extension we did not offer
	a.Write([]byte{0, 0, 0, 1, 99})                                       // an unknown BEP 3 type
	a.Write(protocol.AppendLive(nil, 1, protocol.Have{First: 5, Count: 1}))
	if in := recv(t, got); in.Live != (protocol.Have{First: 5, Count: 1}) {
		t.Fatalf("got %+v", in)
	}
}

func TestIdleTimeoutClosesSilentPeer(t *testing.T) {
	_, _, b, rb := handshakePair(t)
	done := make(chan error, 1)
	Start(b, hello(2).Ext, rb, Config{IdleTimeout: 200 * time.Millisecond, KeepAlive: time.Hour},
		func(Inbound) bool { return true }, func(err error) { done <- err })
	select {
	case err := <-done:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("closed with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a silent peer was not closed")
	}
}

// A peer that reads nothing fills its bounded queue; Send reports it instead of blocking.
func TestQueueBoundedWhenPeerReadsNothing(t *testing.T) {
	_, _, b, rb := handshakePair(t)
	c := Start(b, hello(2).Ext, rb, Config{QueueBytes: 1 << 20, WriteTimeout: time.Hour},
		func(Inbound) bool { return true }, func(error) {})
	block := make([]byte, protocol.BlockSize)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = c.Send(protocol.Data{Piece: uint64(i), Block: block})
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("after filling: %v", err)
	}
	if q := c.QueuedBytes(); q > 1<<20 {
		t.Fatalf("queued %d bytes, bound 1 MiB", q)
	}
	c.Close(nil)
}

func TestUploadLimit(t *testing.T) {
	a, ra, b, rb := handshakePair(t)
	const rateBps = 2 << 20
	lim := NewLimiter(rateBps)
	lim.AllowN(time.Now(), lim.Burst()) // start with an empty bucket
	ca := Start(a, hello(1).Ext, ra, Config{Upload: lim}, func(Inbound) bool { return true }, func(error) {})
	got := make(chan Inbound, 256)
	Start(b, hello(2).Ext, rb, Config{}, func(in Inbound) bool { got <- in; return true }, func(error) {})
	const n = 64 // 1 MiB of blocks
	start := time.Now()
	for i := range n {
		must(t, ca.Send(protocol.Data{Piece: uint64(i), Block: make([]byte, protocol.BlockSize)}))
	}
	for range n {
		recv(t, got)
	}
	// A lower bound only: the limiter cannot let 1 MiB through at 2 MiB/s in under ~0.5 s.
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Fatalf("1 MiB passed a 2 MiB/s limit in %v", el)
	}
}
