package discovery

import (
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
)

// FuzzDHTState feeds arbitrary bytes as a DHT state file: never a panic, at most
// maxStateNodes nodes, each a usable address.
func FuzzDHTState(f *testing.F) {
	f.Add([]byte(`{"id":"0123456789abcdef0123456789abcdef01234567","nodes":["127.0.0.1:6881","[::1]:6881"]}`))
	f.Add([]byte(`{"id":"zz","nodes":["0.0.0.0:1","224.0.0.1:5","1.2.3.4:0","x"]}`))
	f.Add([]byte(`{"nodes":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, nodes, _, err := parseDHTState(b)
		if err != nil && nodes != nil {
			t.Fatal("nodes returned with an error")
		}
		if len(nodes) > maxStateNodes {
			t.Fatalf("%d nodes", len(nodes))
		}
		for _, n := range nodes {
			if !protocol.UsableAddr(n) {
				t.Fatalf("unusable node %v kept", n)
			}
		}
	})
}
