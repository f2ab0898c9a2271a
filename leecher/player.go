package leecher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/livetorrent/livetorrent/internal/childproc"
)

// PlayerConfig says which player to start and on what.
type PlayerConfig struct {
	// Program is "mpv", "ffplay" or a path to either; other programs get Args followed by
	// the source ("-" for stdin), which suits most players (vlc, cvlc).
	Program string
	// URL is the playlist URL to play. Empty: the player reads the byte stream from its
	// stdin, which Player.Stdin returns (feed it with Output.NewStream).
	URL   string
	Title string   // window title, optional
	Args  []string // extra arguments, placed before the source
	Env   []string // extra environment variables (KEY=value)
	// Stdout and Stderr receive the player's output (default: discarded).
	Stdout, Stderr io.Writer
	// StopTimeout is how long the player has to exit after SIGTERM before it is killed
	// (default 3 s).
	StopTimeout time.Duration
}

// PlayerArgs returns the command-line arguments (without the program name) for a player
// playing url, or its stdin when url is empty. Kept minimal: both players handle live HLS
// and a piped MPEG-TS or fMP4 stream with their defaults.
func PlayerArgs(program, url, title string, extra []string) []string {
	name := strings.TrimSuffix(strings.ToLower(filepath.Base(program)), ".exe")
	var args []string
	switch name {
	case "mpv":
		args = []string{"--cache=yes"}
		if title != "" {
			args = append(args, "--force-media-title="+title)
		}
		args = append(args, extra...)
		if url == "" {
			return append(args, "-")
		}
		return append(args, "--", url)
	case "ffplay":
		args = []string{"-hide_banner", "-loglevel", "warning"}
		if title != "" {
			args = append(args, "-window_title", title)
		}
		args = append(args, extra...)
		if url == "" {
			return append(args, "-i", "pipe:0")
		}
		return append(args, "-i", url)
	}
	args = append(args, extra...)
	if url == "" {
		return append(args, "-")
	}
	return append(args, url)
}

// Player is a running player process.
type Player struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

// StartPlayer starts the player (no shell involved). It is stopped — SIGTERM, then killed
// after StopTimeout — when ctx is done or Stop is called.
func StartPlayer(ctx context.Context, cfg PlayerConfig) (*Player, error) {
	if cfg.Program == "" {
		return nil, errors.New("player: no program given")
	}
	path, err := exec.LookPath(cfg.Program)
	if err != nil {
		return nil, fmt.Errorf("player: %w", err)
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 3 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, path, PlayerArgs(cfg.Program, cfg.URL, cfg.Title, cfg.Args)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	childproc.DieWithParent(cmd, syscall.SIGTERM)
	cmd.WaitDelay = cfg.StopTimeout
	cmd.Stdout, cmd.Stderr = cfg.Stdout, cfg.Stderr
	if len(cfg.Env) > 0 {
		cmd.Env = append(os.Environ(), cfg.Env...)
	}
	p := &Player{cmd: cmd, cancel: cancel, done: make(chan struct{})}
	if cfg.URL == "" {
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			cancel()
			return nil, fmt.Errorf("player: %w", err)
		}
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("player: %w", err)
	}
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	return p, nil
}

// Stdin is the player's standard input when it plays the byte stream, else nil. Writes
// fail once the player has exited.
func (p *Player) Stdin() io.WriteCloser { return p.stdin }

// Done is closed when the player process has exited.
func (p *Player) Done() <-chan struct{} { return p.done }

// Wait waits for the player to exit and returns how it exited.
func (p *Player) Wait() error {
	<-p.done
	return p.err
}

// Stop asks the player to exit (SIGTERM, killed after StopTimeout) and waits for it.
// The error reports how it exited; a player stopped this way usually reports the signal.
func (p *Player) Stop() error {
	p.cancel()
	return p.Wait()
}
