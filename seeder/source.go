package seeder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Fetch failure categories, for errors.Is. Every fetch error also names the resource.
var (
	errTooLarge  = errors.New("response too large")
	errTruncated = errors.New("truncated response")
	errTimeout   = errors.New("timed out")
	errRefused   = errors.New("reference not allowed")
)

// StatusError is an HTTP response with a status other than 200/206.
type StatusError struct {
	URL  string
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s", e.URL, e.Code, http.StatusText(e.Code))
}

// byteRange is part of a resource (EXT-X-BYTERANGE, BYTERANGE on EXT-X-MAP); length < 0
// means the whole resource.
type byteRange struct {
	offset, length int64
}

var wholeResource = byteRange{length: -1}

func (r byteRange) ranged() bool { return r.length >= 0 }

// origin reads playlists and segments from an http(s) server or a local folder. A local
// source only reads files under its playlist's folder and a remote one only http(s) URLs,
// so a hostile playlist can never make the seeder publish other local files.
type origin struct {
	client  *http.Client
	timeout time.Duration
	remote  bool
	root    string // local sources: the folder every file must be in
}

// parseSource turns Config.Source into a URL: http(s) URLs as they are, file:// URLs and
// plain paths as absolute file URLs.
func parseSource(s string) (*url.URL, error) {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("seeder: source URL: %w", err)
		}
		if u.Host == "" {
			return nil, fmt.Errorf("seeder: source URL %q has no host", s)
		}
		return u, nil
	}
	path := s
	if strings.HasPrefix(s, "file://") {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("seeder: source URL: %w", err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("seeder: file URL %q names a remote host", s)
		}
		path = u.Path
	} else if i := strings.Index(s, "://"); i > 0 && !strings.ContainsAny(s[:i], `/\.`) {
		return nil, fmt.Errorf("seeder: source %q: only http, https and local files are supported", s)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("seeder: source path: %w", err)
	}
	return &url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}, nil
}

func newOrigin(src *url.URL, client *http.Client, timeout time.Duration) *origin {
	o := &origin{client: client, timeout: timeout, remote: src.Scheme != "file"}
	if !o.remote {
		o.root = filepath.Dir(filepath.FromSlash(src.Path))
	}
	return o
}

// display is how a location appears in logs: a path for files, the URL otherwise.
func display(u *url.URL) string {
	if u.Scheme == "file" {
		return filepath.FromSlash(u.Path)
	}
	return u.Redacted()
}

// resolve resolves a URI from a playlist against the playlist's location.
func (o *origin) resolve(base *url.URL, ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", errRefused, ref, err)
	}
	u := base.ResolveReference(r)
	if o.remote {
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("%w: %q resolves to a %s URL; an http origin may only refer to http(s)", errRefused, ref, u.Scheme)
		}
		return u, nil
	}
	if u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") {
		return nil, fmt.Errorf("%w: %q: a local playlist may only refer to files beside it", errRefused, ref)
	}
	p := filepath.Clean(filepath.FromSlash(u.Path))
	if rel, err := filepath.Rel(o.root, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("%w: %q is outside the playlist's folder %s", errRefused, ref, o.root)
	}
	return &url.URL{Scheme: "file", Path: filepath.ToSlash(p)}, nil
}

// fetch reads a resource (or a byte range of it) of at most limit bytes. It returns the
// bytes and the location relative references in them resolve against (after redirects).
func (o *origin) fetch(ctx context.Context, u *url.URL, r byteRange, limit int64) ([]byte, *url.URL, error) {
	if r.ranged() && r.length > limit {
		return nil, u, fmt.Errorf("%s: %w: byte range of %d bytes, at most %d", display(u), errTooLarge, r.length, limit)
	}
	if u.Scheme == "file" {
		b, err := readFile(filepath.FromSlash(u.Path), r, limit)
		return b, u, err
	}
	return o.fetchHTTP(ctx, u, r, limit)
}

func readFile(path string, r byteRange, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if r.ranged() {
		if r.offset+r.length > st.Size() {
			return nil, fmt.Errorf("%s: %w: byte range ends at %d, the file has %d bytes", path, errTruncated, r.offset+r.length, st.Size())
		}
		b := make([]byte, r.length)
		if _, err := f.ReadAt(b, r.offset); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return b, nil
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %w: %d bytes, at most %d", path, errTooLarge, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w: grew beyond %d bytes while read", path, errTooLarge, limit)
	}
	return b, nil
}

func (o *origin) fetchHTTP(parent context.Context, u *url.URL, r byteRange, limit int64) ([]byte, *url.URL, error) {
	name := u.Redacted()
	ctx, cancel := context.WithTimeout(parent, o.timeout)
	defer cancel()
	// wrap names the resource and turns our own deadline into errTimeout.
	wrap := func(err error) error {
		if ctx.Err() == context.DeadlineExceeded && parent.Err() == nil {
			return fmt.Errorf("%s: %w: no complete response within %v", name, errTimeout, o.timeout)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: %w: %v", name, errTruncated, err)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, u, fmt.Errorf("%s: %w", name, err)
	}
	req.Header.Set("User-Agent", "LiveTorrent-seeder/1")
	if r.ranged() {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", r.offset, r.offset+r.length-1))
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, u, wrap(err)
	}
	defer resp.Body.Close()
	final := resp.Request.URL
	switch {
	case resp.StatusCode == http.StatusPartialContent && r.ranged():
		if err := checkContentRange(resp.Header.Get("Content-Range"), r); err != nil {
			return nil, final, fmt.Errorf("%s: %w", name, err)
		}
		b, err := readExactly(resp, r.length)
		if err != nil {
			return nil, final, wrap(err)
		}
		return b, final, nil
	case resp.StatusCode == http.StatusOK && r.ranged():
		// The server ignored Range: read up to the end of the range, if that is bounded.
		if r.offset > limit || r.length > limit-r.offset {
			return nil, final, fmt.Errorf("%s: %w: the origin ignored the Range request and the range ends beyond %d bytes", name, errTooLarge, limit)
		}
		end := r.offset + r.length
		if end > limit {
			return nil, final, fmt.Errorf("%s: %w: the origin ignored the Range request and the range ends at byte %d", name, errTooLarge, end)
		}
		if resp.ContentLength >= 0 && resp.ContentLength < end {
			return nil, final, fmt.Errorf("%s: %w: resource has %d bytes, the range ends at %d", name, errTruncated, resp.ContentLength, end)
		}
		b := make([]byte, end)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, final, wrap(err)
		}
		return b[r.offset:], final, nil
	case resp.StatusCode == http.StatusOK:
		if resp.ContentLength > limit {
			return nil, final, fmt.Errorf("%s: %w: Content-Length %d, at most %d", name, errTooLarge, resp.ContentLength, limit)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return nil, final, wrap(err)
		}
		if int64(len(b)) > limit {
			return nil, final, fmt.Errorf("%s: %w: more than %d bytes", name, errTooLarge, limit)
		}
		if resp.ContentLength >= 0 && int64(len(b)) != resp.ContentLength {
			return nil, final, fmt.Errorf("%s: %w: %d of %d bytes", name, errTruncated, len(b), resp.ContentLength)
		}
		return b, final, nil
	}
	return nil, final, &StatusError{URL: name, Code: resp.StatusCode}
}

// readExactly reads a 206 body that must hold exactly n bytes.
func readExactly(resp *http.Response, n int64) ([]byte, error) {
	if resp.ContentLength >= 0 && resp.ContentLength != n {
		return nil, fmt.Errorf("%w: Content-Length %d for a range of %d bytes", errTruncated, resp.ContentLength, n)
	}
	b := make([]byte, n)
	got, err := io.ReadFull(resp.Body, b)
	if err != nil {
		return nil, fmt.Errorf("%w: %d of %d bytes: %v", errTruncated, got, n, err)
	}
	return b, nil
}

// checkContentRange checks that a 206 response carries the range we asked for.
func checkContentRange(h string, r byteRange) error {
	spec, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return fmt.Errorf("partial response without a byte Content-Range (%q)", h)
	}
	span, _, _ := strings.Cut(spec, "/")
	a, b, ok := strings.Cut(span, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("malformed Content-Range %q", h)
	}
	if first != r.offset || last != r.offset+r.length-1 {
		return fmt.Errorf("Content-Range %q, asked for bytes %d-%d", h, r.offset, r.offset+r.length-1)
	}
	return nil
}
