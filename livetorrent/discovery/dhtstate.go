package discovery

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/anacrolix/dht/v2/krpc"

	"github.com/livetorrent/livetorrent/protocol"
)

// The routing table is saved as a small JSON file: the node id (BEP 5 asks a node to keep
// it across restarts) and the addresses of the good nodes it knew, so a restarted node
// rejoins through them without the bootstrap routers.
type dhtState struct {
	ID    string   `json:"id"`
	Nodes []string `json:"nodes"`
}

const (
	maxStateFile  = 1 << 20
	maxStateNodes = 512
)

// loadDHTState reads a saved routing table. A missing file is not an error; a damaged one
// is, and the caller starts afresh.
func loadDHTState(path string) (id *krpc.ID, nodes []netip.AddrPort, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return nil, nil, err
	}
	id, nodes, err = parseDHTState(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return id, nodes, nil
}

// parseDHTState decodes a state file's bytes, keeping at most maxStateNodes usable node
// addresses; an id that is not 40 hex digits is dropped, not an error.
func parseDHTState(b []byte) (id *krpc.ID, nodes []netip.AddrPort, err error) {
	if len(b) > maxStateFile {
		return nil, nil, fmt.Errorf("larger than %d bytes", maxStateFile)
	}
	var st dhtState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, nil, err
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
	return id, nodes, nil
}

// saveDHTState writes the node id and the nodes' addresses atomically (temporary file and
// rename), so a crash never leaves half a file.
func saveDHTState(path string, id [20]byte, nodes []krpc.NodeInfo) error {
	st := dhtState{ID: hex.EncodeToString(id[:])}
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
