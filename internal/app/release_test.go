package app

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// unreachableLink is a valid link whose only peer nobody listens on: enough to construct a
// leecher that is never run.
const unreachableLink = "magnet:?xs=urn:btpk:abababababababababababababababababababababababababababababababab&x.pe=127.0.0.1:1"

// freeAddr is a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }

// checkReleased fails the test for each address that cannot be bound again.
func checkReleased(t *testing.T, what string, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s: port still bound: %v", what, err)
			continue
		}
		ln.Close()
	}
}

// TestFailedConstructorsReleasePorts: a seeder or leecher whose construction fails after it
// bound its peer or metrics port (a busy HTTP port, a bad source) closes what it bound, so a
// program that reports the error and tries again (or a test) does not find its ports taken.
func TestFailedConstructorsReleasePorts(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	key := prototest.Key("release")
	for _, c := range []struct {
		name string
		make func(listen, metrics string) error
	}{
		{"leecher, HTTP port busy", func(listen, metrics string) error {
			_, err := NewLeecher(LeecherConfig{Link: unreachableLink, Listen: listen, HTTPListen: busy.Addr().String(),
				Status: StatusOptions{Metrics: metrics}})
			return err
		}},
		{"leecher, peer port busy", func(_, metrics string) error {
			_, err := NewLeecher(LeecherConfig{Link: unreachableLink, Listen: busy.Addr().String(), Status: StatusOptions{Metrics: metrics}})
			return err
		}},
		{"seeder, source without a host", func(listen, metrics string) error {
			_, err := NewSeeder(SeederConfig{Source: "http:///index.m3u8", Key: key, Listen: listen,
				Status: StatusOptions{Metrics: metrics}})
			return err
		}},
		{"seeder, peer port busy", func(_, metrics string) error {
			_, err := NewSeeder(SeederConfig{Source: "http://127.0.0.1:1/index.m3u8", Key: key,
				Listen: busy.Addr().String(), Status: StatusOptions{Metrics: metrics}})
			return err
		}},
	} {
		listen, metrics := freeAddr(t), freeAddr(t)
		if err := c.make(listen, metrics); err == nil {
			t.Fatalf("%s: constructed, want an error", c.name)
		}
		checkReleased(t, c.name+", after the error", listen, metrics)
	}
}

// TestCloseReleasesPortsOfUnrunNodes: a seeder or leecher constructed and never run gives
// its ports back on Close (peer, HTTP output and a metrics port it opened), and leaves a
// metrics listener the caller passed in open.
func TestCloseReleasesPortsOfUnrunNodes(t *testing.T) {
	listen, httpAddr, metrics := freeAddr(t), freeAddr(t), freeAddr(t)
	l, err := NewLeecher(LeecherConfig{Link: unreachableLink, Listen: listen, HTTPListen: httpAddr, Status: StatusOptions{Metrics: metrics}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("leecher Close: %v", err)
	}
	checkReleased(t, "leecher after Close", listen, httpAddr, metrics)

	listen, metrics = freeAddr(t), freeAddr(t)
	s, err := NewSeeder(SeederConfig{Source: "http://127.0.0.1:1/index.m3u8", Key: prototest.Key("close"), Listen: listen,
		Status: StatusOptions{Metrics: metrics}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("seeder Close: %v", err)
	}
	checkReleased(t, "seeder after Close", listen, metrics)

	// A listener the caller passed in is the caller's.
	given, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer given.Close()
	listen = freeAddr(t)
	l, err = NewLeecher(LeecherConfig{Link: unreachableLink, Listen: listen, Status: StatusOptions{Listener: given}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("leecher Close: %v", err)
	}
	checkReleased(t, "leecher with a given metrics listener after Close", listen)
	if err := given.(*net.TCPListener).SetDeadline(time.Now().Add(time.Millisecond)); err != nil {
		t.Errorf("the caller's metrics listener was closed: %v", err)
	}
}
