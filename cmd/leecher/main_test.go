package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/livetorrent/livetorrent/internal/cliutil"
)

func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cliutil.Run(newApp(&out, &errOut), append([]string{"leecher"}, args...), &errOut)
	return code, out.String() + errOut.String()
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, cliutil.ExitUsage},
		{[]string{"play"}, cliutil.ExitUsage},
		{[]string{"not-a-link"}, cliutil.ExitConfig},
		{[]string{"magnet:?xs=urn:btpk:00"}, cliutil.ExitConfig},
		{[]string{"--download-rate", "-3", "magnet:?x"}, cliutil.ExitUsage},
		// A valid key-only link with the DHT off has no way to find peers: a configuration
		// error. (With the DHT on it would join the public DHT, which tests never do.)
		{[]string{"--dht=false", "magnet:?xs=urn:btpk:" + strings.Repeat("ab", 32)}, cliutil.ExitConfig},
	} {
		if code, out := runCLI(t, c.args...); code != c.want {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, c.want, out)
		}
	}
	// Limits out of their bounds are refused before anything starts.
	link := "magnet:?xs=urn:btpk:" + strings.Repeat("ab", 32) + "&x.pe=127.0.0.1:1"
	for _, c := range []struct {
		args []string
		want int
		says string
	}{
		{[]string{"--max-message", "1K"}, cliutil.ExitConfig, "max message"},
		{[]string{"--max-message", "lots"}, cliutil.ExitUsage, "--max-message"},
		{[]string{"--request-queue", "100000"}, cliutil.ExitConfig, "request queue"},
		{[]string{"--peer-idle-timeout", "10ms"}, cliutil.ExitConfig, "idle timeout"},
		{[]string{"--window-memory", "1M"}, cliutil.ExitConfig, "window memory"},
		{[]string{"--max-inbound-per-ip", "-1"}, cliutil.ExitConfig, "per IP"},
		{[]string{"--max-peers-per-ip", "-1"}, cliutil.ExitConfig, "max peers per IP"},
		{[]string{"--allow-origin", "player.example"}, cliutil.ExitUsage, "--allow-origin"},
		{[]string{"--dht", "--dht-listen", "127.0.0.1:99999"}, cliutil.ExitConfig, "dht listen"},
		{[]string{"--allow-origin", "https://player.example/page"}, cliutil.ExitUsage, "--allow-origin"},
		{[]string{"--startup-delay", "1m"}, cliutil.ExitConfig, "startup delay"},
		{[]string{"--startup-delay", "-1s"}, cliutil.ExitConfig, "startup delay"},
		{[]string{"--latency", "-1s"}, cliutil.ExitConfig, "latency"},
		{[]string{"--latency", "1h"}, cliutil.ExitConfig, "latency"},
		{[]string{"--target-peers", "0"}, cliutil.ExitUsage, "--target-peers"},
		{[]string{"--max-peers", "0"}, cliutil.ExitUsage, "--max-peers"},
		{[]string{"--record-rate", "0"}, cliutil.ExitUsage, "--record-rate"},
		{[]string{"--peer-idle-timeout", "0s"}, cliutil.ExitUsage, "--peer-idle-timeout"},
		{[]string{"--window-memory", "0"}, cliutil.ExitUsage, "--window-memory"},
		{[]string{"--max-peers", "20", "--target-peers", "50"}, cliutil.ExitConfig, "target peers"},
	} {
		args := append(append([]string{"--dht=false"}, c.args...), link)
		if code, out := runCLI(t, args...); code != c.want || !strings.Contains(out, c.says) {
			t.Errorf("%v: exit %d, want %d saying %q\n%s", c.args, code, c.want, c.says, out)
		}
	}
	// Flags typed before "play" apply to it: here the latency is refused. (Before, play ran
	// with its own defaults for every flag typed before it, the DHT included.)
	if code, out := runCLI(t, "--latency", "1h", "play", "--dht=false", link); code != cliutil.ExitConfig || !strings.Contains(out, "latency") {
		t.Errorf("--latency before play: exit %d, want %d saying latency\n%s", code, cliutil.ExitConfig, out)
	}
	if code, out := runCLI(t, "--help"); code != 0 || !strings.Contains(out, "| mpv -") {
		t.Errorf("help: %d\n%s", code, out)
	}
}
