package app

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// A leecher whose metrics server fails while it plays logs the failure, as the seeder
// does, and goes on playing; its Run ends without an error when it is stopped.
func TestStatusServerFailureIsLoggedAndPlaybackGoesOn(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	sd, _ := sampleSwarm(t, ctx, &wg, SeederConfig{Key: prototest.Key("status failure"), Name: "status failure"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	l, err := NewLeecher(LeecherConfig{Link: sd.Link().String(), Listen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0",
		NoOrigin: true, Status: StatusOptions{Listener: ln}, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		HTTP: testmedia.LoopbackHTTP(), Dial: testmedia.LoopbackDial})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run(ctx) }()
	client := testmedia.LoopbackHTTP()
	// The newest segment the playlist lists (it is a sliding window: its length stops growing).
	newest := func() string {
		segs, _ := fetchPlaylist(client, l.PlaylistURL())
		if len(segs) == 0 {
			return ""
		}
		return segs[len(segs)-1]
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s after 30 s; log:\n%s", what, logs.Bytes())
			}
		}
	}
	waitFor("segment", func() bool { return newest() != "" })

	ln.Close() // the metrics server's Accept fails: Serve returns
	waitFor("logged failure", func() bool { return bytes.Contains(logs.Bytes(), []byte("status server")) })
	before := newest()
	waitFor("new segment after the failure", func() bool { n := newest(); return n != "" && n != before })

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run returned %v; a failed metrics server is not the leecher's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30 s after the context ended")
	}
}
