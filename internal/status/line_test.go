package status

import (
	"bytes"
	"context"
	"math"
	"os"
	"sync"
	"testing"
	"time"
)

func TestLineLeecher(t *testing.T) {
	got := Line(sampledMonitor().Latest())
	want := "buffer 6.1s | behind live 8.2s | peers 7 | from peers 93% | down 500 kB/s | up 400 kB/s | stalls 2"
	if got != want {
		t.Errorf("Line =\n%q, want\n%q", got, want)
	}
}

func TestLineSeeder(t *testing.T) {
	s := Snapshot{Role: "seeder", Peers: 12, EgressMultiple: 1.14, SendRate: 520_000, SegmentsPublished: 41}
	if got, want := Line(s), "peers 12 | egress 1.14x | up 520 kB/s | published 41 segments"; got != want {
		t.Errorf("Line =\n%q, want\n%q", got, want)
	}
	s = Snapshot{Role: "seeder", SendRate: 1_140_000, SegmentsPublished: 1}
	if got, want := Line(s), "peers 0 | egress 0.00x | up 1.1 MB/s | published 1 segment"; got != want {
		t.Errorf("Line =\n%q, want\n%q", got, want)
	}
}

func TestHumanBytes(t *testing.T) {
	for v, want := range map[float64]string{
		0:           "0 B",
		999:         "999 B",
		999.6:       "1.0 kB",
		4200:        "4.2 kB",
		9960:        "10 kB",
		410_000:     "410 kB",
		999_700:     "1.0 MB",
		1_140_000:   "1.1 MB",
		12e9:        "12 GB",
		-1:          "? B",
		math.Inf(1): "? B",
	} {
		if got := humanBytes(v); got != want {
			t.Errorf("humanBytes(%v) = %q, want %q", v, got, want)
		}
	}
	if got := humanBytes(math.NaN()); got != "? B" {
		t.Errorf("humanBytes(NaN) = %q", got)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if IsTerminal(w) {
		t.Error("a pipe is not a terminal")
	}
	if IsTerminal(nil) {
		t.Error("nil is not a terminal")
	}
}

// notifyingWriter records what is written and signals the first write.
type notifyingWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
	once    sync.Once
}

func (w *notifyingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.once.Do(func() { close(w.written) })
	return w.buf.Write(p)
}

func TestRunLine(t *testing.T) {
	m := sampledMonitor()
	w := &notifyingWriter{written: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { RunLine(ctx, w, m, time.Hour); close(done) }()
	<-w.written
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunLine did not return after cancel")
	}
	want := "\r" + Line(m.Latest()) + "\x1b[K\n"
	if got := w.buf.String(); got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}
