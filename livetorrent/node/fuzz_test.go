package node

import (
	"net/netip"
	"testing"

	"github.com/livetorrent/livetorrent/protocol"
)

// FuzzPexAddrs feeds arbitrary ut_pex payloads: never a panic, at most pexMaxAdded
// addresses, each dialable.
func FuzzPexAddrs(f *testing.F) {
	f.Add([]byte("d5:added12:\x7f\x00\x00\x01\x1a\xe1\x7f\x00\x00\x02\x1a\xe17:added.f2:\x00\x00e"))
	f.Add([]byte("d6:added618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("d7:dropped6:\x01\x02\x03\x04\x05\x06e"))
	f.Add([]byte("le"))
	f.Fuzz(func(t *testing.T, b []byte) {
		addrs, err := pexAddrs(b)
		if err != nil && addrs != nil {
			t.Fatal("addresses returned with an error")
		}
		if len(addrs) > pexMaxAdded {
			t.Fatalf("%d addresses", len(addrs))
		}
		for _, a := range addrs {
			ap, err := netip.ParseAddrPort(a)
			if err != nil || !protocol.UsableAddr(ap) {
				t.Fatalf("unusable address %q kept", a)
			}
		}
	})
}
