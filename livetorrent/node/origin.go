package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
)

// originFetch is an origin fetch in flight; cancel aborts its HTTP request.
type originFetch struct{ cancel context.CancelFunc }

// startFetch fetches one piece by HTTP range request on its own goroutine and hands it to
// the core, which verifies it against the record like any piece from a peer. The core
// cancels the fetch (ActCancelOrigin) when a peer delivers the piece first: the request is
// aborted, which spares the origin the bytes or, if it is queued at a busy origin, the
// whole request.
func (n *Node) startFetch(f livetorrent.OriginFetch) {
	ctx, cancel := context.WithCancel(n.dialer.ctx)
	of := &originFetch{cancel: cancel}
	if old := n.fetches[f.Piece]; old != nil {
		old.cancel() // the core forgot it (timed out) and asks again
	}
	n.fetches[f.Piece] = of
	go n.fetchOrigin(ctx, of, f)
}

func (n *Node) fetchOrigin(ctx context.Context, of *originFetch, f livetorrent.OriginFetch) {
	data, err := getRange(ctx, n.cfg.HTTP, f)
	ev := livetorrent.OriginData{Piece: f.Piece, Data: data, Err: err}
	select {
	case n.calls <- func() {
		of.cancel()
		if n.fetches[f.Piece] != of {
			return // cancelled or replaced: the core no longer waits for it
		}
		delete(n.fetches, f.Piece)
		if err != nil {
			n.stats.OriginFailures++
			n.log.Warn("origin fetch failed", "url", f.URL, "piece", f.Piece, "err", err)
		} else {
			n.stats.OriginBytes += int64(len(data))
		}
		n.handle(ev)
	}:
	case <-n.dialer.ctx.Done():
		of.cancel()
	}
}

// getRange fetches f's byte range with client, within the client's timeout (10 s if none).
// A 404 or 410 wraps livetorrent.ErrOriginGone.
func getRange(ctx context.Context, client *http.Client, f livetorrent.OriginFetch) ([]byte, error) {
	if f.Length <= 0 || f.Length > 1<<24 {
		return nil, fmt.Errorf("origin fetch of %d bytes", f.Length)
	}
	timeout := client.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", "bytes="+strconv.FormatUint(f.Offset, 10)+"-"+strconv.FormatUint(f.Offset+uint64(f.Length)-1, 10))
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		// The origin ignored the range: skip to the piece, reading no more than needed.
		if f.Offset > 1<<28 {
			return nil, fmt.Errorf("origin ignores range requests")
		}
		if _, err := io.CopyN(io.Discard, body, int64(f.Offset)); err != nil {
			return nil, err
		}
	case http.StatusNotFound, http.StatusGone:
		return nil, fmt.Errorf("origin: %s: %w", resp.Status, livetorrent.ErrOriginGone)
	default:
		return nil, fmt.Errorf("origin: %s", resp.Status)
	}
	data := make([]byte, f.Length)
	if _, err := io.ReadFull(body, data); err != nil {
		return nil, fmt.Errorf("origin body: %w", err)
	}
	return data, nil
}
