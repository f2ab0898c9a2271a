// Package prototest builds fixed, deterministic protocol values (keys, descriptors,
// records, segment data) for tests and for the specification's test vectors.
package prototest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"strconv"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
)

// Key returns the ed25519 key whose seed is SHA-256(label): the same label always gives
// the same key, so signatures (deterministic in ed25519) are reproducible.
func Key(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// PublisherKey is the key of the sample stream.
func PublisherKey() ed25519.PrivateKey { return Key("livetorrent test vector publisher") }

// Salt is the sample stream's salt.
var Salt = []byte("channel-1")

// Stream is the sample stream identity.
func Stream() protocol.Stream { return protocol.StreamOf(PublisherKey(), Salt) }

// Epoch is the sample stream's creation time.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Descriptor returns the sample descriptor, signed by PublisherKey.
func Descriptor() protocol.Descriptor {
	d := protocol.Descriptor{
		Stream:         Stream(),
		Seq:            1,
		Created:        Epoch,
		PieceSize:      32768,
		TargetDuration: 2 * time.Second,
		WindowDuration: 30 * time.Second,
		Name:           "Test Channel",
		Origin:         "https://origin.example/live/master.m3u8",
		Renditions: []protocol.Rendition{
			{ID: 0, Bandwidth: 3_000_000, Width: 1280, Height: 720, Codecs: "avc1.64001f,mp4a.40.2", URI: "720p/index.m3u8"},
			{ID: 1, Bandwidth: 800_000, Width: 640, Height: 360, Codecs: "avc1.4d401e,mp4a.40.2", URI: "360p/index.m3u8"},
		},
	}
	if err := d.Sign(PublisherKey()); err != nil {
		panic(err)
	}
	return d
}

// SegmentData returns n deterministic pseudo-random bytes (a SHA-256 chain seeded by label),
// standing in for a media segment.
func SegmentData(label string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	h := sha256.Sum256([]byte(label))
	for len(out) < n {
		out = append(out, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return out[:n]
}

// Record returns a signed record for data as media segment seq of rendition 0 starting at
// firstPiece, published at Epoch plus seq times the target duration.
func Record(d *protocol.Descriptor, seq, firstPiece uint64, data []byte) protocol.Record {
	r := protocol.Record{
		InfoHash:        d.Stream.InfoHash(),
		Rendition:       0,
		MediaSeq:        seq,
		Duration:        2 * time.Second,
		ProgramDateTime: Epoch.Add(time.Duration(seq) * 2 * time.Second),
		Published:       Epoch.Add(time.Duration(seq)*2*time.Second + 2500*time.Millisecond),
		InitPiece:       protocol.NoPiece,
		FirstPiece:      firstPiece,
		Length:          uint64(len(data)),
		URI:             "seg" + strconv.FormatUint(seq, 10) + ".ts", // relative to the rendition playlist
		Hashes:          protocol.HashPieces(data, d.PieceSize),
	}
	if err := r.Sign(d, PublisherKey()); err != nil {
		panic(err)
	}
	return r
}
