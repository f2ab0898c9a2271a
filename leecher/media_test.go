package leecher

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"
)

// A real player (ffmpeg's HLS demuxer) plays the local live playlist while the segments
// arrive: it asks for the playlist before the first segment exists (the request waits),
// reloads as segments come in, and stops at EXT-X-ENDLIST. It must decode every frame of
// the original encode without one error.
func TestHTTPPlaylistPlaysWithFFmpeg(t *testing.T) {
	t.Parallel()
	for _, fmp4 := range []bool{false, true} {
		name := map[bool]string{false: "mpegts", true: "fmp4"}[fmp4]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := testMedia(t, fmp4)
			out := NewOutput(Config{TargetDuration: 2 * time.Second, Logger: testLogger(t)})
			srv := httptest.NewServer(out)
			defer srv.Close()

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-nostdin", "-rw_timeout", "20000000"},
				decodeArgs(srv.URL+PlaylistPath)...)...)
			frames := make(chan int, 1)
			go func() { frames <- runCountFrames(t, cmd) }()

			// Let ffmpeg's first playlist request arrive before any segment.
			waitFor(t, "the player's first playlist request", func() bool { return out.Stats().PlaylistWaits > 0 })
			for _, seg := range m.segments {
				out.Deliver(seg)
				time.Sleep(200 * time.Millisecond) // segments trickle in as from a swarm
			}
			var n int
			select {
			case n = <-frames:
			case <-ctx.Done():
				t.Fatal("ffmpeg did not finish")
			}
			if n != m.frames || n < 190 {
				t.Fatalf("ffmpeg decoded %d frames from the local playlist, %d from the origin files", n, m.frames)
			}
			st := out.Stats()
			t.Logf("%d frames; %+v", n, st)
			if st.SegmentsDelivered != int64(len(m.segments)) || st.MissingAhead+st.MissingEvicted != 0 ||
				st.SegmentsServed < int64(len(m.segments)) || st.BytesServed == 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// The byte stream piped into ffmpeg (as into `mpv -`) decodes every frame without error:
// MPEG-TS segments back to back, and fMP4 as one init segment and the fragments.
func TestStreamPipesIntoFFmpeg(t *testing.T) {
	t.Parallel()
	for _, fmp4 := range []bool{false, true} {
		name := map[bool]string{false: "mpegts", true: "fmp4"}[fmp4]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := testMedia(t, fmp4)
			out := NewOutput(Config{Logger: testLogger(t)})

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "ffmpeg", decodeArgs("pipe:0")...)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			st := out.NewStream(stdin, StreamConfig{MaxSegments: len(m.segments)})
			runErr := make(chan error, 1)
			go func() {
				err := st.Run(ctx)
				stdin.Close()
				runErr <- err
			}()
			frames := make(chan int, 1)
			go func() { frames <- runCountFrames(t, cmd) }()
			for _, seg := range m.segments {
				out.Deliver(seg)
			}
			if err := <-runErr; err != nil {
				t.Fatal(err)
			}
			if n := <-frames; n != m.frames {
				t.Fatalf("ffmpeg decoded %d frames from the stream, %d from the origin files", n, m.frames)
			}
			want := 0
			for _, seg := range m.segments {
				want += len(seg.Data)
			}
			if fmp4 {
				want += len(m.segments[0].InitData) // written once
			}
			if s := st.Stats(); s.Bytes != int64(want) || s.Segments != int64(len(m.segments)) || s.Dropped != 0 {
				t.Fatalf("stream stats %+v, want %d bytes", s, want)
			}
		})
	}
}

// The stream's bytes are exactly the segments' bytes, so nothing is lost or reordered
// between the engine and the player.
func TestStreamBytesAreTheSegments(t *testing.T) {
	m := testMedia(t, true)
	out := NewOutput(Config{Logger: testLogger(t)})
	var buf bytes.Buffer
	st := out.NewStream(&buf, StreamConfig{MaxSegments: 16})
	for _, seg := range m.segments {
		out.Deliver(seg)
	}
	if err := st.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), m.segments[0].InitData...)
	for _, seg := range m.segments {
		want = append(want, seg.Data...)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("stream is %d bytes, want the %d bytes of init + segments", buf.Len(), len(want))
	}
}
