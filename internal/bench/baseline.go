package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// hlsClient is one viewer of the baseline: a plain HLS player that fetches everything from
// the origin. It polls the playlist every target duration, starts three segments from the
// end (as players do), downloads each new segment once, in order, and plays them with the
// benchmark's playback model (see playback).
type hlsClient struct {
	playlist *url.URL
	http     *http.Client
	limiter  *rate.Limiter // the viewer's download cap; nil = none

	mu sync.Mutex
	st clientStats
	pb playback
}

// clientStats are one baseline client's figures.
type clientStats struct {
	Segments  int64         `json:"segments"` // downloaded in full and played
	Bytes     int64         `json:"bytes"`
	Stalls    int64         `json:"stalls"`
	StallTime time.Duration `json:"stall_time_ns"`
	Skipped   int64         `json:"skipped"` // fell out of the playlist before download
	Errors    int64         `json:"errors"`  // failed requests
}

// playback is the model both sides share: playback starts when the first segment is
// complete and plays each segment for its duration; a segment complete after the moment it
// should start playing is a stall, and playback resumes when it arrives.
type playback struct {
	started  bool
	nextPlay time.Time // when the next segment must be complete
}

// complete records a segment of duration d complete at t, and returns how long playback
// waited for it (0: on time).
func (p *playback) complete(t time.Time, d time.Duration) (late time.Duration) {
	switch {
	case !p.started:
		p.started, p.nextPlay = true, t
	case t.After(p.nextPlay):
		late = t.Sub(p.nextPlay)
		p.nextPlay = t
	}
	p.nextPlay = p.nextPlay.Add(d)
	return late
}

const readChunk = 32 << 10

func newHLSClient(playlistURL string, c *http.Client, downloadRate int) (*hlsClient, error) {
	u, err := url.Parse(playlistURL)
	if err != nil {
		return nil, fmt.Errorf("baseline playlist URL: %w", err)
	}
	hc := &hlsClient{playlist: u, http: c}
	if downloadRate > 0 {
		// A burst of a twentieth of a second (at least one read) keeps the cap smooth.
		hc.limiter = rate.NewLimiter(rate.Limit(downloadRate), max(readChunk, downloadRate/20))
	}
	return hc, nil
}

func (c *hlsClient) stats() clientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// run plays until ctx ends.
func (c *hlsClient) run(ctx context.Context) {
	defer closeClient(c.http)
	var next uint64
	tuned := false
	poll := time.Second // until the playlist gives its target duration
	for {
		polled := time.Now()
		if pl, err := c.fetchPlaylist(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.count(func(st *clientStats) { st.Errors++ })
		} else if len(pl.Entries) > 0 {
			if pl.Target > 0 {
				poll = pl.Target
			}
			if !tuned {
				next, tuned = pl.Entries[max(0, len(pl.Entries)-3)].Seq, true
			}
			if first := pl.Entries[0].Seq; next < first {
				// Too slow for the live window: what fell out is lost, playback jumps.
				c.count(func(st *clientStats) { st.Skipped += int64(first - next); st.Stalls++ })
				next = first
			}
			for _, e := range pl.Entries {
				if e.Seq < next {
					continue
				}
				if err := c.download(ctx, e); err != nil {
					if ctx.Err() != nil {
						return
					}
					c.count(func(st *clientStats) { st.Errors++ })
					break // retried at the next poll
				}
				next = e.Seq + 1
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(polled.Add(poll))):
		}
	}
}

func (c *hlsClient) count(f func(*clientStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.st)
}

func (c *hlsClient) fetchPlaylist(ctx context.Context) (mediaPlaylist, error) {
	body, err := c.get(ctx, c.playlist.String(), 1<<20)
	if err != nil {
		return mediaPlaylist{}, err
	}
	return parsePlaylist(body)
}

// download fetches a whole segment through the download cap and plays it.
func (c *hlsClient) download(ctx context.Context, e playlistEntry) error {
	u, err := c.playlist.Parse(e.URI)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	var n int64
	buf := make([]byte, readChunk)
	for {
		k, err := resp.Body.Read(buf)
		n += int64(k)
		if k > 0 && c.limiter != nil {
			if werr := c.limiter.WaitN(ctx, k); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	done := time.Now()
	c.count(func(st *clientStats) {
		if late := c.pb.complete(done, e.Duration); late > 0 {
			st.Stalls++
			st.StallTime += late
		}
		st.Segments++
		st.Bytes += n
	})
	return nil
}

// get reads a whole 200 response of at most limit bytes.
func (c *hlsClient) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit))
}
