package cliutil

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// PublicDHTRouters are the well-known mainline DHT bootstrap nodes.
var PublicDHTRouters = []string{
	"router.bittorrent.com:6881",
	"router.utorrent.com:6881",
	"dht.transmissionbt.com:6881",
	"dht.libtorrent.org:25401",
}

// DHTFlags are the DHT flags of the seeder and the leecher.
func DHTFlags(envPrefix string) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "dht", Value: true, Usage: "find peers through the mainline DHT (--dht=false for a private stream)", EnvVars: []string{envPrefix + "DHT"}},
		&cli.StringFlag{Name: "dht-listen", Value: "0.0.0.0:0", Usage: "UDP address of the DHT node", EnvVars: []string{envPrefix + "DHT_LISTEN"}},
		&cli.StringFlag{Name: "dht-state", Value: "auto", Usage: "file keeping the DHT node id and routing table across restarts (\"auto\": in the user cache directory; \"\": not kept)", EnvVars: []string{envPrefix + "DHT_STATE"}},
		&cli.StringSliceFlag{Name: "dht-bootstrap", Value: cli.NewStringSlice(PublicDHTRouters...), Usage: "DHT nodes to join through (repeatable)", EnvVars: []string{envPrefix + "DHT_BOOTSTRAP"}},
	}
}

// DHTStateFileFor resolves the --dht-state value for a role ("seeder", "leecher") and the
// --dht-bootstrap list: "auto" is a file in the user cache directory, or none when there is
// no such directory. Runs joining the public routers share dht-<role>.json; any other list
// (an empty one included) gets its own file, dht-<role>-<short hash of the list>.json, so a
// run pointed at private bootstrap nodes never starts from public nodes saved by a public
// run, which would send them the private stream's info-hash (spec 13.2), nor the reverse.
// The list's order and repeats do not matter.
func DHTStateFileFor(flag, role string, bootstrap []string) string {
	if flag != "auto" {
		return flag
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	name := "dht-" + role
	if set := bootstrapSet(bootstrap); !slices.Equal(set, bootstrapSet(PublicDHTRouters)) {
		sum := sha256.Sum256([]byte(strings.Join(set, "\n")))
		name += "-" + hex.EncodeToString(sum[:4])
	}
	return filepath.Join(dir, "livetorrent", name+".json")
}

// bootstrapSet is a bootstrap list sorted, lower-cased and without repeats.
func bootstrapSet(boot []string) []string {
	var set []string
	for _, b := range boot {
		set = append(set, strings.ToLower(strings.TrimSpace(b)))
	}
	slices.Sort(set)
	return slices.Compact(set)
}
