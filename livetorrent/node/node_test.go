package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

type delivered struct {
	mu   sync.Mutex
	segs map[uint64][]byte
	skip map[uint64]string
}

func (d *delivered) on(del livetorrent.Delivery, skipped bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if skipped {
		d.skip[del.MediaSeq] = del.Reason
		return
	}
	d.segs[del.MediaSeq] = del.Data
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// A publisher and five viewers on loopback TCP: every viewer delivers every segment after
// its tune-in point, byte for byte, and the publisher uploads far less than the viewers
// download together.
func TestSwarmOverTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := prototest.Descriptor()
	d.TargetDuration = 500 * time.Millisecond
	d.WindowDuration = 10 * time.Second
	d.Renditions = d.Renditions[:1]
	d.Origin = "" // no origin fallback here: tests never leave loopback
	if err := d.Sign(prototest.PublisherKey()); err != nil {
		t.Fatal(err)
	}
	stream := prototest.Stream()
	pub, err := New(Config{Swarm: livetorrent.Config{Role: livetorrent.RolePublisher, Stream: stream},
		Listen: "127.0.0.1:0", UploadRate: 1 << 20, Logger: testLogger(t),
		Dial: testmedia.LoopbackDial, HTTP: testmedia.LoopbackHTTP()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	run := func(n *Node) {
		wg.Add(1)
		go func() { defer wg.Done(); n.Run(ctx) }()
	}
	run(pub)
	const viewers = 5
	var outs []*delivered
	var nodes []*Node
	for range viewers {
		out := &delivered{segs: map[uint64][]byte{}, skip: map[uint64]string{}}
		peers := []string{pub.Addr().String()}
		for _, v := range nodes { // a mesh: each viewer also dials the earlier ones
			peers = append(peers, v.Addr().String())
		}
		v, err := New(Config{Swarm: livetorrent.Config{Stream: stream, TargetLatency: 1500 * time.Millisecond},
			Listen: "127.0.0.1:0", Peers: peers, OnDeliver: out.on, UploadRate: 2 << 20, Logger: testLogger(t),
			Dial: testmedia.LoopbackDial, HTTP: testmedia.LoopbackHTTP()})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
		nodes = append(nodes, v)
		run(v)
	}
	draw := d.Append(nil)
	if err := pub.Publish(ctx, livetorrent.Publish{Descriptor: &d, DescriptorRaw: draw}); err != nil {
		t.Fatal(err)
	}
	const segments = 16
	data := map[uint64][]byte{}
	first := uint64(1_000_000)
	for seq := uint64(0); seq < segments; seq++ {
		seg := prototest.SegmentData(fmt.Sprint("seg", seq), 40_000+int(seq)*1000)
		data[seq] = seg
		r := prototest.Record(&d, seq, first, seg)
		r.Duration = 500 * time.Millisecond
		r.Published = time.Now().Truncate(time.Millisecond)
		if err := r.Sign(&d, prototest.PublisherKey()); err != nil {
			t.Fatal(err)
		}
		first = r.EndPiece()
		if err := pub.Publish(ctx, livetorrent.Publish{Record: &r, RecordRaw: r.Append(nil), Data: seg}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Let the last segments spread.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for _, o := range outs {
			o.mu.Lock()
			_, last := o.segs[segments-1]
			o.mu.Unlock()
			done = done && last
		}
		if done {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var pubStats livetorrent.Stats
	pub.Do(ctx, func(c *livetorrent.Swarm, _ Stats) { pubStats = c.Stats() })
	var down int64
	for i, o := range outs {
		o.mu.Lock()
		if len(o.segs) < segments/2 {
			t.Errorf("viewer %d delivered %d segments (skipped %v)", i, len(o.segs), o.skip)
		}
		var firstSeq uint64 = segments
		for seq, b := range o.segs {
			firstSeq = min(firstSeq, seq)
			if !bytes.Equal(b, data[seq]) {
				t.Errorf("viewer %d segment %d differs", i, seq)
			}
			down += int64(len(b))
		}
		for seq := firstSeq; seq < segments; seq++ {
			if _, ok := o.segs[seq]; !ok {
				t.Errorf("viewer %d: segment %d missing after tune-in at %d (%s)", i, seq, firstSeq, o.skip[seq])
			}
		}
		o.mu.Unlock()
	}
	t.Logf("publisher uploaded %d bytes, viewers delivered %d bytes (%.2fx)", pubStats.BytesUploaded, down,
		float64(pubStats.BytesUploaded)/float64(max(down, 1))*viewers)
	cancel()
	wg.Wait()
}
