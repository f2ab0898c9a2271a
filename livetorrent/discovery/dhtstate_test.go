package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"

	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// A state file saved through other bootstrap nodes (as a public run leaves it), or by a
// version that did not record them, is not used by a run told to join a private node: the
// saved node hears nothing, and the file is saved again under the private list. A file saved
// through the same list, in another order, is used.
func TestDHTStateScopedToBootstrap(t *testing.T) {
	var saved atomic.Int64
	pub := startFakeNode(t, func(q krpc.Msg, _ *net.UDPAddr) *krpc.Msg {
		saved.Add(1)
		return reply(q, krpc.Return{Token: token()})
	})
	priv := startFakeNode(t, func(q krpc.Msg, _ *net.UDPAddr) *krpc.Msg { return reply(q, krpc.Return{Token: token()}) })
	boot := []string{priv.LocalAddr().String(), "127.0.0.1:9"}
	for _, c := range []struct {
		name, network string
		used          bool
	}{
		{"saved by an older version", "", false},
		{"saved through other bootstrap nodes", bootstrapNetwork([]string{"router.example:6881"}), false},
		{"saved through the same bootstrap nodes", bootstrapNetwork([]string{boot[1], boot[0], boot[1]}), true},
	} {
		file := filepath.Join(t.TempDir(), "dht.json")
		content := fmt.Sprintf(`{"id":"","network":%q,"nodes":[%q]}`, c.network, pub.LocalAddr().String())
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		before := saved.Load()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		startDHT(ctx, &wg, DHTConfig{Bootstrap: boot, StateFile: file, InfoHash: prototest.Stream().InfoHash(),
			Every: 100 * time.Millisecond})
		deadline := time.Now().Add(1500 * time.Millisecond)
		for saved.Load() == before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		if used := saved.Load() > before; used != c.used {
			t.Errorf("%s: saved node contacted: %v, want %v", c.name, used, c.used)
		}
		var st struct{ Network string }
		if b, err := os.ReadFile(file); err != nil || json.Unmarshal(b, &st) != nil || st.Network != bootstrapNetwork(boot) {
			t.Errorf("%s: saved under network %q, want %q (%v)", c.name, st.Network, bootstrapNetwork(boot), err)
		}
	}
}
