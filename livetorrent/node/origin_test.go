package node

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/internal/testmedia"
	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/protocol/prototest"
)

// TestGetRange: a piece comes from a 206 answer or, when the origin ignores the range, from
// the right offset of a 200 answer; a 404 or 410 is reported as ErrOriginGone, other
// failures are not.
func TestGetRange(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ranged.ts":
			http.ServeContent(w, r, "ranged.ts", time.Time{}, bytes.NewReader(body))
		case "/whole.ts":
			w.Write(body)
		case "/gone.ts":
			w.WriteHeader(http.StatusGone)
		case "/broken.ts":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) ([]byte, error) {
		return getRange(context.Background(), client, livetorrent.OriginFetch{URL: srv.URL + path, Offset: 1234, Length: 100})
	}
	for _, path := range []string{"/ranged.ts", "/whole.ts"} {
		data, err := get(path)
		if err != nil || !bytes.Equal(data, body[1234:1334]) {
			t.Fatalf("%s: %q, %v; want bytes 1234..1333", path, data, err)
		}
	}
	for _, path := range []string{"/deleted.ts", "/gone.ts"} {
		if _, err := get(path); !errors.Is(err, livetorrent.ErrOriginGone) || !strings.Contains(err.Error(), "origin: 4") {
			t.Fatalf("%s: error %v, want one wrapping ErrOriginGone with the status", path, err)
		}
	}
	if _, err := get("/broken.ts"); err == nil || errors.Is(err, livetorrent.ErrOriginGone) {
		t.Fatalf("500: error %v, want a failure that is not ErrOriginGone", err)
	}
}

// TestOriginFetchCancel: the core's ActCancelOrigin aborts the fetch's HTTP request (the
// origin sees the client go), counts a cancel rather than a failure, and a fetch answered
// normally still counts its bytes.
func TestOriginFetchCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	started, aborted := make(chan struct{}, 1), make(chan struct{}, 1)
	body := bytes.Repeat([]byte("x"), 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast.ts" {
			http.ServeContent(w, r, "fast.ts", time.Time{}, bytes.NewReader(body))
			return
		}
		started <- struct{}{}
		<-r.Context().Done() // a busy origin: the answer never comes before the client leaves
		aborted <- struct{}{}
	}))
	defer srv.Close()
	client := testmedia.LoopbackHTTP()
	client.Timeout = time.Minute // longer than the test: only the cancel can end the request
	n, err := New(Config{Swarm: livetorrent.Config{Stream: prototest.Stream()}, Listen: "127.0.0.1:0",
		Logger: testLogger(t), Dial: testmedia.LoopbackDial, HTTP: client})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	do := func(a livetorrent.Action) {
		if err := n.Do(ctx, func(*livetorrent.Swarm, Stats) { n.act(a) }); err != nil {
			t.Fatal(err)
		}
	}
	do(livetorrent.Action{Kind: livetorrent.ActFetchOrigin, Fetch: &livetorrent.OriginFetch{Piece: 7, URL: srv.URL + "/slow.ts", Length: 100}})
	do(livetorrent.Action{Kind: livetorrent.ActFetchOrigin, Fetch: &livetorrent.OriginFetch{Piece: 8, URL: srv.URL + "/fast.ts", Length: 100}})
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the slow fetch never reached the origin")
	}
	do(livetorrent.Action{Kind: livetorrent.ActCancelOrigin, Fetch: &livetorrent.OriginFetch{Piece: 7}})
	select {
	case <-aborted:
	case <-ctx.Done():
		t.Fatal("the origin never saw the cancelled request end")
	}
	for {
		var st Stats
		if err := n.Do(ctx, func(_ *livetorrent.Swarm, s Stats) { st = s }); err != nil {
			t.Fatal(err)
		}
		if st.OriginBytes == 100 {
			if st.OriginFetches != 2 || st.OriginCancels != 1 || st.OriginFailures != 0 {
				t.Fatalf("stats %+v: want 2 fetches, 1 cancel, 0 failures", st)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
