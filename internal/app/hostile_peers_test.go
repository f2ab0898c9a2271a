package app

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"net"
	"runtime"
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

// rawPeer is a hostile peer speaking the wire format by hand after a correct handshake.
type rawPeer struct {
	nc     net.Conn
	liveID uint8
	sent   atomic.Int64 // bytes written after the handshakes
	read   chan int64   // bytes read until the victim closed the connection; nil: not reading
}

// rawHello is the handshake of a hostile peer with the given peer id suffix.
func rawHello(stream protocol.Stream, id string) peerconn.Hello {
	var pid [20]byte
	copy(pid[:], protocol.PeerIDPrefix+id)
	return peerconn.Hello{InfoHash: stream.InfoHash(), PeerID: pid, Ext: protocol.ExtHandshake{LiveID: 1, Version: 1}}
}

func dialRaw(t *testing.T, addr string, stream protocol.Stream, id string) *rawPeer {
	t.Helper()
	p := dialRawQuiet(t, &net.Dialer{}, addr, stream, id)
	p.read = make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, p.nc)
		p.read <- n
	}()
	return p
}

// dialRawQuiet handshakes and then reads nothing.
func dialRawQuiet(t *testing.T, d *net.Dialer, addr string, stream protocol.Stream, id string) *rawPeer {
	t.Helper()
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := peerconn.Initiate(nc, rawHello(stream, id), time.Now().Add(5*time.Second))
	if err != nil {
		nc.Close()
		t.Fatalf("handshake: %v", err)
	}
	return &rawPeer{nc: nc, liveID: r.Ext.LiveID}
}

func (p *rawPeer) write(b []byte) error {
	n, err := p.nc.Write(b)
	p.sent.Add(int64(n))
	return err
}

func (p *rawPeer) send(m protocol.Message) error {
	return p.write(protocol.AppendLive(nil, p.liveID, m))
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

// attack is one misbehaviour. It runs against a victim whose idle and write timeouts are
// hostileTimeout; the attacker must be disconnected within closeWithin.
type attack struct {
	name   string
	banned bool // banned, not just disconnected
	quiet  bool // the attacker reads nothing: closure is seen in the victim's peer count
	run    func(t *testing.T, p *rawPeer)
}

const hostileTimeout = 3 * time.Second

// hostileLimits are the victims' limits: defaults except short idle and write timeouts, so
// the slowloris and zero-window peers are dropped within the test's time.
var hostileLimits = Limits{PeerIdle: hostileTimeout, PeerWrite: hostileTimeout}

// victimOf describes the node under attack and an honest viewer that must keep playing.
type victimOf struct {
	node   *node.Node
	stream protocol.Stream
	honest *Leecher
}

// runAttacks runs each attack as a subtest, then checks that the honest viewer played on
// without a stall, that goroutines returned to their count and that the heap stayed within
// a generous ceiling. It logs what each attacker sent before it was cut off.
func runAttacks(t *testing.T, ctx context.Context, v victimOf, attacks []attack) {
	addr := v.node.Addr().String()
	playedBefore := snapshot(t, ctx, v.honest).SegmentsPlayed
	peersBefore := nodeStats(ctx, v.node).Connected
	goroutines, heap := runtime.NumGoroutine(), heapBytes()
	for i, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			id := fmt.Sprintf("hostile%02d", i)
			var p *rawPeer
			if a.quiet {
				p = dialRawQuiet(t, &smallWindowDialer, addr, v.stream, id)
			} else {
				p = dialRaw(t, addr, v.stream, id)
			}
			defer p.nc.Close()
			start := time.Now()
			a.run(t, p)
			closed := false
			if a.quiet {
				for deadline := time.Now().Add(hostileTimeout + 10*time.Second); !closed && time.Now().Before(deadline); {
					time.Sleep(50 * time.Millisecond)
					closed = nodeStats(ctx, v.node).Connected <= peersBefore
				}
			} else {
				closed = p.closedWithin(hostileTimeout + 10*time.Second)
			}
			if !closed {
				t.Fatal("the attacker is still connected")
			}
			t.Logf("%s: cut off after %d bytes sent, %v", a.name, p.sent.Load(), time.Since(start).Round(10*time.Millisecond))
			if a.banned {
				expectRefused(t, addr, rawHello(v.stream, id))
			}
		})
	}
	waitPlayed(ctx, v.honest, playedBefore+2) // it keeps playing after the attacks
	s := snapshot(t, ctx, v.honest)
	if s.Stalls != 0 || s.SegmentsSkipped != 0 {
		t.Fatalf("the honest viewer stalled %d times, skipped %d", s.Stalls, s.SegmentsSkipped)
	}
	g := waitGoroutines(goroutines+5, 15*time.Second)
	after := heapBytes()
	t.Logf("honest viewer: %d segments, 0 stalls; goroutines %d before, %d after; heap %d KiB before, %d KiB after",
		s.SegmentsPlayed, goroutines, g, heap>>10, after>>10)
	if g > goroutines+5 {
		t.Fatalf("%d goroutines after the attacks, %d before", g, goroutines)
	}
	if after > heap+32<<20 {
		t.Fatalf("heap grew from %d to %d bytes", heap, after)
	}
}

// windowOf reads the victim's descriptor and its window of pieces.
func windowOf(ctx context.Context, n *node.Node) (desc *protocol.Descriptor, first, end uint64) {
	n.Do(ctx, func(c *livetorrent.Swarm, _ node.Stats) {
		desc = c.Descriptor()
		st := c.Stats()
		first, end = st.WindowFirst, st.WindowEnd
	})
	return desc, first, end
}

// Attacks any node faces: floods, lies about sizes, silence, and not reading.
func commonAttacks(ctx context.Context, v victimOf, other ed25519.PrivateKey) []attack {
	return []attack{
		{"descriptor signed by another key", true, false, func(t *testing.T, p *rawPeer) {
			d, _, _ := windowOf(ctx, v.node)
			forged := *d
			forged.Seq++
			if err := forged.Sign(other); err != nil {
				t.Fatal(err)
			}
			p.send(protocol.DescriptorMsg{Raw: forged.Append(nil)})
		}},
		{"declared length of 4 GiB", false, false, func(t *testing.T, p *rawPeer) {
			p.write([]byte{0xff, 0xff, 0xff, 0xff, 20})
		}},
		{"HAVE flood", false, false, func(t *testing.T, p *rawPeer) {
			for k := range uint64(20000) {
				if p.send(protocol.Have{First: 1<<40 + 2*k, Count: 1}) != nil {
					return
				}
			}
		}},
		{"request flood for pieces never announced", false, false, func(t *testing.T, p *rawPeer) {
			p.write(protocol.AppendSimple(nil, pp.Interested))
			for k := range uint32(100000) {
				if p.send(protocol.Request{BlockRef: protocol.BlockRef{Piece: 1 << 40, Offset: 0, Length: k%16384 + 1}}) != nil {
					return
				}
			}
		}},
		{"slowloris: handshake, then silence", false, false, func(t *testing.T, p *rawPeer) {}},
		{"zero window: requests, then reads nothing", false, true, func(t *testing.T, p *rawPeer) {
			// Ask for every block of the window again and again and never read. The requests
			// keep coming, so only the victim's write timeout can end the connection, not its
			// idle timeout.
			d, first, end := windowOf(ctx, v.node)
			p.write(protocol.AppendSimple(nil, pp.Interested))
			time.Sleep(200 * time.Millisecond) // the unchoke
			blocks := uint64(d.PieceSize) / protocol.BlockSize
			for stop := time.Now().Add(2 * hostileTimeout); time.Now().Before(stop); time.Sleep(250 * time.Millisecond) {
				for piece := first; piece < end; piece++ {
					for b := range blocks {
						r := protocol.Request{BlockRef: protocol.BlockRef{Piece: piece, Offset: uint32(b * protocol.BlockSize), Length: protocol.BlockSize}}
						p.nc.SetWriteDeadline(time.Now().Add(time.Second))
						if p.send(r) != nil {
							return // the victim closed the connection
						}
					}
				}
			}
			t.Error("the victim still reads requests from a peer that has read nothing for twice its write timeout")
		}},
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
	key := prototest.Key("hostile peers")
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: key})
	victim := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String(), NoOrigin: true, Limits: hostileLimits})
	waitPlayed(ctx, victim, 2)
	stream := sd.Link().Stream
	other := prototest.Key("not the publisher")
	v := victimOf{node: victim.Node, stream: stream, honest: victim}

	// record makes a record of one 16 KiB piece, signed by signer.
	record := func(t *testing.T, seq, firstPiece uint64, published time.Time, signer ed25519.PrivateKey) []byte {
		d, _, _ := windowOf(ctx, victim.Node)
		r := protocol.Record{InfoHash: stream.InfoHash(), MediaSeq: seq, Duration: 2 * time.Second,
			Published: published.Truncate(time.Millisecond), InitPiece: protocol.NoPiece, FirstPiece: firstPiece,
			Length: 16384, URI: fmt.Sprintf("evil%d.ts", seq), Hashes: protocol.HashPieces(make([]byte, 16384), d.PieceSize)}
		if err := r.Sign(d, signer); err != nil {
			t.Fatal(err)
		}
		return r.Append(nil)
	}
	ignoredBefore := coreStats(ctx, victim.Node).IgnoredRecords

	attacks := []attack{
		{"record signed by another key", true, false, func(t *testing.T, p *rawPeer) {
			// Fresh, inside the window, for the right swarm: only the signature is wrong.
			_, _, end := windowOf(ctx, victim.Node)
			p.send(protocol.RecordMsg{Raw: record(t, 1<<40, end+100, time.Now(), other)})
		}},
		{"replayed old records", false, false, func(t *testing.T, p *rawPeer) {
			// Genuinely signed, but published an hour ago: ignored, and a flood of them is
			// cut off by the record rate.
			_, _, end := windowOf(ctx, victim.Node)
			for k := range uint64(1000) {
				if p.send(protocol.RecordMsg{Raw: record(t, 1<<40+k, end+1000+k, time.Now().Add(-time.Hour), key)}) != nil {
					return
				}
			}
		}},
		{"records far ahead of the live edge", false, false, func(t *testing.T, p *rawPeer) {
			_, _, end := windowOf(ctx, victim.Node)
			for k := range uint64(1000) {
				if p.send(protocol.RecordMsg{Raw: record(t, 1<<41+k, end+2*protocol.MaxWindowPieces+k, time.Now(), key)}) != nil {
					return
				}
			}
		}},
	}
	runAttacks(t, ctx, v, append(attacks, commonAttacks(ctx, v, other)...))

	var st node.Stats
	var ignored, store int64
	victim.Node.Do(ctx, func(c *livetorrent.Swarm, ns node.Stats) {
		st, ignored, store = ns, c.Stats().IgnoredRecords-ignoredBefore, c.Stats().StoreBytes
	})
	t.Logf("viewer after the attacks: %d bans, %d records ignored, %d KiB of pieces held", st.Banned, ignored, store>>10)
	if st.Banned < 2 {
		t.Fatalf("%d bans, want the two forgers banned", st.Banned)
	}
	if ignored == 0 {
		t.Fatal("no replayed or far-ahead record was counted as ignored")
	}
}

// The same attacks against the seeder, while a viewer plays from it.
func TestHostilePeersAgainstSeeder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("hostile peers, seeder"), Limits: hostileLimits})
	honest := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String(), NoOrigin: true})
	waitPlayed(ctx, honest, 2)
	v := victimOf{node: sd.Node, stream: sd.Link().Stream, honest: honest}
	runAttacks(t, ctx, v, commonAttacks(ctx, v, prototest.Key("not the publisher")))
	if st := nodeStats(ctx, sd.Node); st.Banned < 1 {
		t.Fatalf("%d bans, want the forger banned", st.Banned)
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
