package node

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
)

// pexPayload is a ut_pex message adding addrs (IPv4).
func pexPayload(addrs ...string) []byte {
	var b []byte
	for _, a := range addrs {
		ap := netip.MustParseAddrPort(a)
		ip := ap.Addr().As4()
		b = append(b, ip[:]...)
		b = append(b, byte(ap.Port()>>8), byte(ap.Port()))
	}
	return []byte(fmt.Sprintf("d5:added%d:%se", len(b), b))
}

// A peer that sends ut_pex more often than BEP 11's once a minute is heard once per
// pexMinGap: a message 30 s after the first is ignored, one 56 s after it is taken.
func TestPexIsTakenAtMostOncePerGap(t *testing.T) {
	d := newTableDialer(t)
	n := d.n
	ours, theirs := net.Pipe()
	t.Cleanup(func() { theirs.Close() })
	const h = livetorrent.PeerHandle(1)
	closed := make(chan struct{})
	n.conns[h] = peerconn.Start(ours, n.currentHello().Ext, peerconn.Remote{}, peerconn.Config{},
		func(peerconn.Inbound) bool { return true }, func(error) { close(closed) })
	t.Cleanup(func() { n.conns[h].Close(nil); <-closed })

	t0 := time.Now()
	n.onPex(h, pexPayload("198.51.100.1:7000"), t0)
	n.onPex(h, pexPayload("198.51.100.2:7000"), t0.Add(30*time.Second))
	n.onPex(h, pexPayload("198.51.100.3:7000"), t0.Add(56*time.Second))
	for a, want := range map[string]bool{"198.51.100.1:7000": true, "198.51.100.2:7000": false, "198.51.100.3:7000": true} {
		if got := d.addrs[a] != nil; got != want {
			t.Errorf("%s learned: %v, want %v", a, got, want)
		}
	}
}

// Addresses learned only from peer exchange are dialled at most pexDialBurst at once and
// pexDialRate a second after, however many are due; tracker addresses and a peer-exchange
// address that once connected are not held back.
func TestPexAddressesAreDialledAtABoundedRate(t *testing.T) {
	d := newTableDialer(t)
	dialling := func() (pex, other int) {
		for _, st := range d.addrs {
			if st.busy && st.source == fromPex && !st.connected {
				pex++
			} else if st.busy {
				other++
			}
		}
		return
	}
	t0 := time.Now()
	for i := range 40 {
		d.add(fmt.Sprintf("198.51.100.%d:7000", i+1), fromPex, t0)
	}
	d.poll(t0)
	d.poll(t0)
	if pex, _ := dialling(); pex != pexDialBurst {
		t.Fatalf("%d of 40 peer-exchange addresses dialled at once, want %d", pex, pexDialBurst)
	}
	d.poll(t0.Add(time.Second))
	if pex, _ := dialling(); pex != pexDialBurst+pexDialRate {
		t.Fatalf("%d dialled after 1 s, want %d", pex, pexDialBurst+pexDialRate)
	}
	for i := range 3 {
		d.add(fmt.Sprintf("203.0.113.%d:7000", i+1), fromDiscovery, t0)
	}
	d.add("192.0.2.1:7000", fromPex, t0)
	d.addrs["192.0.2.1:7000"].connected = true
	d.poll(t0.Add(time.Second))
	if pex, other := dialling(); pex != pexDialBurst+pexDialRate || other != 4 {
		t.Fatalf("with the bucket empty: %d peer-exchange and %d other dials, want %d and 4", pex, other, pexDialBurst+pexDialRate)
	}
}

// An address forgotten after maxDialFailures is not taken back while forgetFor lasts,
// whoever lists it (the configuration excepted); after that it is, with its dials anew.
// The set of forgotten addresses is bounded.
func TestForgottenAddressIsNotTakenBackAtOnce(t *testing.T) {
	d := newTableDialer(t)
	const a = "198.51.100.1:7000"
	t0 := time.Now()
	d.add(a, fromPex, t0)
	for range maxDialFailures {
		d.addrs[a].busy = true
		d.dialed(a, t0, nil, peerconn.Remote{}, errors.New("connection reset by peer"))
	}
	if d.addrs[a] != nil {
		t.Fatal("not forgotten")
	}
	d.add(a, fromPex, t0.Add(time.Minute))
	d.add(a, fromDiscovery, t0.Add(forgetFor-time.Second))
	if d.addrs[a] != nil {
		t.Fatal("a forgotten address was taken back when listed again")
	}
	d.add(a, fromPex, t0.Add(forgetFor))
	if st := d.addrs[a]; st == nil || st.failures != 0 {
		t.Fatal("not taken back after forgetFor")
	}

	const b = "198.51.100.2:7000"
	d.remember(b, t0)
	d.add(b, fromLink, t0)
	if d.addrs[b] == nil {
		t.Fatal("a configured address was refused because it had been forgotten")
	}

	for i := range maxForgotten + 10 {
		d.remember(fmt.Sprintf("10.%d.%d.%d:1", i>>16, i>>8&255, i&255), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if len(d.forgotten) != maxForgotten {
		t.Fatalf("%d forgotten addresses remembered, want %d", len(d.forgotten), maxForgotten)
	}
	if _, ok := d.forgotten["10.0.0.0:1"]; ok {
		t.Fatal("a full set kept its oldest entry")
	}
}
