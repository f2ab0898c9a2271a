package leecher

import (
	"bytes"
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/protocol"
)

func TestPlayerArgs(t *testing.T) {
	url := "http://127.0.0.1:8765/live.m3u8"
	for _, c := range []struct {
		program, url, title string
		extra               []string
		want                []string
	}{
		{"mpv", url, "News", nil, []string{"--cache=yes", "--force-media-title=News", "--", url}},
		{"/usr/bin/mpv", "", "", []string{"--vo=null"}, []string{"--cache=yes", "--vo=null", "-"}},
		{"ffplay", url, "", nil, []string{"-hide_banner", "-loglevel", "warning", "-i", url}},
		{"ffplay", "", "News", []string{"-nodisp"}, []string{"-hide_banner", "-loglevel", "warning", "-window_title", "News", "-nodisp", "-i", "pipe:0"}},
		{"vlc", url, "x", []string{"--quiet"}, []string{"--quiet", url}},
		{"vlc", "", "", nil, []string{"-"}},
	} {
		if got := PlayerArgs(c.program, c.url, c.title, c.extra); !slices.Equal(got, c.want) {
			t.Errorf("PlayerArgs(%q, %q, %q, %q) = %q, want %q", c.program, c.url, c.title, c.extra, got, c.want)
		}
	}
}

func requireFFplay(t *testing.T) {
	t.Helper()
	testmedia.RequireTool(t, "ffplay", "ffmpeg")
}

// headless ffplay: no window, a silent audio device, exit at the end of the input.
var (
	ffplayHeadless = []string{"-nodisp", "-autoexit"}
	ffplayEnv      = []string{"SDL_AUDIODRIVER=dummy"}
)

// oneSegment is the first segment of the test media re-signed as the whole stream.
func oneSegment(t *testing.T, m *media) Segment {
	pub := newPublisher(t)
	seg := m.segments[0]
	r := pub.segment(0, seg.Record.Duration, protocol.FlagEnd, nil, seg.Data)
	return Segment{Record: r, Data: seg.Data}
}

// ffplay started on the playlist URL plays the stream to its end and exits cleanly.
func TestPlayerPlaysPlaylistURL(t *testing.T) {
	requireFFplay(t)
	t.Parallel()
	m := testMedia(t, false)
	out := NewOutput(Config{Logger: testLogger(t)})
	srv := httptest.NewServer(out)
	defer srv.Close()
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := StartPlayer(ctx, PlayerConfig{Program: "ffplay", URL: srv.URL + PlaylistPath, Title: "test",
		Args: ffplayHeadless, Env: ffplayEnv, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if p.Stdin() != nil {
		t.Fatal("a URL player has a stdin pipe")
	}
	out.Deliver(oneSegment(t, m))
	if err := p.Wait(); err != nil {
		t.Fatalf("ffplay: %v\n%s", err, stderr.String())
	}
	if st := out.Stats(); st.SegmentsServed < 1 || st.PlaylistRequests < 1 {
		t.Fatalf("the player fetched nothing: %+v", st)
	}
}

// ffplay fed the byte stream on stdin plays it and exits at its end.
func TestPlayerPlaysStdin(t *testing.T) {
	requireFFplay(t)
	t.Parallel()
	m := testMedia(t, true)
	out := NewOutput(Config{Logger: testLogger(t)})
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := StartPlayer(ctx, PlayerConfig{Program: "ffplay", Args: ffplayHeadless, Env: ffplayEnv, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	st := out.NewStream(p.Stdin(), StreamConfig{})
	// One fMP4 segment with its init, as the whole stream.
	pub := newPublisher(t)
	in := pub.initSeg(m.segments[0].InitData)
	r := pub.segment(0, m.segments[0].Record.Duration, protocol.FlagEnd, in, m.segments[0].Data)
	out.Deliver(Segment{Record: r, Data: m.segments[0].Data, Init: in, InitData: m.segments[0].InitData})
	if err := st.Run(ctx); err != nil {
		t.Fatal(err)
	}
	p.Stdin().Close()
	if err := p.Wait(); err != nil {
		t.Fatalf("ffplay: %v\n%s", err, stderr.String())
	}
}

// A player on a live stream runs until stopped; Stop ends it, and so does the context.
func TestPlayerStop(t *testing.T) {
	requireFFplay(t)
	t.Parallel()
	out := NewOutput(Config{PlaylistWait: time.Minute, Logger: testLogger(t)})
	srv := httptest.NewServer(out)
	defer srv.Close()
	cfg := PlayerConfig{Program: "ffplay", URL: srv.URL + PlaylistPath, Args: ffplayHeadless, Env: ffplayEnv,
		StopTimeout: 2 * time.Second}

	p, err := StartPlayer(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ffplay to ask for the playlist", func() bool { return out.Stats().PlaylistWaits >= 1 })
	select {
	case <-p.Done():
		t.Fatal("ffplay exited on a live stream")
	default:
	}
	p.Stop()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not end the player")
	}

	ctx, cancel := context.WithCancel(context.Background())
	p, err = StartPlayer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ffplay to ask for the playlist", func() bool { return out.Stats().PlaylistWaits >= 2 })
	cancel()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the context did not end the player")
	}
}

func TestStartPlayerErrors(t *testing.T) {
	if _, err := StartPlayer(context.Background(), PlayerConfig{}); err == nil {
		t.Fatal("no program accepted")
	}
	if _, err := StartPlayer(context.Background(), PlayerConfig{Program: "no-such-player-program"}); err == nil {
		t.Fatal("a missing program started")
	}
}

// mpv (headless) plays the playlist URL and the piped stream with the launcher's flags.
func TestPlayerMPV(t *testing.T) {
	t.Parallel()
	testmedia.RequireTool(t, "mpv", "mpv")
	headless := []string{"--vo=null", "--ao=null", "--no-terminal", "--really-quiet"}
	for _, viaURL := range []bool{true, false} {
		name := map[bool]string{true: "url", false: "stdin"}[viaURL]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := testMedia(t, false)
			out := NewOutput(Config{Logger: testLogger(t)})
			srv := httptest.NewServer(out)
			defer srv.Close()
			cfg := PlayerConfig{Program: "mpv", Title: "test", Args: headless}
			if viaURL {
				cfg.URL = srv.URL + PlaylistPath
			}
			var stderr bytes.Buffer
			cfg.Stdout, cfg.Stderr = &stderr, &stderr
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p, err := StartPlayer(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var st *Stream
			if !viaURL {
				st = out.NewStream(p.Stdin(), StreamConfig{})
			}
			out.Deliver(oneSegment(t, m))
			if st != nil {
				if err := st.Run(ctx); err != nil {
					t.Fatal(err)
				}
				p.Stdin().Close()
			}
			if err := p.Wait(); err != nil {
				t.Fatalf("mpv: %v\n%s", err, stderr.String())
			}
			if viaURL && out.Stats().SegmentsServed < 1 {
				t.Fatalf("mpv fetched no segment: %+v", out.Stats())
			}
		})
	}
}
