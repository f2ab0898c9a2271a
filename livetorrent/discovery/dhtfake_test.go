package discovery

import (
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"
)

// fakeID is the node id scripted test nodes answer with.
var fakeID = krpc.ID{0xfa, 0xce}

// startFakeNode runs a scripted DHT node on 127.0.0.1 until the test ends: each query is
// passed to answer (in a goroutine of its own), whose message (nil: none) is sent back. Tests use it to play nodes that
// misbehave in ways a real node of ours never does.
func startFakeNode(t *testing.T, answer func(q krpc.Msg, from *net.UDPAddr) *krpc.Msg) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var m krpc.Msg
			if bencode.Unmarshal(slices.Clone(buf[:n]), &m) != nil || m.Y != "q" || m.A == nil {
				continue
			}
			// Each query is answered on its own, so a node scripted to answer slowly still
			// hears the others.
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := answer(m, from); r != nil {
					c.WriteToUDP(bencode.MustMarshal(*r), from)
				}
			}()
		}
	}()
	t.Cleanup(func() { c.Close(); wg.Wait() })
	return c
}

// reply is a response to q carrying r, with the fake node's id.
func reply(q krpc.Msg, r krpc.Return) *krpc.Msg {
	r.ID = fakeID
	return &krpc.Msg{T: q.T, Y: "r", R: &r}
}

// token is a write token for replies that grant one.
func token() *string { s := "tok"; return &s }
