package cliutil

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The default DHT state file depends on the bootstrap list: public runs keep dht-<role>.json
// (whatever the list's order), every other list gets its own file, the same for the same
// list in any order; an explicit --dht-state is used as given.
func TestDHTStateFileForBootstrap(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	public := DHTStateFileFor("auto", "leecher", PublicDHTRouters)
	if filepath.Base(public) != "dht-leecher.json" {
		t.Fatalf("public state file %q", public)
	}
	reversed := slices.Clone(PublicDHTRouters)
	slices.Reverse(reversed)
	if got := DHTStateFileFor("auto", "leecher", reversed); got != public {
		t.Errorf("public routers in another order: %q", got)
	}
	priv := DHTStateFileFor("auto", "leecher", []string{"10.0.0.1:6881", "10.0.0.2:6881"})
	if priv == public || filepath.Dir(priv) != filepath.Dir(public) || !strings.HasPrefix(filepath.Base(priv), "dht-leecher-") {
		t.Errorf("private state file %q (public %q)", priv, public)
	}
	if got := DHTStateFileFor("auto", "leecher", []string{"10.0.0.2:6881", "10.0.0.1:6881", "10.0.0.2:6881"}); got != priv {
		t.Errorf("same private list reordered: %q, want %q", got, priv)
	}
	for _, other := range [][]string{{"10.0.0.1:6881"}, nil, append(slices.Clone(PublicDHTRouters), "10.0.0.1:6881")} {
		if got := DHTStateFileFor("auto", "leecher", other); got == priv || got == public {
			t.Errorf("bootstrap %q shares state file %q", other, got)
		}
	}
	if got := DHTStateFileFor("auto", "seeder", []string{"10.0.0.1:6881", "10.0.0.2:6881"}); got == priv {
		t.Errorf("roles share %q", got)
	}
	if got := DHTStateFileFor("/tmp/x.json", "leecher", nil); got != "/tmp/x.json" {
		t.Errorf("explicit file: %q", got)
	}
}
