package cliutil

import (
	"os"
	"path/filepath"

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

// DHTStateFile resolves the --dht-state value for a role ("seeder", "leecher"): "auto" is a
// file in the user cache directory, or none when there is no such directory.
func DHTStateFile(flag, role string) string {
	if flag != "auto" {
		return flag
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "livetorrent", "dht-"+role+".json")
}
