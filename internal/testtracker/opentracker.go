package testtracker

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/livetorrent/livetorrent/internal/testmedia"
)

// Opentracker starts the opentracker binary on a free loopback port, serving HTTP and UDP,
// for the given info-hashes (Debian builds it whitelist-only). It returns the HTTP and UDP
// announce URLs and stops the process when the test ends.
func Opentracker(t testing.TB, infoHashes ...[20]byte) (httpURL, udpURL string) {
	t.Helper()
	bin := testmedia.RequireTool(t, "opentracker", "opentracker")
	dir := t.TempDir()
	// Running as root, opentracker chroots into dir and drops to nobody: everything it
	// reads must be world-readable and named relative to dir.
	os.Chmod(dir, 0o755)
	var wl strings.Builder
	for _, ih := range infoHashes {
		wl.WriteString(hex.EncodeToString(ih[:]) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "whitelist"), []byte(wl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		var out bytes.Buffer
		cmd := exec.Command(bin, "-i", "127.0.0.1", "-p", port, "-P", port, "-d", dir, "-w", "whitelist")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		httpURL = "http://127.0.0.1:" + port + "/announce"
		if waitHTTP(httpURL, exited) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return httpURL, "udp://127.0.0.1:" + port + "/announce"
		}
		cmd.Process.Kill()
		<-exited
		t.Logf("opentracker on port %s did not start: %s", port, out.String())
	}
	t.Fatal("opentracker did not start")
	return "", ""
}

// freePort returns a loopback port that was free for both TCP and UDP a moment ago.
func freePort(t testing.TB) string {
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		pc, err := net.ListenPacket("udp4", "127.0.0.1:"+port)
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
}

func waitHTTP(u string, exited <-chan struct{}) bool {
	c := &http.Client{Timeout: time.Second}
	for range 50 {
		select {
		case <-exited:
			return false
		default:
		}
		if resp, err := c.Get(strings.Replace(u, "/announce", "/stats", 1)); err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// Seeds asks a tracker's scrape URL how many seeds (peers with nothing left) it holds for ih.
func Seeds(announceURL string, ih [20]byte) (int, error) {
	u := strings.Replace(announceURL, "/announce", "/scrape", 1) + "?info_hash=" + url.QueryEscape(string(ih[:]))
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return 0, err
	}
	var sc struct {
		Files map[string]struct {
			Complete int `bencode:"complete"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(b, &sc); err != nil {
		return 0, fmt.Errorf("scrape: %w (%q)", err, b)
	}
	return sc.Files[string(ih[:])].Complete, nil
}
