package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livetorrent/livetorrent/internal/cliutil"
	"github.com/livetorrent/livetorrent/protocol"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cliutil.Run(newApp(&out, &errOut), append([]string{"seeder"}, args...), &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageErrors(t *testing.T) {
	if code, _, _ := run(t); code != cliutil.ExitUsage {
		t.Errorf("no source: exit %d", code)
	}
	if code, _, _ := run(t, "--no-such-flag", "x"); code != cliutil.ExitUsage {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code, _, _ := run(t, "--upload-rate", "fast", "x"); code != cliutil.ExitUsage {
		t.Errorf("bad rate: exit %d", code)
	}
	for _, args := range [][]string{{"--copies", "0"}, {"--copies", "-2"}, {"--piece-size", "0"}, {"--piece-size", "-5"},
		{"--piece-size", "20000"}, {"--piece-size", "4194304"}, {"--variant", "-3"}, {"--window", "0s"}, {"--window", "-1s"}} {
		if code, _, errOut := run(t, append(args, "x")...); code != cliutil.ExitUsage || !strings.Contains(errOut, args[0]) {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
	}
	// Addresses and trackers go into the link: one viewers would refuse is refused here.
	key := filepath.Join(t.TempDir(), "k.pem")
	for _, args := range [][]string{{"--advertise", "seed.example.net"}, {"--tracker", "ftp://bad tracker"}} {
		full := append([]string{"--key", key, "--listen", "127.0.0.1:0", "--dht=false"}, append(args, "x.m3u8")...)
		if code, _, errOut := run(t, full...); code != cliutil.ExitConfig || !strings.Contains(errOut, args[1]) {
			t.Errorf("%v: exit %d\n%s", args, code, errOut)
		}
	}
	if code, out, _ := run(t, "--help"); code != 0 || !strings.Contains(out, "Examples:") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
}

func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	code, out, errOut := run(t, "keygen", "--key", path)
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errOut)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	priv, err := protocol.ParseKeyFile(b)
	if err != nil || strings.TrimSpace(out) != protocol.StreamOf(priv, nil).Key.String() {
		t.Fatalf("printed %q for the key in the file (%v)", out, err)
	}
	if code, _, _ := run(t, "keygen", "--key", path); code != cliutil.ExitConfig {
		t.Errorf("keygen over an existing file: exit %d", code)
	}
	// --key before keygen names the file too (it used to create seeder.key here instead).
	path2 := filepath.Join(t.TempDir(), "k2.pem")
	if code, _, errOut := run(t, "--key", path2, "keygen"); code != 0 {
		t.Fatalf("--key before keygen: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(path2); err != nil {
		t.Fatalf("--key before keygen: %v", err)
	}
	os.Chmod(path, 0o644)
	if code, _, errOut := run(t, "--key", path, "--listen", "127.0.0.1:0", "x.m3u8"); code != cliutil.ExitConfig || !strings.Contains(errOut, "600") {
		t.Errorf("world-readable key: exit %d: %s", code, errOut)
	}
}
