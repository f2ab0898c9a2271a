package app

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// TestFailedConstructorsReleasePorts: a seeder or leecher whose construction fails after it
// bound its peer or metrics port (a busy HTTP port, a bad source) closes what it bound, so a
// program that reports the error and tries again (or a test) does not find its ports taken.
func TestFailedConstructorsReleasePorts(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	link := "magnet:?xs=urn:btpk:" + strings.Repeat("ab", 32) + "&x.pe=127.0.0.1:1"
	key := prototest.Key("release")
	for _, c := range []struct {
		name string
		make func(listen, metrics string) error
	}{
		{"leecher, HTTP port busy", func(listen, metrics string) error {
			_, err := NewLeecher(LeecherConfig{Link: link, Listen: listen, HTTPListen: busy.Addr().String(),
				Status: StatusOptions{Metrics: metrics}})
			return err
		}},
		{"leecher, peer port busy", func(_, metrics string) error {
			_, err := NewLeecher(LeecherConfig{Link: link, Listen: busy.Addr().String(), Status: StatusOptions{Metrics: metrics}})
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
		listen, metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
		if err := c.make(listen, metrics); err == nil {
			t.Fatalf("%s: constructed, want an error", c.name)
		}
		for _, addr := range []string{listen, metrics} {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("%s: port still bound after the error: %v", c.name, err)
				continue
			}
			ln.Close()
		}
	}
}
