package seeder

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/Eyevinn/hls-m3u8/m3u8"

	"github.com/livetorrent/livetorrent/protocol"
)

// mediaPlaylist is what the ingest needs from a media playlist, in its own types so the
// rest of the package never touches the parser's ring buffer.
type mediaPlaylist struct {
	target    time.Duration // EXT-X-TARGETDURATION as written (the parser recomputes its own)
	mediaSeq  uint64        // EXT-X-MEDIA-SEQUENCE
	discSeq   uint64        // EXT-X-DISCONTINUITY-SEQUENCE
	ended     bool          // EXT-X-ENDLIST
	encrypted bool          // some EXT-X-KEY with a METHOD other than NONE
	segments  []playlistSegment
}

// playlistSegment is one media segment as the playlist describes it.
type playlistSegment struct {
	seq           uint64
	disc          uint64 // discontinuity sequence number the segment belongs to
	discontinuity bool   // EXT-X-DISCONTINUITY precedes it
	gap           bool   // EXT-X-GAP
	duration      time.Duration
	pdt           time.Time // written or extrapolated; zero if unknown
	uri           string    // as written
	rng           byteRange
	init          *initRef // EXT-X-MAP in effect, nil for none
}

// initRef is an EXT-X-MAP: the init segment (media initialization section).
type initRef struct {
	uri string
	rng byteRange
}

func (r *initRef) equal(o *initRef) bool {
	return r == o || (r != nil && o != nil && *r == *o)
}

// last returns the newest segment's sequence number; the playlist must not be empty.
func (p *mediaPlaylist) last() uint64 { return p.segments[len(p.segments)-1].seq }

// parsePlaylist decodes a master or a media playlist. Exactly one of the results is
// non-nil when err is nil.
func parsePlaylist(body []byte) (media *mediaPlaylist, master *m3u8.MasterPlaylist, err error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if !bytes.HasPrefix(body, []byte("#EXTM3U")) {
		return nil, nil, fmt.Errorf("not a playlist: does not start with #EXTM3U (starts %q)", preview(body))
	}
	// The parser is third-party code fed hostile input: a panic in it must not take the
	// seeder down.
	defer func() {
		if r := recover(); r != nil {
			media, master, err = nil, nil, fmt.Errorf("playlist parser failed: %v", r)
		}
	}()
	// The parser cannot read EXT-X-MAP with BYTERANGE (it does not unquote the value), so
	// MAP tags, byte ranges and the target duration come from scanMedia and the MAP lines
	// are hidden from the parser.
	pl, typ, err := m3u8.DecodeFrom(bytes.NewReader(withoutMapTags(body)), true)
	if err != nil {
		return nil, nil, fmt.Errorf("malformed playlist: %w", err)
	}
	switch typ {
	case m3u8.MASTER:
		m, ok := pl.(*m3u8.MasterPlaylist)
		if !ok || len(m.Variants) == 0 {
			return nil, nil, errors.New("master playlist without variants")
		}
		return nil, m, nil
	case m3u8.MEDIA:
		mp, ok := pl.(*m3u8.MediaPlaylist)
		if !ok {
			return nil, nil, errors.New("media playlist of unexpected type")
		}
		scan, err := scanMedia(body)
		if err != nil {
			return nil, nil, err
		}
		media, err := convertMedia(mp, scan)
		return media, nil, err
	}
	return nil, nil, errors.New("cannot tell a master from a media playlist")
}

func convertMedia(mp *m3u8.MediaPlaylist, scan *mediaScan) (*mediaPlaylist, error) {
	out := &mediaPlaylist{target: scan.target, mediaSeq: mp.SeqNo, discSeq: mp.DiscontinuitySeq, ended: mp.Closed}
	out.encrypted = encrypted(mp.Keys)
	segs := mp.GetAllSegments()
	if len(segs) != len(scan.segments) {
		return nil, fmt.Errorf("malformed playlist: %d segments parsed, %d URI lines", len(segs), len(scan.segments))
	}
	out.segments = make([]playlistSegment, 0, len(segs))
	disc := mp.DiscontinuitySeq
	var prev *playlistSegment
	for i, s := range segs {
		if s == nil {
			return nil, errors.New("malformed playlist: missing segment")
		}
		if encrypted(s.Keys) {
			out.encrypted = true
		}
		ps := playlistSegment{
			seq:           mp.SeqNo + uint64(i),
			discontinuity: s.Discontinuity,
			gap:           s.Gap,
			duration:      seconds(s.Duration),
			pdt:           s.ProgramDateTime,
			uri:           s.URI,
			rng:           scan.segments[i].rng,
			init:          scan.segments[i].init,
		}
		// A segment's discontinuity sequence number counts the EXT-X-DISCONTINUITY tags up to
		// and including its own: the server increments the DISCONTINUITY-SEQUENCE only when it
		// drops a segment carrying one, so a segment keeps its number across reloads.
		if s.Discontinuity {
			disc++
		}
		ps.disc = disc
		// PROGRAM-DATE-TIME carries forward over segments without one, as clients do
		// (RFC 8216 §6.3.1), but not across a discontinuity.
		if ps.pdt.IsZero() && prev != nil && !prev.pdt.IsZero() && !s.Discontinuity {
			ps.pdt = prev.pdt.Add(prev.duration)
		}
		out.segments = append(out.segments, ps)
		prev = &out.segments[len(out.segments)-1]
	}
	return out, nil
}

// mediaScan is what scanMedia reads from the playlist text itself.
type mediaScan struct {
	target   time.Duration // EXT-X-TARGETDURATION as written (the parser recomputes its own)
	segments []scannedSegment
}

type scannedSegment struct {
	rng  byteRange
	init *initRef
}

// scanMedia reads the target duration, and the byte range and EXT-X-MAP in effect for
// every segment (a URI line after EXTINF, as the parser counts them).
func scanMedia(body []byte) (*mediaScan, error) {
	out := &mediaScan{}
	var cur *initRef
	var pending *byteRange // EXT-X-BYTERANGE for the next segment; offset < 0 if absent
	var prevURI string
	prevRng := wholeResource
	inf := false
	for _, raw := range bytes.Split(body, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			v := strings.TrimSpace(line[len("#EXT-X-TARGETDURATION:"):])
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("EXT-X-TARGETDURATION %q is not a positive integer", v)
			}
			if out.target = time.Duration(n) * time.Second; out.target > protocol.MaxTargetDuration {
				return nil, fmt.Errorf("EXT-X-TARGETDURATION %v exceeds %v", out.target, protocol.MaxTargetDuration)
			}
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			m, err := parseMapTag(line[len("#EXT-X-MAP:"):])
			if err != nil {
				return nil, err
			}
			cur = m
		case strings.HasPrefix(line, "#EXT-X-BYTERANGE:"):
			r, err := parseByteRange(line[len("#EXT-X-BYTERANGE:"):])
			if err != nil {
				return nil, fmt.Errorf("EXT-X-BYTERANGE: %w", err)
			}
			pending = &r
		case strings.HasPrefix(line, "#EXTINF:"):
			inf = true
		case line == "" || strings.HasPrefix(line, "#"):
		case inf:
			inf = false
			rng := wholeResource
			if pending != nil {
				rng = *pending
				if rng.offset < 0 {
					// RFC 8216 §4.3.2.2: without "@o" the sub-range continues the previous
					// segment's sub-range of the same resource.
					if prevURI != line || !prevRng.ranged() {
						return nil, fmt.Errorf("EXT-X-BYTERANGE without an offset for %q does not follow a sub-range of the same resource", line)
					}
					if prevRng.offset+prevRng.length > math.MaxInt64-rng.length {
						return nil, fmt.Errorf("EXT-X-BYTERANGE for %q ends beyond 2^63 bytes", line)
					}
					rng.offset = prevRng.offset + prevRng.length
				}
				pending = nil
			}
			out.segments = append(out.segments, scannedSegment{rng: rng, init: cur})
			prevURI, prevRng = line, rng
		}
	}
	if out.target == 0 {
		return nil, errors.New("media playlist without EXT-X-TARGETDURATION")
	}
	return out, nil
}

// parseByteRange reads "n[@o]"; a missing offset is returned as -1.
func parseByteRange(s string) (byteRange, error) {
	n, o, hasOffset := strings.Cut(strings.TrimSpace(s), "@")
	length, err := strconv.ParseInt(n, 10, 64)
	if err != nil || length <= 0 {
		return byteRange{}, fmt.Errorf("length %q is not a positive integer", n)
	}
	r := byteRange{offset: -1, length: length}
	if hasOffset {
		if r.offset, err = strconv.ParseInt(o, 10, 64); err != nil || r.offset < 0 {
			return byteRange{}, fmt.Errorf("offset %q is not a non-negative integer", o)
		}
		if r.offset > math.MaxInt64-length {
			return byteRange{}, fmt.Errorf("range %s ends beyond 2^63 bytes", s)
		}
	}
	return r, nil
}

// parseMapTag reads the attributes of EXT-X-MAP: URI (required) and BYTERANGE.
func parseMapTag(attrs string) (*initRef, error) {
	a := parseAttributes(attrs)
	uri, ok := a["URI"]
	if !ok || uri == "" {
		return nil, errors.New("EXT-X-MAP without URI")
	}
	r := &initRef{uri: uri, rng: wholeResource}
	if br, ok := a["BYTERANGE"]; ok {
		rng, err := parseByteRange(br)
		if err != nil {
			return nil, fmt.Errorf("EXT-X-MAP BYTERANGE: %w", err)
		}
		r.rng = byteRange{offset: max(rng.offset, 0), length: rng.length}
	}
	return r, nil
}

// parseAttributes reads an attribute list (RFC 8216 §4.2): NAME=value pairs separated by
// commas, where a quoted-string value may contain commas. Quotes are removed.
func parseAttributes(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		name := strings.TrimSpace(s[:eq])
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, "\"") {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:1+end], s[2+end:]
			}
			if i := strings.IndexByte(s, ','); i >= 0 {
				s = s[i+1:]
			} else {
				s = ""
			}
		} else if i := strings.IndexByte(s, ','); i >= 0 {
			val, s = s[:i], s[i+1:]
		} else {
			val, s = s, ""
		}
		out[name] = strings.TrimSpace(val)
	}
	return out
}

// withoutMapTags returns body without its EXT-X-MAP lines.
func withoutMapTags(body []byte) []byte {
	if !bytes.Contains(body, []byte("#EXT-X-MAP:")) {
		return body
	}
	var out bytes.Buffer
	out.Grow(len(body))
	for _, line := range bytes.SplitAfter(body, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#EXT-X-MAP:")) {
			out.Write(line)
		}
	}
	return out.Bytes()
}

func encrypted(keys []m3u8.Key) bool {
	for _, k := range keys {
		if k.Method != "" && !strings.EqualFold(k.Method, "NONE") {
			return true
		}
	}
	return false
}

// seconds converts an EXTINF duration to microsecond precision (what a record carries);
// anything that is not a positive finite number becomes 0, which the ingest skips.
func seconds(s float64) time.Duration {
	if math.IsNaN(s) || s <= 0 || s > protocol.MaxSegmentDuration.Seconds() {
		return 0
	}
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
}

func preview(b []byte) string {
	const n = 24
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// variantInfo describes the chosen rendition of a master playlist.
type variantInfo struct {
	index     int // 1-based among the candidates
	count     int // candidates
	uri       string
	bandwidth uint32
	width     uint16
	height    uint16
	codecs    string
	audio     string // EXT-X-MEDIA audio group the variant relies on, if any
}

// pickVariant chooses a variant: n == 0 the highest BANDWIDTH (the first of equals),
// otherwise the n-th (1-based) in playlist order. I-frame playlists are not candidates.
func pickVariant(m *m3u8.MasterPlaylist, n int) (variantInfo, error) {
	var cands []*m3u8.Variant
	for _, v := range m.Variants {
		if v != nil && !v.Iframe && v.URI != "" {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		return variantInfo{}, errors.New("master playlist has no playable variant")
	}
	idx := 0
	if n > 0 {
		if n > len(cands) {
			return variantInfo{}, fmt.Errorf("variant %d requested, the master playlist has %d", n, len(cands))
		}
		idx = n - 1
	} else {
		for i, v := range cands {
			if v.Bandwidth > cands[idx].Bandwidth {
				idx = i
			}
		}
	}
	v := cands[idx]
	info := variantInfo{index: idx + 1, count: len(cands), uri: v.URI, bandwidth: v.Bandwidth, audio: v.Audio}
	if c := strings.ReplaceAll(v.Codecs, " ", ""); len(c) <= protocol.MaxCodecs && printable(c) {
		info.codecs = c
	}
	if w, h, ok := strings.Cut(v.Resolution, "x"); ok {
		wi, err1 := strconv.ParseUint(w, 10, 16)
		hi, err2 := strconv.ParseUint(h, 10, 16)
		if err1 == nil && err2 == nil {
			info.width, info.height = uint16(wi), uint16(hi)
		}
	}
	return info, nil
}

// printable reports whether s is printable ASCII without spaces, what the signed
// structures accept for URIs and codecs.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
