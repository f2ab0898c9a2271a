package seeder

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/livetorrent/livetorrent/protocol"
)

// Defaults for the zero values of Config.
const (
	DefaultPieceSize        = 32768
	DefaultWindowDuration   = 30 * time.Second
	DefaultMaxSegmentBytes  = 64 << 20
	DefaultMaxPlaylistBytes = 4 << 20
	DefaultRequestTimeout   = 10 * time.Second
	DefaultAttempts         = 3
	DefaultStallAfter       = 3 // target durations
	// maxErrorBackoff caps the wait between reloads of a failing playlist.
	maxErrorBackoff = 30 * time.Second
)

// Config describes one ingest. Source and Key are required; zero values elsewhere take the
// defaults documented on each field.
type Config struct {
	// Source is the HLS playlist to follow: an http or https URL, a file:// URL, or a local
	// file path (the playlist an encoder writes into a folder). A master playlist is
	// resolved to one of its variants.
	Source string
	// Key signs the descriptor and every record. Salt (0..64 bytes) selects one of several
	// streams published with the same key.
	Key  ed25519.PrivateKey
	Salt []byte
	// Name is the stream's display name in the signed descriptor (UTF-8, ≤ 256 bytes).
	Name string
	// PieceFile, when set, keeps the stream's piece numbering across restarts (LoadPieceFile,
	// SavePieceFile): a restart resumes just past the previous run's numbers, so viewers
	// still holding its records accept the new ones at once. Without it a restart numbers
	// from the clock, a jump that viewers accept only once the previous run's records have
	// aged out of their window (spec 15.4). One file per stream (key and salt).
	PieceFile string
	// PieceSize is a power of two in 16384..1048576 (default 32768). It must stay the same
	// for the lifetime of a stream (all restarts with the same key and salt).
	PieceSize uint32
	// WindowDuration is how long peers keep pieces behind the live edge (default 30 s).
	WindowDuration time.Duration
	// Variant picks the rendition of a master playlist: 0 (default) takes the highest
	// BANDWIDTH, n ≥ 1 the n-th variant in playlist order (I-frame playlists excluded).
	Variant int
	// Loop replays a finished (EXT-X-ENDLIST) playlist forever as a live stream: real-time
	// pacing, increasing media sequence, a discontinuity at each wrap. A playlist that is
	// not finished is followed live as usual.
	Loop bool
	// Backlog is how much already-available media is published when the ingest starts
	// (measured back from the live edge): zero means three target durations, what a player
	// needs to start behind the edge (RFC 8216 §6.3.3); negative means only the newest
	// segment.
	Backlog time.Duration
	// MaxSegmentBytes (default 64 MiB) and MaxPlaylistBytes (default 4 MiB) bound what is
	// read from the origin; larger responses are rejected.
	MaxSegmentBytes  int64
	MaxPlaylistBytes int64
	// RequestTimeout bounds each HTTP request (default 10 s).
	RequestTimeout time.Duration
	// Attempts is how many times a segment is tried before it is skipped (default 3).
	Attempts int
	// StallAfter is how many target durations without a playlist change trigger a warning
	// (default 3). Polling continues regardless.
	StallAfter int
	// InitRefresh is the age after which an unchanged fMP4 init segment is published again
	// under new pieces (default WindowDuration/2). Peers drop pieces that fall out of the
	// window, init segments included, so a long-lived init must be re-published for
	// viewers joining later to be able to decode.
	InitRefresh time.Duration
	// HTTPClient fetches http(s) sources (default: a new client without a global timeout;
	// RequestTimeout applies per request).
	HTTPClient *http.Client
	// Clock is the time source (default SystemClock).
	Clock Clock
	// Logger receives progress and every origin fault (default: discard).
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	o := *c
	if o.Source == "" {
		return o, errors.New("seeder: no source playlist")
	}
	if len(o.Key) != ed25519.PrivateKeySize {
		return o, errors.New("seeder: no publisher key")
	}
	if len(o.Salt) > protocol.MaxSaltLen {
		return o, fmt.Errorf("seeder: salt is %d bytes, at most %d", len(o.Salt), protocol.MaxSaltLen)
	}
	if len(o.Name) > protocol.MaxDescriptorName || !utf8.ValidString(o.Name) {
		return o, fmt.Errorf("seeder: name must be UTF-8 of at most %d bytes", protocol.MaxDescriptorName)
	}
	if o.PieceSize == 0 {
		o.PieceSize = DefaultPieceSize
	}
	if !protocol.ValidPieceSize(o.PieceSize) {
		return o, fmt.Errorf("seeder: piece size %d is not a power of two in %d..%d", o.PieceSize, protocol.MinPieceSize, protocol.MaxPieceSize)
	}
	if o.WindowDuration == 0 {
		o.WindowDuration = DefaultWindowDuration
	}
	o.WindowDuration = o.WindowDuration.Truncate(time.Millisecond)
	if o.WindowDuration < protocol.MinWindowDuration || o.WindowDuration > protocol.MaxWindowDuration {
		return o, fmt.Errorf("seeder: window duration %v not in %v..%v", o.WindowDuration, protocol.MinWindowDuration, protocol.MaxWindowDuration)
	}
	if o.Variant < 0 {
		return o, fmt.Errorf("seeder: variant %d: want 0 (highest bandwidth) or a 1-based index", o.Variant)
	}
	if o.MaxSegmentBytes == 0 {
		o.MaxSegmentBytes = DefaultMaxSegmentBytes
	}
	if maxBytes := int64(o.PieceSize) * protocol.MaxPiecesPerRecord; o.MaxSegmentBytes < 0 || o.MaxSegmentBytes > maxBytes {
		return o, fmt.Errorf("seeder: max segment size %d not in 0..%d (%d pieces of %d bytes)", o.MaxSegmentBytes, maxBytes, protocol.MaxPiecesPerRecord, o.PieceSize)
	}
	if o.MaxPlaylistBytes == 0 {
		o.MaxPlaylistBytes = DefaultMaxPlaylistBytes
	}
	if o.MaxPlaylistBytes < 0 {
		return o, errors.New("seeder: negative max playlist size")
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.RequestTimeout < 0 {
		return o, errors.New("seeder: negative request timeout")
	}
	if o.Attempts == 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Attempts < 0 {
		return o, errors.New("seeder: negative attempt count")
	}
	if o.StallAfter <= 0 {
		o.StallAfter = DefaultStallAfter
	}
	if o.InitRefresh <= 0 {
		o.InitRefresh = o.WindowDuration / 2
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
