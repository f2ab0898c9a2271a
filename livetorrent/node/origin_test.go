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

	"github.com/livetorrent/livetorrent/livetorrent"
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
