package seeder

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultFunc may answer a request in a faulty way instead of the origin; hit counts the
// requests for that resource, from 1. It returns whether it answered.
type faultFunc func(w http.ResponseWriter, r *http.Request, name string, hit int) bool

// liveOrigin is an HTTP origin serving a live playlist that advances with the test's
// stepped clock: one segment of segDur completes every segDur, and the playlist lists
// the newest window segments. Everything is deterministic in simulated time.
type liveOrigin struct {
	clock     *stepClock
	segDur    time.Duration
	window    uint64
	fmp4      bool
	endAfter  uint64    // > 0: the stream ends after this many segments
	restartAt time.Time // non-zero: the encoder restarts then and numbers from 0 again

	mu       sync.Mutex
	start    time.Time
	hits     map[string]int
	fault    faultFunc
	frozen   func(now time.Time) bool // the playlist stops changing while true
	lastBody []byte
	srv      *httptest.Server
}

// newLiveOrigin starts an origin whose first four segments are complete at the clock's
// current time.
func newLiveOrigin(t *testing.T, clock *stepClock, configure func(o *liveOrigin)) *liveOrigin {
	o := &liveOrigin{clock: clock, segDur: 2 * time.Second, window: 5, hits: map[string]int{}}
	o.start = clock.Now().Add(-4 * o.segDur)
	if configure != nil {
		configure(o)
	}
	o.srv = httptest.NewServer(o)
	t.Cleanup(o.srv.Close)
	return o
}

func (o *liveOrigin) URL() string { return o.srv.URL + "/live/index.m3u8" }

func (o *liveOrigin) setFault(f faultFunc) {
	o.mu.Lock()
	o.fault = f
	o.mu.Unlock()
}

func (o *liveOrigin) hitCount(name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[name]
}

// era is 0 before the encoder restart and 1 after it.
func (o *liveOrigin) era(now time.Time) (int, time.Time) {
	if !o.restartAt.IsZero() && !now.Before(o.restartAt) {
		return 1, o.restartAt
	}
	return 0, o.start
}

func (o *liveOrigin) ext() string {
	if o.fmp4 {
		return ".m4s"
	}
	return ".ts"
}

func (o *liveOrigin) segName(era int, seq uint64) string {
	return fmt.Sprintf("e%d-seg%d%s", era, seq, o.ext())
}

func (o *liveOrigin) initName(era int) string { return fmt.Sprintf("init-e%d.mp4", era) }

// segData is the content of a segment; initData of an init segment.
func (o *liveOrigin) segData(era int, seq uint64) []byte {
	return segmentBytes(fmt.Sprintf("E%d", era), seq)
}

func (o *liveOrigin) initData(era int) []byte { return segmentBytes(fmt.Sprintf("I%d", era), 3)[:1500] }

func (o *liveOrigin) playlist(now time.Time) []byte {
	era, start := o.era(now)
	k := uint64(now.Sub(start) / o.segDur)
	ended := false
	if o.endAfter > 0 && k >= o.endAfter {
		k, ended = o.endAfter, true
	}
	first := uint64(0)
	if k > o.window {
		first = k - o.window
	}
	var b strings.Builder
	ver := 3
	if o.fmp4 {
		ver = 7
	}
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", ver, int(o.segDur.Seconds()), first)
	if o.fmp4 {
		fmt.Fprintf(&b, "#EXT-X-MAP:URI=%q\n", o.initName(era))
	}
	for seq := first; seq < k; seq++ {
		pdt := start.Add(time.Duration(seq) * o.segDur)
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%.3f,\n%s\n", pdt.Format(time.RFC3339Nano), o.segDur.Seconds(), o.segName(era, seq))
	}
	if ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}

// resource returns the bytes of a segment or init segment name.
func (o *liveOrigin) resource(name string) ([]byte, bool) {
	var era int
	if _, err := fmt.Sscanf(name, "init-e%d.mp4", &era); err == nil {
		return o.initData(era), true
	}
	rest, ok := strings.CutSuffix(name, o.ext())
	if !ok {
		return nil, false
	}
	e, s, ok := strings.Cut(strings.TrimPrefix(rest, "e"), "-seg")
	era, err1 := strconv.Atoi(e)
	seq, err2 := strconv.ParseUint(s, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return nil, false
	}
	return o.segData(era, seq), true
}

func (o *liveOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/live/")
	o.mu.Lock()
	o.hits[name]++
	hit, fault := o.hits[name], o.fault
	o.mu.Unlock()
	if fault != nil && fault(w, r, name, hit) {
		return
	}
	now := o.clock.Now()
	if name == "index.m3u8" {
		o.mu.Lock()
		body := o.playlist(now)
		if o.frozen != nil && o.frozen(now) && o.lastBody != nil {
			body = o.lastBody
		}
		o.lastBody = body
		o.mu.Unlock()
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Write(body)
		return
	}
	data, ok := o.resource(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}

// Faults.

// statusFor answers requests from..to (counted from 1) for name with an HTTP status.
func statusFor(name string, from, to, code int) faultFunc {
	return func(w http.ResponseWriter, r *http.Request, got string, hit int) bool {
		if got != name || hit < from || hit > to {
			return false
		}
		http.Error(w, http.StatusText(code), code)
		return true
	}
}

// hangFor leaves requests from..to for name unanswered until the client gives up.
func hangFor(name string, from, to int) faultFunc {
	return func(w http.ResponseWriter, r *http.Request, got string, hit int) bool {
		if got != name || hit < from || hit > to {
			return false
		}
		<-r.Context().Done()
		return true
	}
}

// bodyFor answers requests from..to for name with body (status 200).
func bodyFor(name string, from, to int, body []byte) faultFunc {
	return func(w http.ResponseWriter, r *http.Request, got string, hit int) bool {
		if got != name || hit < from || hit > to {
			return false
		}
		w.Write(body)
		return true
	}
}

// truncateFor declares the full Content-Length for requests from..to for name but sends
// only half the bytes, then closes the connection.
func truncateFor(name string, from, to int, full []byte) faultFunc {
	return func(w http.ResponseWriter, r *http.Request, got string, hit int) bool {
		if got != name || hit < from || hit > to {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(full)))
		w.WriteHeader(http.StatusOK)
		w.Write(full[:len(full)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Returning with fewer bytes than declared makes the server close the connection.
		return true
	}
}

// faults combines several faults; the first that answers wins.
func faults(fs ...faultFunc) faultFunc {
	return func(w http.ResponseWriter, r *http.Request, name string, hit int) bool {
		for _, f := range fs {
			if f(w, r, name, hit) {
				return true
			}
		}
		return false
	}
}
