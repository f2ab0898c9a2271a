package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/livetorrent/livetorrent/internal/app"
	"github.com/livetorrent/livetorrent/internal/loopback"
	"github.com/livetorrent/livetorrent/internal/status"
)

// task is a goroutine the runner can stop and wait for.
type task struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// finished says whether the goroutine has returned.
func (t *task) finished() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

func startTask(ctx context.Context, f func(context.Context)) *task {
	ctx, cancel := context.WithCancel(ctx)
	t := &task{cancel: cancel, done: make(chan struct{})}
	go func() { defer close(t.done); f(ctx) }()
	return t
}

// viewer is one LiveTorrent viewer of the run, running or gone.
type viewer struct {
	l       *app.Leecher
	addr    string // its peer address, given to later viewers
	http    *http.Client
	run     *task
	err     error           // from Run, once run.done is closed
	last    status.Snapshot // the latest snapshot; after leaving, the final one
	running bool
}

// startSeeder publishes the origin's stream into the swarm, on loopback.
func (r *runner) startSeeder(ctx context.Context, source string, loop bool) error {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("seeder key: %w", err)
	}
	sd, err := app.NewSeeder(app.SeederConfig{Source: source, Loop: loop, Key: key, Name: "LiveTorrent bench",
		Listen: "127.0.0.1:0", UploadRate: r.cfg.SeederUpload.bytesPerSec(r.bitrate), PieceSize: r.cfg.PieceSize,
		HTTP: httpClient(loopback.Dial), Dial: loopback.Dial, Logger: r.cfg.Logger.With("node", "seeder")})
	if err != nil {
		return fmt.Errorf("seeder: %w", err)
	}
	r.seeder, r.link = sd, sd.Link().String()
	r.seederRun = startTask(ctx, func(ctx context.Context) {
		if err := sd.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			r.seederErr.Store(&err)
			r.abort() // without a seeder there is nothing to measure
		}
	})
	return nil
}

// startViewer joins slot i's viewer to the swarm. It learns the seeder from the link and
// every viewer present from Peers, as later viewers know earlier ones in the demo.
func (r *runner) startViewer(ctx context.Context, i int) error {
	s := r.slots[i]
	dial := loopback.Dial
	if s.Cut {
		// Neither the seeder nor the origin answers: everything must come from peers.
		dial = cutDial(r.seeder.Node.Addr().String(), r.swarmOrigin.Addr)
	}
	var peers []string
	for _, v := range r.viewers {
		if v != nil && v.running {
			peers = append(peers, v.addr)
		}
	}
	v := &viewer{http: httpClient(dial), running: true}
	l, err := app.NewLeecher(app.LeecherConfig{Link: r.link, Listen: "127.0.0.1:0", Peers: peers,
		UploadRate: s.UploadRate, DownloadRate: s.DownloadRate, StartupDelay: r.cfg.StartupDelay, Dial: dial, HTTP: v.http,
		Logger: r.cfg.Logger.With("node", fmt.Sprint("viewer", s.ID))})
	if err != nil {
		return fmt.Errorf("viewer %d: %w", s.ID, err)
	}
	v.l, v.addr = l, l.Node.Addr().String()
	v.run = startTask(ctx, func(ctx context.Context) {
		defer closeClient(v.http)
		if err := l.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			v.err = err
		}
	})
	r.viewers[i] = v
	return nil
}

// startClient starts slot i's baseline client, with the viewer's download cap and routes.
func (r *runner) startClient(ctx context.Context, i int) error {
	s := r.slots[i]
	dial := loopback.Dial
	if s.Cut {
		dial = cutDial(r.baselineOrigin.Addr)
	}
	c, err := newHLSClient(r.baselineURL, httpClient(dial), s.DownloadRate)
	if err != nil {
		return err
	}
	r.clients[i] = &baselineClient{c: c, run: startTask(ctx, c.run)}
	return nil
}

type baselineClient struct {
	c   *hlsClient
	run *task
}

// leave takes slot i's viewer and client out of the run; the viewer's final figures stay.
func (r *runner) leave(i int) {
	if v := r.viewers[i]; v != nil && v.running {
		r.snapshot(v)
		v.running = false
		v.run.cancel()
	}
	if c := r.clients[i]; c != nil {
		c.run.cancel()
	}
}

// snapshot refreshes a running viewer's figures; a viewer too busy to answer within a
// second keeps its previous ones.
func (r *runner) snapshot(v *viewer) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s, err := v.l.Snapshot(ctx); err == nil {
		v.last = s
	}
}

// stopAll stops every viewer, client and the seeder, and waits for them within a bound: a
// node that does not stop is reported, not waited for forever.
func (r *runner) stopAll() error {
	var tasks []*task
	for i := range r.viewers {
		if v := r.viewers[i]; v != nil {
			v.running = false
			tasks = append(tasks, v.run)
		}
		if c := r.clients[i]; c != nil {
			tasks = append(tasks, c.run)
		}
	}
	if r.seederRun != nil {
		tasks = append(tasks, r.seederRun)
	}
	for _, t := range tasks {
		t.cancel()
	}
	deadline := time.After(15 * time.Second)
	for _, t := range tasks {
		select {
		case <-t.done:
		case <-deadline:
			return errors.New("some nodes did not stop within 15 s")
		}
	}
	return nil
}
