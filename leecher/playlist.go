package leecher

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/Eyevinn/hls-m3u8/m3u8"
)

// Local URL layout. Playlist entries are relative to the playlist, so the handler also
// works when mounted below a prefix.
const (
	PlaylistPath = "/live.m3u8"
	segmentDir   = "/seg/"
	initDir      = "/init/"
)

func segmentURI(e *entry) string {
	return segmentDir[1:] + strconv.FormatUint(e.seq, 10) + e.kind.ext
}

func initURI(in *initSegment) string {
	return initDir[1:] + strconv.FormatUint(in.id, 10) + ".mp4"
}

// playlistInput is what one rendering of the live playlist needs.
type playlistInput struct {
	segments       []*entry // the listed segments, consecutive local sequence numbers
	targetDuration int      // seconds, ≥ 1
	ended          bool     // EXT-X-ENDLIST
}

// renderPlaylist writes a live media playlist (RFC 8216 §4.3.3) for in.
//
// It uses hls-m3u8 v0.6.2, which can express every tag needed here (per-segment
// EXT-X-DISCONTINUITY, EXT-X-MAP changes, EXT-X-PROGRAM-DATE-TIME, the discontinuity
// sequence), under the constraints its writer has in that version: a fresh playlist for
// every rendering with window size 0 (so its ring never wraps and MEDIA-SEQUENCE stays the
// first listed segment's), the target duration locked, and the version set by hand (the
// library would say 5 for EXT-X-MAP where RFC 8216 requires 6; we use 7 for fMP4 as
// ffmpeg does, 3 otherwise).
func renderPlaylist(in playlistInput) ([]byte, error) {
	p, err := m3u8.NewMediaPlaylist(0, uint(max(1, len(in.segments))))
	if err != nil {
		return nil, err
	}
	defer p.ReleasePlaylist()
	p.SetTargetDuration(uint(max(1, in.targetDuration)))
	version := uint8(3)
	if len(in.segments) > 0 {
		first := in.segments[0]
		p.SeqNo = first.seq
		// The discontinuity sequence is the number of the first listed segment; a
		// discontinuity tag on that segment itself is counted from the value before it.
		dseq := first.disc
		if first.discTag {
			dseq--
		}
		if dseq > uint64(^uint32(0)) {
			return nil, fmt.Errorf("discontinuity sequence %d out of range", dseq)
		}
		p.DiscontinuitySeq = dseq
	}
	for _, e := range in.segments {
		seg := &m3u8.MediaSegment{
			URI:           segmentURI(e),
			Duration:      e.duration.Seconds(),
			Discontinuity: e.discTag,
		}
		if !e.pdt.IsZero() {
			seg.ProgramDateTime = e.pdt.UTC()
		}
		if e.init != nil {
			// The writer emits EXT-X-MAP only where it differs from the previous segment's.
			seg.Map = &m3u8.Map{URI: initURI(e.init)}
			version = 7
		}
		if err := p.AppendSegment(seg); err != nil {
			return nil, err
		}
	}
	p.SetVersion(version)
	if in.ended {
		p.Close()
	}
	// Encode returns the playlist's internal buffer, which ReleasePlaylist recycles.
	return bytes.Clone(p.Encode().Bytes()), nil
}

// targetSeconds is EXT-X-TARGETDURATION: the stream's declared target duration (rounded up
// to whole seconds), or the largest segment duration rounded to the nearest second if that
// is more (RFC 8216 §4.3.3.1 compares EXTINF rounded to the nearest integer).
func targetSeconds(declared, longest time.Duration) int {
	s := int((declared + time.Second - 1) / time.Second)
	return max(1, s, int((longest+time.Second/2)/time.Second))
}
