// Package testmedia makes real HLS media for tests: ffmpeg encodes a synthetic picture and
// tone into a folder (as a finished VOD or as a live stream in real time), and an HTTP
// server on loopback serves the folder as an origin.
package testmedia

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Options describe the encode. Zero values take small defaults that keep two cores free.
type Options struct {
	Width, Height int           // default 320x180
	FPS           int           // default 25
	Segment       time.Duration // HLS segment length, default 1 s
	Duration      time.Duration // VOD length (live: how long ffmpeg runs), default 6 s
	VideoBitrate  string        // default "300k"
	FMP4          bool          // CMAF/fMP4 segments instead of MPEG-TS
	Live          bool          // encode in real time (-re) with a sliding playlist
	ListSize      int           // live playlist length in segments, default 6
	PlaylistName  string        // default "index.m3u8"
}

func (o *Options) defaults() {
	if o.Width == 0 {
		o.Width, o.Height = 320, 180
	}
	if o.FPS == 0 {
		o.FPS = 25
	}
	if o.Segment == 0 {
		o.Segment = time.Second
	}
	if o.Duration == 0 {
		o.Duration = 6 * time.Second
	}
	if o.VideoBitrate == "" {
		o.VideoBitrate = "300k"
	}
	if o.ListSize == 0 {
		o.ListSize = 6
	}
	if o.PlaylistName == "" {
		o.PlaylistName = "index.m3u8"
	}
}

// RequireToolsEnv, when set to 1, turns a missing external tool into a failure instead of a
// skip: CI sets it so that a test cannot pass by not running.
const RequireToolsEnv = "LIVETORRENT_REQUIRE_TOOLS"

// RequireTool returns the path of an external program, or skips the test when it is not
// installed (fails under RequireToolsEnv=1). pkg is the Debian package that provides it.
func RequireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(RequireToolsEnv) == "1" {
			t.Fatalf("%s not installed and %s=1", name, RequireToolsEnv)
		}
		t.Skipf("%s not installed: apt-get install -y %s", name, pkg)
	}
	return p
}

// RequireFFmpeg returns the path of ffmpeg or skips the test (see RequireTool).
func RequireFFmpeg(t testing.TB) string { return RequireTool(t, "ffmpeg", "ffmpeg") }

// Args returns the ffmpeg arguments for the encode into dir.
func Args(dir string, o Options) []string {
	o.defaults()
	gop := strconv.Itoa(int(o.Segment.Seconds() * float64(o.FPS)))
	secs := strconv.FormatFloat(o.Duration.Seconds(), 'f', 3, 64)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	if o.Live {
		args = append(args, "-re")
	}
	args = append(args,
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", o.Width, o.Height, o.FPS),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", secs,
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-b:v", o.VideoBitrate, "-maxrate", o.VideoBitrate, "-bufsize", o.VideoBitrate,
		"-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
		"-force_key_frames", "expr:gte(t,n_forced*"+strconv.FormatFloat(o.Segment.Seconds(), 'f', 3, 64)+")",
		"-c:a", "aac", "-b:a", "64k", "-ac", "2",
		"-f", "hls", "-hls_time", strconv.FormatFloat(o.Segment.Seconds(), 'f', 3, 64),
	)
	flags := "independent_segments+program_date_time"
	if o.Live {
		args = append(args, "-hls_list_size", strconv.Itoa(o.ListSize))
		flags += "+temp_file"
	} else {
		args = append(args, "-hls_list_size", "0", "-hls_playlist_type", "vod")
	}
	args = append(args, "-hls_flags", flags)
	if o.FMP4 {
		args = append(args, "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
			"-hls_segment_filename", filepath.Join(dir, "seg%05d.m4s"))
	} else {
		args = append(args, "-hls_segment_filename", filepath.Join(dir, "seg%05d.ts"))
	}
	return append(args, filepath.Join(dir, o.PlaylistName))
}

// EncodeVOD writes a finished HLS stream into dir and returns the playlist path.
func EncodeVOD(t testing.TB, dir string, o Options) string {
	t.Helper()
	ffmpeg := RequireFFmpeg(t)
	o.Live = false
	o.defaults()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffmpeg, Args(dir, o)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return filepath.Join(dir, o.PlaylistName)
}

// StartLive starts ffmpeg encoding a live stream into dir in real time and returns once the
// playlist exists. The encoder is stopped when the test ends.
func StartLive(t testing.TB, dir string, o Options) string {
	t.Helper()
	ffmpeg := RequireFFmpeg(t)
	o.Live = true
	o.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, ffmpeg, Args(dir, o)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	pl := filepath.Join(dir, o.PlaylistName)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(pl); err == nil {
			return pl
		}
		select {
		case <-done:
			t.Fatal("ffmpeg exited before writing a playlist")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no playlist after 30 s")
		}
	}
}

// Origin is an HTTP server on loopback serving a folder, counting bytes served.
type Origin struct {
	URL    string // base URL, e.g. http://127.0.0.1:PORT/
	server *http.Server
	served *counter
}

// Serve starts an origin for dir on 127.0.0.1; it stops when the test ends.
func Serve(t testing.TB, dir string) *Origin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	fs := http.FileServer(http.Dir(dir))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if filepath.Ext(r.URL.Path) == ".m3u8" {
			w.Header().Set("Cache-Control", "no-cache")
		}
		fs.ServeHTTP(&countingWriter{ResponseWriter: w, c: c}, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &Origin{URL: "http://" + ln.Addr().String() + "/", server: srv, served: c}
}

// BytesServed returns the response body bytes the origin has sent.
func (o *Origin) BytesServed() int64 { return o.served.load() }
