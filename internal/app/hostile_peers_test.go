package app

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// rawPeer is a hostile peer speaking the wire format by hand after a correct handshake.
type rawPeer struct {
	nc     net.Conn
	liveID uint8
	read   chan int64 // bytes read until the victim closed the connection
}

// rawHello is the handshake of a hostile peer with the given peer id suffix.
func rawHello(stream protocol.Stream, id string) peerconn.Hello {
	var pid [20]byte
	copy(pid[:], protocol.PeerIDPrefix+id)
	return peerconn.Hello{InfoHash: stream.InfoHash(), PeerID: pid, Ext: protocol.ExtHandshake{LiveID: 1, Version: 1}}
}

func dialRaw(t *testing.T, addr string, stream protocol.Stream, id string) *rawPeer {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := peerconn.Initiate(nc, rawHello(stream, id), time.Now().Add(5*time.Second))
	if err != nil {
		nc.Close()
		t.Fatalf("handshake: %v", err)
	}
	p := &rawPeer{nc: nc, liveID: r.Ext.LiveID, read: make(chan int64, 1)}
	go func() {
		n, _ := io.Copy(io.Discard, nc)
		p.read <- n
	}()
	return p
}

func (p *rawPeer) send(m protocol.Message) error {
	_, err := p.nc.Write(protocol.AppendLive(nil, p.liveID, m))
	return err
}

// closedWithin reports whether the victim closed the connection within d.
func (p *rawPeer) closedWithin(d time.Duration) bool {
	select {
	case <-p.read:
		return true
	case <-time.After(d):
		return false
	}
}

// Misbehaving peers against a real viewer over loopback. Each attack is a subtest; each must
// end with the attacker disconnected (and banned where the protocol says so) while the
// viewer keeps playing with no stall.
func TestHostilePeersAgainstViewer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("hostile peers")})
	victim := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String(), NoOrigin: true})
	waitPlayed(ctx, victim, 2)
	stream := sd.Link().Stream
	addr := victim.Node.Addr().String()
	var desc *protocol.Descriptor
	var window uint64
	victim.Node.Do(ctx, func(c *livetorrent.Swarm, _ node.Stats) { desc, window = c.Descriptor(), c.Stats().WindowEnd })
	other := prototest.Key("not the publisher")
	playedBefore := snapshot(t, ctx, victim).SegmentsPlayed

	cases := []struct {
		name   string
		banned bool
		attack func(p *rawPeer)
	}{
		{"record signed by another key", true, func(p *rawPeer) {
			// Fresh, inside the window, for the right swarm: only the signature is wrong.
			r := protocol.Record{InfoHash: stream.InfoHash(), MediaSeq: 1 << 40, Duration: 2 * time.Second,
				Published: time.Now().Truncate(time.Millisecond), InitPiece: protocol.NoPiece, FirstPiece: window + 100,
				Length: 16384, URI: "evil.ts", Hashes: protocol.HashPieces(make([]byte, 16384), desc.PieceSize)}
			if err := r.Sign(desc, other); err != nil {
				t.Fatal(err)
			}
			p.send(protocol.RecordMsg{Raw: r.Append(nil)})
		}},
		{"descriptor signed by another key", true, func(p *rawPeer) {
			d := *desc
			d.Seq++
			if err := d.Sign(other); err != nil {
				t.Fatal(err)
			}
			p.send(protocol.DescriptorMsg{Raw: d.Append(nil)})
		}},
		{"declared length of 4 GiB", false, func(p *rawPeer) {
			p.nc.Write([]byte{0xff, 0xff, 0xff, 0xff, 20})
		}},
		{"HAVE flood", false, func(p *rawPeer) {
			for k := range uint64(20000) {
				if p.send(protocol.Have{First: 1<<40 + 2*k, Count: 1}) != nil {
					return
				}
			}
		}},
		{"request flood for pieces never announced", false, func(p *rawPeer) {
			p.nc.Write(protocol.AppendSimple(nil, pp.Interested))
			for k := range uint32(100000) {
				if p.send(protocol.Request{BlockRef: protocol.BlockRef{Piece: 1 << 40, Offset: 0, Length: k%16384 + 1}}) != nil {
					return
				}
			}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "hostile" + string(rune('a'+i))
			p := dialRaw(t, addr, stream, id)
			defer p.nc.Close()
			c.attack(p)
			if !p.closedWithin(10 * time.Second) {
				t.Fatal("the attacker is still connected")
			}
			if c.banned {
				expectRefused(t, addr, rawHello(stream, id))
			}
		})
	}
	waitPlayed(ctx, victim, playedBefore+2) // it keeps playing after the attacks
	s := snapshot(t, ctx, victim)
	var st node.Stats
	victim.Node.Do(ctx, func(_ *livetorrent.Swarm, ns node.Stats) { st = ns })
	t.Logf("viewer after the attacks: %d segments, %d stalls, %d bans, %d peers", s.SegmentsPlayed, s.Stalls, st.Banned, s.Peers)
	if s.Stalls != 0 || s.SegmentsSkipped != 0 {
		t.Fatalf("the viewer stalled %d times, skipped %d", s.Stalls, s.SegmentsSkipped)
	}
	if st.Banned < 2 {
		t.Fatalf("%d bans, want the two forgers banned", st.Banned)
	}
}

// expectRefused checks that a peer coming back to addr with hello (a banned peer id) loses
// the connection: the handshake fails, or the connection is closed right after it.
func expectRefused(t *testing.T, addr string, hello peerconn.Hello) {
	t.Helper()
	q, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := peerconn.Initiate(q, hello, time.Now().Add(5*time.Second)); err != nil {
		return
	}
	q.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.Copy(io.Discard, q); err != nil {
		t.Fatal("a banned peer id kept its connection")
	}
}
