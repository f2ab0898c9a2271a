package app

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// corruptPeer is a hostile swarm member: it joins the real seeder to learn the genuine
// descriptor and records, relays them to whoever connects to it, claims every piece, and
// answers every request with wrong bytes.
type corruptPeer struct {
	t      *testing.T
	stream protocol.Stream
	id     [20]byte
	ln     net.Listener

	mu      sync.Mutex
	desc    []byte
	records []protocol.Record
	raws    [][]byte
	victims []*peerconn.Conn

	dataSent atomic.Int64 // DATA block bytes sent to victims
	closed   chan int64   // DATA bytes sent when a victim closed the connection
}

func (h *corruptPeer) hello() peerconn.Hello {
	return peerconn.Hello{InfoHash: h.stream.InfoHash(), PeerID: h.id,
		Ext: protocol.ExtHandshake{LiveID: 1, Version: 1, Reqq: 256, Client: "corrupt"}}
}

func startCorruptPeer(t *testing.T, ctx context.Context, seeder string, stream protocol.Stream) *corruptPeer {
	h := &corruptPeer{t: t, stream: stream, closed: make(chan int64, 4)}
	copy(h.id[:], protocol.PeerIDPrefix+"corruptpeer1")
	var err error
	if h.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	context.AfterFunc(ctx, func() { h.ln.Close() })
	nc, err := net.Dial("tcp", seeder)
	if err != nil {
		t.Fatal(err)
	}
	r, err := peerconn.Initiate(nc, h.hello(), time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	up := peerconn.Start(nc, h.hello().Ext, r, peerconn.Config{}, func(in peerconn.Inbound) bool {
		h.fromSeeder(in.Live)
		return true
	}, func(error) {})
	context.AfterFunc(ctx, func() { up.Close(nil) })
	go h.accept()
	return h
}

// fromSeeder keeps the seeder's descriptor and records and passes them on at once.
func (h *corruptPeer) fromSeeder(m protocol.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch m := m.(type) {
	case protocol.DescriptorMsg:
		h.desc = bytes.Clone(m.Raw)
	case protocol.RecordMsg:
		rec, err := protocol.ParseRecord(m.Raw)
		if err != nil {
			return
		}
		h.records, h.raws = append(h.records, rec), append(h.raws, bytes.Clone(m.Raw))
		for _, v := range h.victims {
			v.Send(protocol.RecordMsg{Raw: m.Raw})
			v.Send(protocol.Have{First: rec.FirstPiece, Count: uint32(len(rec.Hashes))})
		}
	}
}

func (h *corruptPeer) accept() {
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			return
		}
		_, r, err := peerconn.Accept(nc, func(protocol.InfoHash) (peerconn.Hello, bool) { return h.hello(), true },
			time.Now().Add(5*time.Second))
		if err != nil {
			nc.Close()
			continue
		}
		var v *peerconn.Conn
		v = peerconn.Start(nc, h.hello().Ext, r, peerconn.Config{}, func(in peerconn.Inbound) bool {
			if req, ok := in.Live.(protocol.Request); ok {
				junk := bytes.Repeat([]byte{0xa5}, int(req.Length))
				if v.Send(protocol.Data{Piece: req.Piece, Offset: req.Offset, Block: junk}) == nil {
					h.dataSent.Add(int64(req.Length))
				}
			}
			return true
		}, func(error) { h.closed <- h.dataSent.Load() })
		h.mu.Lock()
		h.victims = append(h.victims, v)
		if h.desc != nil {
			v.Send(protocol.DescriptorMsg{Raw: h.desc})
		}
		for i, raw := range h.raws {
			v.Send(protocol.RecordMsg{Raw: raw})
			v.Send(protocol.Have{First: h.records[i].FirstPiece, Count: uint32(len(h.records[i].Hashes))})
		}
		v.SendControl(pp.Unchoke)
		h.mu.Unlock()
	}
}

// A peer that relays genuine records but answers with corrupt piece data: the viewer bans
// it after a bounded number of bad bytes, refuses it when it comes back with the same peer
// id, and what reaches the player is exactly the origin's segments, with no stall.
func TestCorruptPeerIsBannedAndNothingCorruptIsPlayed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("corrupt")})
	bad := startCorruptPeer(t, ctx, sd.Node.Addr().String(), sd.Link().Stream)
	time.Sleep(500 * time.Millisecond) // the hostile peer has the descriptor and records

	out := &lockedBuffer{}
	link := sd.Link()
	link.Peers = append([]string{bad.ln.Addr().String()}, link.Peers...)
	victim := startLeecher(t, ctx, &wg, LeecherConfig{Link: link.String(), Stdout: out, NoOrigin: true})
	var before int64
	select {
	case before = <-bad.closed:
	case <-time.After(20 * time.Second):
		t.Fatalf("the corrupt peer was never disconnected (%d bad bytes sent)", bad.dataSent.Load())
	}
	st := waitPlayed(ctx, victim, 4)
	var core livetorrent.Stats
	victim.Node.Do(ctx, func(c *livetorrent.Swarm, s node.Stats) { st, core = s, c.Stats() })
	t.Logf("corrupt bytes sent before the ban: %d; viewer: %d banned, %d pieces failed, %d segments played, %d stalls",
		before, st.Banned, core.PiecesFailed, st.Delivered, core.Stalls)
	if st.Banned < 1 || before > 2<<20 {
		t.Fatalf("banned %d peers after %d corrupt bytes (want a ban within 2 MiB)", st.Banned, before)
	}
	if core.Stalls != 0 || st.Delivered < 4 {
		t.Fatalf("played %d segments with %d stalls", st.Delivered, core.Stalls)
	}

	// Back from the same address: refused. (Bans are by IP; on loopback, which every peer
	// of this test shares, by IP and peer id.)
	expectRefused(t, victim.Node.Addr().String(), bad.hello())

	// What the player got is the origin's segments, whole and in loop order.
	cancel()
	wg.Wait()
	checkSampleOutput(t, out.Bytes())
}

// checkSampleOutput checks that b is a run of the sample's segment files in playlist order
// (wrapping around, as the seeder loops it), nothing else.
func checkSampleOutput(t *testing.T, b []byte) {
	t.Helper()
	var files [][]byte
	for i := range 6 {
		f, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sample", "seg00"+string(rune('0'+i))+".ts"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	next, segs := -1, 0
	for len(b) > 0 {
		found := -1
		for i, f := range files {
			if (next < 0 || i == next) && bytes.HasPrefix(b, f) {
				found = i
				break
			}
		}
		if found < 0 {
			t.Fatalf("after %d whole segments the output has %d bytes that are not the next origin segment", segs, len(b))
		}
		b = b[len(files[found]):]
		next = (found + 1) % len(files)
		segs++
	}
	if segs < 4 {
		t.Fatalf("only %d segments in the output", segs)
	}
	t.Logf("the player got %d segments, each byte-identical to the origin's", segs)
}
