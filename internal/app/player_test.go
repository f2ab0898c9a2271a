package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// TestPlayerStartsWithTheFirstSegment: with an HTTP output, --player starts only once the
// playlist lists a segment. Started at once, a player given a playlist with no segment yet
// gave up (mpv after a few 503s), and its exit ended the session silently.
func TestPlayerStartsWithTheFirstSegment(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	player := filepath.Join(dir, "fakeplayer")
	// A player that notes its arguments, then plays until it is stopped.
	script := "#!/bin/sh\necho \"$@\" > " + started + ".tmp && mv " + started + ".tmp " + started + "\nexec sleep 60\n"
	if err := os.WriteFile(player, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("player start")})
	l := startLeecher(t, ctx, &wg, LeecherConfig{Link: sd.Link().String(), HTTPListen: "127.0.0.1:0", Player: player})
	for ctx.Err() == nil {
		if b, err := os.ReadFile(started); err == nil {
			if held := l.Out.Stats().SegmentsDelivered; held < 1 {
				t.Fatalf("the player started with %d segments held", held)
			}
			if !strings.Contains(string(b), l.PlaylistURL()) {
				t.Fatalf("player arguments %q lack the playlist URL %s", b, l.PlaylistURL())
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the player never started")
}

// TestMissingPlayerRefusedAtStart: a --player that is not installed is a configuration
// error before the swarm is joined, not a failure after it.
func TestMissingPlayerRefusedAtStart(t *testing.T) {
	_, err := NewLeecher(LeecherConfig{Link: "magnet:?xs=urn:btpk:" + strings.Repeat("ab", 32) + "&x.pe=127.0.0.1:1",
		Player: "no-such-player-for-livetorrent"})
	if err == nil || !strings.Contains(err.Error(), "player") {
		t.Fatalf("NewLeecher with a missing player: %v", err)
	}
}

// TestStreamReaderGoingAwayIsAStop: a stdout stream whose reader goes away (`| head`, a
// player that quit) ends the session without an error.
func TestStreamReaderGoingAwayIsAStop(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("stream reader")})
	l, err := NewLeecher(LeecherConfig{Link: sd.Link().String(), Stdout: w, Listen: "127.0.0.1:0",
		HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	buf := make([]byte, 64<<10)
	if _, err := r.Read(buf); err != nil { // the stream started
		t.Fatal(err)
	}
	r.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after the reader left: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not end after the reader left")
	}
}
