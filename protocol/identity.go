package protocol

import (
	"crypto/ed25519"
	"crypto/sha1"
	"encoding/hex"
)

// MaxSaltLen is the longest stream salt, the BEP 44 limit.
const MaxSaltLen = 64

// PublicKey is a publisher's ed25519 public key: the stream's identity.
type PublicKey [ed25519.PublicKeySize]byte

func (k PublicKey) String() string { return hex.EncodeToString(k[:]) }

// InfoHash is the 20-byte swarm identifier used in handshakes, trackers and the DHT.
type InfoHash [20]byte

func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }

// Stream identifies a live stream: a publisher key plus an optional salt, so one key can
// publish several streams (BEP 46).
type Stream struct {
	Key  PublicKey
	Salt []byte
}

// InfoHash derives the swarm info-hash, SHA-1(key || salt). It equals the BEP 44
// mutable-item target for the same key and salt, so the DHT item and the swarm share one id.
func (s Stream) InfoHash() InfoHash {
	h := sha1.New()
	h.Write(s.Key[:])
	h.Write(s.Salt)
	var ih InfoHash
	h.Sum(ih[:0])
	return ih
}

// Validate checks the salt length.
func (s Stream) Validate() error {
	if len(s.Salt) > MaxSaltLen {
		return fieldErr("stream.salt", ErrTooLarge, "%d bytes, at most %d", len(s.Salt), MaxSaltLen)
	}
	return nil
}

// StreamOf returns the stream identity of a private key with the given salt.
func StreamOf(priv ed25519.PrivateKey, salt []byte) Stream {
	var s Stream
	copy(s.Key[:], priv.Public().(ed25519.PublicKey))
	s.Salt = append([]byte(nil), salt...)
	return s
}
