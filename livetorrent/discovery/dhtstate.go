package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/anacrolix/dht/v2/krpc"

	"github.com/livetorrent/livetorrent/protocol"
)

// The routing table is saved as a small JSON file: the node id (BEP 5 asks a node to keep
// it across restarts) and the addresses of the good nodes it knew, so a restarted node
// rejoins through them without the bootstrap routers. Network names the bootstrap list the
// nodes were met through (bootstrapNetwork), so a run told to join other bootstrap nodes
// does not contact them (spec 13.2: a private stream never reaches public nodes).
type dhtState struct {
	ID      string   `json:"id"`
	Network string   `json:"network,omitempty"`
	Nodes   []string `json:"nodes"`
}

// bootstrapNetwork names the DHT a bootstrap list joins: a short hash of its entries,
// sorted and without duplicates, so the same list in any order names the same network.
func bootstrapNetwork(boot []string) string {
	var hs []string
	for _, b := range boot {
		hs = append(hs, strings.ToLower(strings.TrimSpace(b)))
	}
	slices.Sort(hs)
	sum := sha256.Sum256([]byte(strings.Join(slices.Compact(hs), "\n")))
	return hex.EncodeToString(sum[:8])
}

const (
	maxStateFile  = 1 << 20
	maxStateNodes = 512
)

// loadDHTState reads a saved routing table and the network it belongs to ("" in files from
// before it was recorded). A missing file is not an error; a damaged one is, and the caller
// starts afresh.
func loadDHTState(path string) (id *krpc.ID, nodes []netip.AddrPort, network string, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, "", nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return nil, nil, "", err
	}
	id, nodes, network, err = parseDHTState(b)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return id, nodes, network, nil
}

// parseDHTState decodes a state file's bytes, keeping at most maxStateNodes usable node
// addresses; an id that is not 40 hex digits is dropped, not an error.
func parseDHTState(b []byte) (id *krpc.ID, nodes []netip.AddrPort, network string, err error) {
	if len(b) > maxStateFile {
		return nil, nil, "", fmt.Errorf("larger than %d bytes", maxStateFile)
	}
	var st dhtState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, nil, "", err
	}
	if raw, err := hex.DecodeString(st.ID); err == nil && len(raw) == 20 {
		id = new(krpc.ID)
		copy(id[:], raw)
	}
	for _, s := range st.Nodes {
		ap, err := netip.ParseAddrPort(s)
		if err != nil || !protocol.UsableAddr(ap) || len(nodes) >= maxStateNodes {
			continue
		}
		nodes = append(nodes, ap)
	}
	return id, nodes, st.Network, nil
}

// saveDHTState writes the node id, the network and the nodes' addresses atomically
// (temporary file and rename), so a crash never leaves half a file.
func saveDHTState(path, network string, id [20]byte, nodes []krpc.NodeInfo) error {
	st := dhtState{ID: hex.EncodeToString(id[:]), Network: network}
	for _, n := range nodes {
		ip, _ := netip.AddrFromSlice(n.Addr.IP)
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(n.Addr.Port))
		if !protocol.UsableAddr(ap) || len(st.Nodes) >= maxStateNodes {
			continue
		}
		st.Nodes = append(st.Nodes, ap.String())
	}
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dht-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
