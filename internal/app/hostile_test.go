package app

import (
	"context"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// heapBytes is the live heap after a collection.
func heapBytes() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitGoroutines waits until at most n goroutines run, returning the count.
func waitGoroutines(n int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		g := runtime.NumGoroutine()
		if g <= n || time.Now().After(deadline) {
			return g
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Thousands of connections at once from one address that open and then say nothing (or
// garbage): the viewer under attack keeps playing with no stall, a new viewer whose only
// way in is that viewer still joins it and plays, and once the attacker leaves the
// goroutines return to their count and the heap stays within a generous ceiling.
func TestConnectionFlood(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("flood")})
	victim := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String()})
	waitPlayed(ctx, victim, 2)
	goroutines, heap := runtime.NumGoroutine(), heapBytes()

	// The attacker dials from 127.0.0.2, so the honest newcomer (127.0.0.1) is another IP.
	const conns = 3000
	attacker := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	var opened []net.Conn
	var mu sync.Mutex
	var dials sync.WaitGroup
	sem := make(chan struct{}, 200)
	for i := range conns {
		dials.Add(1)
		sem <- struct{}{}
		go func() {
			defer dials.Done()
			defer func() { <-sem }()
			c, err := attacker.DialContext(ctx, "tcp", victim.Node.Addr().String())
			if err != nil {
				return
			}
			if i%2 == 0 {
				c.Write([]byte("\x13BitTorrent protocol garbage"))
			}
			mu.Lock()
			opened = append(opened, c)
			mu.Unlock()
		}()
	}
	dials.Wait()
	t.Logf("attacker opened %d connections; %d goroutines before", len(opened), goroutines)

	// While the newcomer joins, the attacker keeps redialling, so the handshake slots it can
	// take stay taken.
	actx, acancel := context.WithCancel(ctx)
	var awg sync.WaitGroup
	for range 50 {
		awg.Add(1)
		go func() {
			defer awg.Done()
			for actx.Err() == nil {
				c, err := attacker.DialContext(actx, "tcp", victim.Node.Addr().String())
				if err != nil {
					continue
				}
				b := make([]byte, 1)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				c.Read(b) // returns when the victim closes it
				c.Close()
			}
		}()
	}
	nctx, ncancel := context.WithCancel(ctx)
	var nwg sync.WaitGroup
	link := protocol.Link{Stream: sd.Link().Stream, Peers: []string{victim.Node.Addr().String()}}
	newcomer := startLeecher(t, nctx, &nwg, LeecherConfig{Link: link.String(), NoOrigin: true})
	st := waitPlayed(nctx, newcomer, 2)
	ncancel()
	nwg.Wait()
	acancel()
	awg.Wait()
	if st.Delivered < 2 {
		t.Fatalf("during the flood a newcomer played %d segments through the victim (%d peers)", st.Delivered, st.Connected)
	}
	s := snapshot(t, ctx, victim)
	if s.Stalls != 0 || s.SegmentsSkipped != 0 {
		t.Fatalf("the victim stalled %d times, skipped %d", s.Stalls, s.SegmentsSkipped)
	}

	mu.Lock()
	for _, c := range opened {
		c.Close()
	}
	mu.Unlock()
	if g := waitGoroutines(goroutines+10, 15*time.Second); g > goroutines+10 {
		t.Fatalf("%d goroutines after the flood, %d before", g, goroutines)
	}
	after := heapBytes()
	t.Logf("heap %d KiB before, %d KiB after; victim played %d segments, 0 stalls", heap>>10, after>>10, s.SegmentsPlayed)
	if after > heap+64<<20 {
		t.Fatalf("heap grew from %d to %d bytes", heap, after)
	}
}
