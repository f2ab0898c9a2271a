package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/livetorrent/livetorrent/internal/childproc"
)

// Live encode settings: 2 s segments like the bundled sample, a playlist of 8 segments;
// older segments are deleted so a long run at 25 Mbit/s does not fill the disk.
const (
	encodeSegment  = 2 * time.Second
	encodeListSize = 8
	audioBitrate   = 64_000
	// MPEG-TS packaging adds several percent to the codec's bitrate; the video is asked for
	// a little less so the stream comes out near the bitrate asked for.
	muxOverhead = 0.93
)

// encoder is a live ffmpeg encode into a folder: the origin when a bitrate is asked for.
type encoder struct {
	cancel context.CancelFunc
	done   chan struct{}
	stderr tailBuffer
	err    error // after done
}

// startEncoder starts ffmpeg encoding a synthetic live stream into dir in real time for
// runFor. It is killed when ctx ends or stop is called, whichever comes first.
func startEncoder(ctx context.Context, program, dir string, bitrateBps int, runFor time.Duration) (*encoder, error) {
	ctx, cancel := context.WithCancel(ctx)
	e := &encoder{cancel: cancel, done: make(chan struct{})}
	cmd := exec.CommandContext(ctx, program, encoderArgs(dir, bitrateBps, runFor)...)
	cmd.Stderr = &e.stderr
	cmd.WaitDelay = 5 * time.Second // never wait long for pipes after the kill
	childproc.DieWithParent(cmd, syscall.SIGKILL)
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	go func() { defer close(e.done); e.err = cmd.Wait() }()
	return e, nil
}

// stop kills ffmpeg and waits for it to be gone.
func (e *encoder) stop() {
	e.cancel()
	<-e.done
}

// waitSegments waits until the playlist in dir lists n segments, and returns it with the
// segments' sizes.
func (e *encoder) waitSegments(ctx context.Context, dir string, n int, timeout time.Duration) (mediaPlaylist, []int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		pl, sizes, err := readLocalPlaylist(filepath.Join(dir, "index.m3u8"))
		if err == nil && len(pl.Entries) >= n {
			return pl, sizes, nil
		}
		select {
		case <-e.done:
			return pl, nil, fmt.Errorf("ffmpeg exited before %d segments (%v): %s", n, e.err, e.stderr.String())
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return pl, nil, fmt.Errorf("waiting for ffmpeg: %w", ctx.Err()) // stopped: not a failure
			}
			return pl, nil, fmt.Errorf("ffmpeg: no %d segments after %v: %s", n, timeout, e.stderr.String())
		case <-t.C:
		}
	}
}

// encoderArgs are ffmpeg's arguments: a test picture and tone encoded in real time (-re)
// with constant bitrate (filler data keeps the rate even for this simple picture), key
// frames on segment boundaries, a sliding HLS playlist written atomically.
func encoderArgs(dir string, bitrateBps int, runFor time.Duration) []string {
	video := max(200_000, int(float64(bitrateBps)*muxOverhead)-audioBitrate)
	size := "640x360"
	switch {
	case bitrateBps >= 8_000_000:
		size = "1920x1080"
	case bitrateBps >= 3_000_000:
		size = "1280x720"
	}
	const fps = 25
	gop := strconv.Itoa(int(encodeSegment.Seconds() * fps))
	v := strconv.Itoa(video)
	return []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", size, fps),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.FormatFloat(runFor.Seconds(), 'f', 0, 64),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-b:v", v, "-minrate", v, "-maxrate", v, "-bufsize", v, "-x264-params", "nal-hrd=cbr",
		"-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", strconv.Itoa(audioBitrate), "-ac", "2",
		"-f", "hls", "-hls_time", strconv.FormatFloat(encodeSegment.Seconds(), 'f', 0, 64),
		"-hls_list_size", strconv.Itoa(encodeListSize),
		"-hls_flags", "independent_segments+program_date_time+temp_file+delete_segments",
		"-hls_segment_filename", filepath.Join(dir, "seg%05d.ts"),
		filepath.Join(dir, "index.m3u8"),
	}
}

// tailBuffer keeps the last few kilobytes written to it: ffmpeg's complaints, for errors.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4096

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > tailSize {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
