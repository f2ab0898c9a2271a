package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// mediaPlaylist is what the benchmark needs of an HLS media playlist.
type mediaPlaylist struct {
	Target  time.Duration // EXT-X-TARGETDURATION
	Entries []playlistEntry
	Ended   bool // EXT-X-ENDLIST
}

type playlistEntry struct {
	Seq      uint64 // media sequence number
	URI      string // as written (relative to the playlist)
	Duration time.Duration
}

// parsePlaylist reads a media playlist: target duration, media sequence, segments with
// their EXTINF durations. Tags it does not need are skipped.
func parsePlaylist(body []byte) (mediaPlaylist, error) {
	var pl mediaPlaylist
	var seq uint64
	var dur time.Duration
	sc := bufio.NewScanner(bytes.NewReader(body))
	first := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			if line != "#EXTM3U" {
				return pl, fmt.Errorf("playlist: starts with %q, not #EXTM3U", line)
			}
			first = false
			continue
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			v, err := strconv.ParseFloat(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"), 64)
			if err != nil {
				return pl, fmt.Errorf("playlist: %s: %w", line, err)
			}
			pl.Target = seconds(v)
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			v, err := strconv.ParseUint(strings.TrimPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"), 10, 64)
			if err != nil {
				return pl, fmt.Errorf("playlist: %s: %w", line, err)
			}
			seq = v
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return pl, fmt.Errorf("playlist: %s: bad duration", line)
			}
			dur = seconds(f)
		case line == "#EXT-X-ENDLIST":
			pl.Ended = true
		case strings.HasPrefix(line, "#"):
		default:
			pl.Entries = append(pl.Entries, playlistEntry{Seq: seq, URI: line, Duration: dur})
			seq, dur = seq+1, 0
		}
	}
	if first {
		return pl, fmt.Errorf("playlist: empty")
	}
	return pl, sc.Err()
}

func seconds(f float64) time.Duration { return time.Duration(math.Round(f * float64(time.Second))) }

// readLocalPlaylist parses a playlist file and reads its segments' sizes.
func readLocalPlaylist(file string) (mediaPlaylist, []int64, error) {
	body, err := os.ReadFile(file)
	if err != nil {
		return mediaPlaylist{}, nil, err
	}
	pl, err := parsePlaylist(body)
	if err != nil {
		return pl, nil, fmt.Errorf("%s: %w", file, err)
	}
	sizes := make([]int64, len(pl.Entries))
	for i, e := range pl.Entries {
		fi, err := os.Stat(filepath.Join(filepath.Dir(file), filepath.FromSlash(e.URI)))
		if err != nil {
			return pl, nil, err
		}
		sizes[i] = fi.Size()
	}
	return pl, sizes, nil
}

// measuredBitrate is the bits per second of the given segments (sizes over durations).
func measuredBitrate(entries []playlistEntry, sizes []int64) float64 {
	var bytes int64
	var d time.Duration
	for i, e := range entries {
		bytes += sizes[i]
		d += e.Duration
	}
	if d <= 0 {
		return 0
	}
	return float64(bytes) * 8 / d.Seconds()
}

// loopEpoch anchors the looped stream's timeline at 2024-01-01T00:00:00Z. The seeder's loop
// mode uses the same anchor, so both sides of the comparison see each segment of the
// sample become available at the same moment.
func loopEpoch() time.Time { return time.Unix(1704067200, 0) }

// loopedStream serves a finished playlist as a live stream that repeats it forever: the
// baseline's origin for the bundled sample. Virtual segment v is segment v mod n of the
// sample and becomes available when it would have been fully encoded live.
type loopedStream struct {
	data    [][]byte
	durs    []time.Duration
	offsets []time.Duration // start of each segment within one pass
	pass    time.Duration
	target  int // seconds
	window  int // segments listed
	epoch   time.Time
}

func newLoopedStream(file string, window int) (*loopedStream, error) {
	pl, _, err := readLocalPlaylist(file)
	if err != nil {
		return nil, err
	}
	if len(pl.Entries) == 0 {
		return nil, fmt.Errorf("%s: no segments", file)
	}
	s := &loopedStream{window: window, epoch: loopEpoch()}
	for _, e := range pl.Entries {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(file), filepath.FromSlash(e.URI)))
		if err != nil {
			return nil, err
		}
		if e.Duration <= 0 {
			return nil, fmt.Errorf("%s: segment %s has no duration", file, e.URI)
		}
		s.data = append(s.data, b)
		s.durs = append(s.durs, e.Duration)
		s.offsets = append(s.offsets, s.pass)
		s.pass += e.Duration
		s.target = max(s.target, int(math.Ceil(e.Duration.Seconds())))
	}
	if earliest := time.Now().Add(-time.Duration(window+1) * s.pass); s.epoch.After(earliest) {
		s.epoch = earliest // a clock before 2024: keep a full window behind now anyway
	}
	return s, nil
}

func (s *loopedStream) n() uint64 { return uint64(len(s.data)) }

// end is when virtual segment v is complete.
func (s *loopedStream) end(v uint64) time.Time {
	i := v % s.n()
	return s.epoch.Add(time.Duration(v/s.n())*s.pass + s.offsets[i] + s.durs[i])
}

// newest is the newest virtual segment complete at now.
func (s *loopedStream) newest(now time.Time) uint64 {
	passes := uint64(now.Sub(s.epoch) / s.pass)
	v := passes*s.n() - 1 // the last segment of the previous pass: complete
	for s.end(v+1).Compare(now) <= 0 {
		v++
	}
	return v
}

// ServeHTTP answers live.m3u8 (the sliding window) and seg/<v>.ts (a segment listed now or
// recently).
func (s *loopedStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	newest := s.newest(time.Now())
	oldest := newest + 1 - uint64(s.window)
	if r.URL.Path == "/live.m3u8" {
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(s.playlist(oldest, newest))
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/seg/")
	v, err := strconv.ParseUint(strings.TrimSuffix(name, ".ts"), 10, 64)
	// A segment stays served for a window after it left the playlist, as origins keep them.
	if !ok || err != nil || v > newest || v+2*uint64(s.window) < newest {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "video/mp2t")
	w.Write(s.data[v%s.n()])
}

func (s *loopedStream) playlist(oldest, newest uint64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", s.target, oldest)
	fmt.Fprintf(&b, "#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", oldest/s.n())
	for v := oldest; v <= newest; v++ {
		if v%s.n() == 0 && v != oldest {
			b.WriteString("#EXT-X-DISCONTINUITY\n") // timestamps restart at each pass
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\nseg/%d.ts\n", s.durs[v%s.n()].Seconds(), v)
	}
	return b.Bytes()
}
