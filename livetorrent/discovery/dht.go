package discovery

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	alog "github.com/anacrolix/log"
	"golang.org/x/time/rate"

	"github.com/livetorrent/livetorrent/protocol"
)

// DHTConfig describes a member's use of the mainline DHT (BEP 5).
type DHTConfig struct {
	// Listen is the UDP address of the DHT node, e.g. "0.0.0.0:6881" or "127.0.0.1:0".
	Listen string
	// Conn, when set, is the node's socket, already bound (Listen is then unused); RunDHT
	// closes it.
	Conn net.PacketConn
	// Bootstrap lists host:port of nodes to join through. There is deliberately no default:
	// the commands pass the public routers, tests pass their own loopback nodes.
	Bootstrap []string
	InfoHash  protocol.InfoHash
	Port      uint16        // our TCP listen port, announced to the DHT; 0 = look up only
	Every     time.Duration // lookup (and announce) period (default 5 min)
	MaxPeers  int           // peers taken from one lookup (default 200)
	Logger    *slog.Logger
	OnPeers   func(peers []netip.AddrPort)
	// OnReady is called with the node's UDP address once it listens.
	OnReady func(addr net.Addr)
	// StateFile, when set, keeps the node id and routing table across restarts: it is read
	// at start (its nodes join the bootstrap list) and written every SaveEvery and at exit.
	// It records the bootstrap list it was saved through; a run with another list ignores
	// it (see claimState).
	StateFile string
	SaveEvery time.Duration // default 5 min

	// The stream's BEP 44 item (spec section 13.3). Stream gives its key and salt.
	Stream protocol.Stream
	// Item, with Key, makes this node the item's publisher: it puts what Item returns
	// whenever that changes and every ItemRefresh (default 30 min). ok is false while there
	// is nothing to publish yet.
	Item        func() (it protocol.DHTItem, ok bool)
	Key         ed25519.PrivateKey
	ItemRefresh time.Duration
	// OnItem, when set, makes this node resolve the item: it is called with each newer item
	// whose signature, swarm and layout verify.
	OnItem func(protocol.DHTItem)
}

// RunDHT runs a DHT node until ctx ends: it joins through the bootstrap nodes, then looks
// the swarm up (announcing our port) every period and reports the peers found.
func RunDHT(ctx context.Context, cfg DHTConfig) error {
	if cfg.Every <= 0 {
		cfg.Every = 5 * time.Minute
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = 200
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ItemRefresh <= 0 {
		cfg.ItemRefresh = defaultItemRefresh
	}
	if cfg.SaveEvery <= 0 {
		cfg.SaveEvery = 5 * time.Minute
	}
	if cfg.Item != nil && cfg.Key == nil {
		if cfg.Conn != nil {
			cfg.Conn.Close()
		}
		return errors.New("dht: an item to publish needs the key")
	}
	sc := dht.NewDefaultServerConfig()
	stateFile, network, id, saved, release := claimState(cfg.StateFile, cfg.Bootstrap, cfg.Logger)
	defer release()
	cfg.StateFile = stateFile
	if id != nil {
		sc.NodeId = *id
	}
	boot := append(slices.Clone(cfg.Bootstrap), saved...)
	conn := cfg.Conn
	if conn == nil {
		var err error
		if conn, err = net.ListenPacket("udp4", cfg.Listen); err != nil {
			return fmt.Errorf("dht listen: %w", err)
		}
	}
	sc.Conn = conn
	sc.StartingNodes = func() ([]dht.Addr, error) { return resolve(boot) }
	sc.PeerStore = newPeerStore()
	sc.Store, sc.Exp = newItemStore(cfg.Stream), itemExpiry
	// The library's default limiter is shared by every server in the process.
	sc.SendLimiter = rate.NewLimiter(100, 200)
	sc.DefaultWant = []krpc.Want{krpc.WantNodes}
	sc.Logger = alog.Default.FilterLevel(alog.Error)
	s, err := dht.NewServer(sc)
	if err != nil {
		conn.Close()
		return err
	}
	defer s.Close()
	if cfg.OnReady != nil {
		cfg.OnReady(s.Addr())
	}
	if len(boot) > 0 {
		// A bootstrap cut short by its deadline keeps the nodes it met; the lookups go on.
		if n, err := bootstrap(ctx, s); err != nil && ctx.Err() == nil {
			cfg.Logger.Warn("dht bootstrap", "err", err, "responses", n, "nodes", s.NumNodes())
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	if cfg.Item != nil {
		wg.Add(1)
		go func() { defer wg.Done(); publishItems(ctx, s, cfg) }()
	}
	if cfg.OnItem != nil {
		wg.Add(1)
		go func() { defer wg.Done(); resolveItems(ctx, s, cfg) }()
	}
	save := func() {
		if cfg.StateFile == "" {
			return
		}
		if err := saveDHTState(cfg.StateFile, network, s.ID(), s.Nodes()); err != nil {
			cfg.Logger.Warn("dht state not saved", "err", err)
		}
	}
	defer save()
	lastSave := time.Now()
	for {
		peers := lookup(ctx, s, cfg)
		cfg.Logger.Debug("dht lookup", "peers", len(peers), "nodes", s.NumNodes())
		if len(peers) > 0 && cfg.OnPeers != nil {
			cfg.OnPeers(peers)
		}
		if time.Since(lastSave) >= cfg.SaveEvery {
			save()
			lastSave = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(cfg.Every):
		}
	}
}

// claimState takes the state file for this process (creating its folder) and reads it: the
// node id and the saved nodes' addresses. file is "" when no state is kept, because none was
// asked for or another process holds it; release frees it. network is what the state will
// be saved under: the bootstrap list's (bootstrapNetwork), or with no bootstrap list, the
// file's own.
//
// A file saved through other bootstrap nodes (or by a version that did not record them) is
// not used: its nodes may be public ones, and an operator who named private bootstrap nodes
// must not have the stream's info-hash sent to them (spec 13.2), nor the same node id seen
// in both networks. Such a file is overwritten at the next save. A run with no bootstrap
// list rejoins through whatever the file holds: the file is then its only configuration.
func claimState(path string, bootstrap []string, log *slog.Logger) (file, network string, id *krpc.ID, nodes []string, release func()) {
	if path == "" {
		return "", "", nil, nil, func() {}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		log.Warn("dht state directory", "err", err)
	}
	release, ok := lockState(path)
	if !ok {
		log.Info("dht state file in use by another process; not keeping state", "file", path)
		return "", "", nil, nil, func() {}
	}
	id, saved, network, err := loadDHTState(path)
	if err != nil {
		log.Warn("dht state not loaded; starting afresh", "err", err)
	}
	if len(bootstrap) > 0 {
		if want := bootstrapNetwork(bootstrap); network != want {
			if len(saved) > 0 {
				log.Info("dht state saved through other bootstrap nodes; not using it", "file", path)
			}
			id, saved, network = nil, nil, want
		}
	}
	for _, ap := range saved {
		nodes = append(nodes, ap.String())
	}
	log.Debug("dht state loaded", "nodes", len(nodes))
	return path, network, id, nodes, release
}

func resolve(hostports []string) ([]dht.Addr, error) {
	var out []dht.Addr
	for _, hp := range hostports {
		ua, err := net.ResolveUDPAddr("udp4", hp)
		if err != nil {
			continue
		}
		out = append(out, dht.NewAddr(ua))
	}
	return out, nil
}
