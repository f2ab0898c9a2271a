package seeder

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The master playlist points to its variant with a CDN token that expires: after the third
// load of the variant the token changes, and the old URL answers 403 for good. The ingest
// reads the master playlist again after repeated failures, takes the new URL and goes on.
func TestVariantTokenExpires(t *testing.T) {
	clk := newStepClock()
	var mu sync.Mutex
	token, variantLoads, masterLoads := 1, 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/master.m3u8":
			masterLoads++
			fmt.Fprintf(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000\nv/index.m3u8?token=t%d\n", token)
		case "/v/index.m3u8":
			if r.URL.Query().Get("token") != fmt.Sprintf("t%d", token) {
				http.Error(w, "token expired", http.StatusForbidden)
				return
			}
			if variantLoads++; variantLoads == 3 {
				token++ // this load still succeeds; the next one with this token does not
			}
			w.Write([]byte(playlistText(2, uint64(100+variantLoads), 3, "a")))
		default:
			w.Write(scriptedSegment(strings.TrimPrefix(r.URL.Path, "/v/")))
		}
	}))
	t.Cleanup(srv.Close)
	rec := newRecorder()
	in, lb := newTestIngest(t, srv.URL+"/master.m3u8", clk, rec, nil)
	run := runIngest(t, in)
	waitForSeq(t, rec, 110)
	run.stop(t)
	checkPublished(t, rec, testKey(1))
	requireContiguous(t, rec.media())
	mu.Lock()
	defer mu.Unlock()
	if st := in.Stats(); masterLoads != 2 || st.PlaylistErrors != variantFailures || !lb.has("t2") {
		t.Errorf("stats %+v, %d master loads: want the master read again once, after %d failed loads", st, masterLoads, variantFailures)
	}
}
