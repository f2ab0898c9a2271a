package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// startDHT runs a DHT node on loopback until ctx ends and returns its address.
func startDHT(ctx context.Context, wg *sync.WaitGroup, cfg DHTConfig) string {
	ready := make(chan net.Addr, 1)
	cfg.Listen = "127.0.0.1:0"
	cfg.OnReady = func(a net.Addr) { ready <- a }
	if cfg.InfoHash == (protocol.InfoHash{}) {
		cfg.InfoHash = protocol.InfoHash{1}
	}
	if cfg.Every == 0 {
		cfg.Every = time.Hour
	}
	wg.Add(1)
	go func() { defer wg.Done(); RunDHT(ctx, cfg) }()
	select {
	case a := <-ready:
		return a.String()
	case <-ctx.Done():
		return ""
	}
}

// finds returns an OnPeers callback and a channel that receives once the callback has seen
// the address want.
func finds(want string) (<-chan struct{}, func([]netip.AddrPort)) {
	found := make(chan struct{}, 1)
	ap := netip.MustParseAddrPort(want)
	return found, func(ps []netip.AddrPort) {
		if slices.Contains(ps, ap) {
			select {
			case found <- struct{}{}:
			default:
			}
		}
	}
}

// privateDHT starts n routing-only nodes joined through the first; it returns them all.
func privateDHT(ctx context.Context, wg *sync.WaitGroup, n int) []string {
	boot := []string{startDHT(ctx, wg, DHTConfig{})}
	for range n - 1 {
		boot = append(boot, startDHT(ctx, wg, DHTConfig{Bootstrap: boot[:1]}))
	}
	return boot
}

// The publisher's item goes through a private DHT of several nodes to a resolver that knows
// only the key and salt. An item signed by the right key but naming another swarm is never
// reported; a newer item replaces the older one.
func TestDHTItemPublishAndResolve(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	boot := privateDHT(ctx, &wg, 4)
	st := prototest.Stream()
	d := prototest.Descriptor()
	good := protocol.DHTItemFor(st, d.Seq+1, d.Append(nil))
	bad := protocol.DHTItemFor(st, d.Seq, d.Append(nil))
	bad.InfoHash[0] ^= 0xff
	var current atomic.Pointer[protocol.DHTItem]
	current.Store(&bad)
	startDHT(ctx, &wg, DHTConfig{Bootstrap: boot, Stream: st, Key: prototest.PublisherKey(),
		Item: func() (protocol.DHTItem, bool) { return *current.Load(), true }})

	got := make(chan protocol.DHTItem, 10)
	logs := &logCapture{}
	startDHT(ctx, &wg, DHTConfig{Bootstrap: boot, Stream: st, Every: time.Second, Logger: slog.New(logs),
		OnItem: func(it protocol.DHTItem) { got <- it }})
	// The bad item is stored (nodes check only the BEP 44 signature), fetched, and rejected.
	for !logs.has("dht item rejected") {
		select {
		case it := <-got:
			t.Fatalf("reported an item naming swarm %s", it.InfoHash)
		case <-ctx.Done():
			t.Fatal("the bad item was never fetched")
		case <-time.After(100 * time.Millisecond):
		}
	}
	current.Store(&good)
	select {
	case it := <-got:
		if it != good {
			t.Fatalf("resolved %+v, want %+v", it, good)
		}
	case <-ctx.Done():
		t.Fatal("item never resolved")
	}
}

// A node that saved its routing table rejoins through it with no bootstrap list, keeps its
// node id, and finds the swarm's peers.
func TestDHTStateSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	boot := privateDHT(ctx, &wg, 3)
	ih := prototest.Stream().InfoHash()
	startDHT(ctx, &wg, DHTConfig{Bootstrap: boot[:1], InfoHash: ih, Port: 7301, Every: 300 * time.Millisecond})

	state := filepath.Join(t.TempDir(), "dht.json")
	first, stopFirst := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	startDHT(first, &fwg, DHTConfig{Bootstrap: boot[:1], StateFile: state, InfoHash: ih})
	time.Sleep(time.Second)
	stopFirst()
	fwg.Wait()
	var saved dhtState
	if b, err := os.ReadFile(state); err != nil || json.Unmarshal(b, &saved) != nil || len(saved.Nodes) == 0 {
		t.Fatalf("state after first run: %q, %v", b, err)
	}

	found, onPeers := finds("127.0.0.1:7301")
	startDHT(ctx, &wg, DHTConfig{StateFile: state, InfoHash: ih, Every: 300 * time.Millisecond,
		SaveEvery: time.Millisecond, OnPeers: onPeers})
	select {
	case <-found:
	case <-ctx.Done():
		t.Fatalf("restarted node (%d saved nodes, no bootstrap) never found the swarm", len(saved.Nodes))
	}
	var again dhtState
	if b, err := os.ReadFile(state); err != nil || json.Unmarshal(b, &again) != nil || again.ID != saved.ID {
		t.Fatalf("node id changed across restart: %s then %s (%v)", saved.ID, again.ID, err)
	}
}

// A damaged or oversized state file is reported and ignored; junk addresses in it are dropped.
func TestDHTStateHostileFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.json")
	os.WriteFile(p, []byte(`{"id":"zz","nodes":["127.0.0.1:0","0.0.0.0:5","224.0.0.1:9","nonsense","127.0.0.1:6881"]}`), 0o600)
	id, nodes, _, err := loadDHTState(p)
	if err != nil || id != nil || len(nodes) != 1 || nodes[0].String() != "127.0.0.1:6881" {
		t.Fatalf("id %v nodes %v err %v", id, nodes, err)
	}
	os.WriteFile(p, []byte("{not json"), 0o600)
	if _, _, _, err := loadDHTState(p); err == nil {
		t.Fatal("damaged file loaded")
	}
	os.WriteFile(p, make([]byte, maxStateFile+1), 0o600)
	if _, _, _, err := loadDHTState(p); err == nil {
		t.Fatal("oversized file loaded")
	}
	if id, nodes, _, err := loadDHTState(filepath.Join(dir, "missing")); err != nil || id != nil || nodes != nil {
		t.Fatalf("missing file: %v %v %v", id, nodes, err)
	}
}

// logCapture records the messages logged through it.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, r.Message)
	return nil
}
func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCapture) WithGroup(string) slog.Handler      { return c }

func (c *logCapture) has(msg string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.msgs, msg)
}

// DHT garbage: a node flooded with junk datagrams and malformed KRPC messages keeps working
// (the members still find each other through it), and neither crashes nor stalls.
func TestDHTSurvivesGarbage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	boot := privateDHT(ctx, &wg, 2)
	c, err := net.Dial("udp4", boot[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	junk := [][]byte{
		{}, []byte("d"), []byte("de"), []byte("d1:y1:qe"), []byte("d1:q4:ping1:t2:aa1:y1:qe"),
		[]byte("d1:ad2:id3:abce1:q9:get_peers1:t2:aa1:y1:qe"),
		[]byte("d1:ad2:id20:aaaaaaaaaaaaaaaaaaaa9:info_hash5:shorte1:q9:get_peers1:t2:aa1:y1:qe"),
		[]byte("d1:rd2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes7:garbagee1:t2:zz1:y1:re"),
		bytes.Repeat([]byte{0xff}, 1400),
	}
	for i := range 2000 {
		c.Write(junk[i%len(junk)])
	}
	ih := prototest.Stream().InfoHash()
	found, onPeers := finds("127.0.0.1:7401")
	startDHT(ctx, &wg, DHTConfig{Bootstrap: boot[:1], InfoHash: ih, Port: 7401, Every: 300 * time.Millisecond})
	startDHT(ctx, &wg, DHTConfig{Bootstrap: boot[:1], InfoHash: ih, Port: 7402, Every: 300 * time.Millisecond,
		OnPeers: onPeers})
	select {
	case <-found:
	case <-ctx.Done():
		t.Fatal("members did not find each other through a node fed garbage")
	}
}

// A node that replays an older (validly signed) item is ignored: once the resolver holds seq
// 2, an item with seq 1 is never reported, however often it comes back.
func TestDHTItemOlderSeqIgnored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := prototest.Stream()
	d := prototest.Descriptor()
	signed := func(seq uint64) krpc.Bep44Return {
		s, v, sig, err := protocol.SignDHTItem(prototest.PublisherKey(), st.Salt, protocol.DHTItemFor(st, seq, d.Append(nil)))
		if err != nil {
			t.Fatal(err)
		}
		return krpc.Bep44Return{V: v, K: st.Key, Sig: sig, Seq: &s}
	}
	newer, older := signed(2), signed(1)
	var gets atomic.Int64
	fake := startFakeNode(t, func(q krpc.Msg, _ *net.UDPAddr) *krpc.Msg {
		r := krpc.Return{Token: token()}
		if q.Q == "get" {
			r.Bep44Return = older
			if gets.Add(1) == 1 {
				r.Bep44Return = newer
			}
		}
		return reply(q, r)
	})
	got := make(chan protocol.DHTItem, 10)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	startDHT(ctx, &wg, DHTConfig{Bootstrap: []string{fake.LocalAddr().String()}, Stream: st,
		Every: 50 * time.Millisecond, OnItem: func(it protocol.DHTItem) { got <- it }})
	select {
	case it := <-got:
		if it.DescriptorSeq != 2 {
			t.Fatalf("first item has seq %d, want 2", it.DescriptorSeq)
		}
	case <-ctx.Done():
		t.Fatal("no item resolved")
	}
	for gets.Load() < 5 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case it := <-got:
		t.Fatalf("replayed item with seq %d reported after seq 2", it.DescriptorSeq)
	default:
	}
}

// Every node answers the get (with a token) and refuses the put: the publisher counts no
// stored copy, so it retries within seconds (spec 13.3) rather than after ItemRefresh.
func TestDHTItemPutRefusedIsRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var puts atomic.Int64
	fake := startFakeNode(t, func(q krpc.Msg, _ *net.UDPAddr) *krpc.Msg {
		if q.Q == "put" {
			puts.Add(1)
			return &krpc.Msg{T: q.T, Y: "e", E: &krpc.Error{Code: krpc.ErrorCodeSequenceNumberLessThanCurrent, Msg: "sequence number less than current"}}
		}
		return reply(q, krpc.Return{Token: token()})
	})
	st := prototest.Stream()
	d := prototest.Descriptor()
	it := protocol.DHTItemFor(st, d.Seq, d.Append(nil))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	start := time.Now()
	startDHT(ctx, &wg, DHTConfig{Bootstrap: []string{fake.LocalAddr().String()}, Stream: st, Key: prototest.PublisherKey(),
		Item: func() (protocol.DHTItem, bool) { return it, true }})
	for puts.Load() < 2 {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("%d puts in %v: a refused put was taken for a stored item", puts.Load(), time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
