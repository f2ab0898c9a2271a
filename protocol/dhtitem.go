package protocol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"math"
	"strconv"

	"github.com/anacrolix/torrent/bencode"
)

// DHTItem is the value of the publisher's BEP 44 mutable item (spec section 13.3): it points
// at the current signed descriptor by sequence number and SHA-256, so a viewer that holds only
// the key and salt learns which descriptor is current before any peer tells it. The item's
// BEP 44 target is SHA-1(key || salt), which is also the swarm info-hash.
//
// The value is the bencoded dictionary
//
//	d 2:dh 32:<descriptor SHA-256> 2:ds i<descriptor seq>e 2:ih 20:<info-hash> e
//
// and the item's BEP 44 seq equals ds.
type DHTItem struct {
	DescriptorHash [32]byte
	DescriptorSeq  uint64 // at most 2^63-1: BEP 44 sequence numbers are signed 64-bit
	InfoHash       InfoHash
}

// MaxDHTValueLen is the BEP 44 limit on a bencoded value.
const MaxDHTValueLen = 1000

// DHTItemFor returns the item that points at a signed descriptor's bytes.
func DHTItemFor(s Stream, descSeq uint64, descRaw []byte) DHTItem {
	return DHTItem{DescriptorHash: sha256.Sum256(descRaw), DescriptorSeq: descSeq, InfoHash: s.InfoHash()}
}

// Append appends the canonical bencoded value (keys in sorted order).
func (it DHTItem) Append(b []byte) []byte {
	b = append(b, "d2:dh32:"...)
	b = append(b, it.DescriptorHash[:]...)
	b = append(b, "2:dsi"...)
	b = strconv.AppendUint(b, it.DescriptorSeq, 10)
	b = append(b, "e2:ih20:"...)
	b = append(b, it.InfoHash[:]...)
	return append(b, 'e')
}

// Len is the length of the bencoded value.
func (it DHTItem) Len() int {
	return len("d2:dh32:") + 32 + len("2:dsi") + len(strconv.FormatUint(it.DescriptorSeq, 10)) +
		len("e2:ih20:") + 20 + 1
}

type dhtItemFields struct {
	DH *string `bencode:"dh"`
	DS *int64  `bencode:"ds"`
	IH *string `bencode:"ih"`
}

// ParseDHTItem decodes a bencoded item value. Unknown keys are ignored, so later versions can
// add fields; the three known ones are required.
func ParseDHTItem(v []byte) (DHTItem, error) {
	var it DHTItem
	if len(v) > MaxDHTValueLen {
		return it, fieldErr("dht.v", ErrTooLarge, "%d bytes, at most %d", len(v), MaxDHTValueLen)
	}
	var f dhtItemFields
	if err := bencode.Unmarshal(v, &f); err != nil {
		return it, fieldErr("dht.v", ErrInvalid, "not a bencoded dictionary: %v", err)
	}
	switch {
	case f.DH == nil || len(*f.DH) != 32:
		return it, fieldErr("dht.v.dh", ErrInvalid, "want a 32-byte string")
	case f.DS == nil || *f.DS < 1:
		return it, fieldErr("dht.v.ds", ErrInvalid, "want an integer of at least 1")
	case f.IH == nil || len(*f.IH) != 20:
		return it, fieldErr("dht.v.ih", ErrInvalid, "want a 20-byte string")
	}
	copy(it.DescriptorHash[:], *f.DH)
	it.DescriptorSeq = uint64(*f.DS)
	copy(it.InfoHash[:], *f.IH)
	return it, nil
}

// DHTSigningBytes is what a BEP 44 mutable item's signature covers: the bencoded salt (only
// when not empty), seq and v, concatenated without the enclosing dictionary.
func DHTSigningBytes(salt []byte, seq int64, v []byte) []byte {
	var b []byte
	if len(salt) > 0 {
		b = append(b, "4:salt"...)
		b = strconv.AppendInt(b, int64(len(salt)), 10)
		b = append(b, ':')
		b = append(b, salt...)
	}
	b = append(b, "3:seqi"...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, "e1:v"...)
	return append(b, v...)
}

// SignDHTItem returns the item's BEP 44 seq, bencoded value and signature under priv.
func SignDHTItem(priv ed25519.PrivateKey, salt []byte, it DHTItem) (seq int64, v []byte, sig [64]byte, err error) {
	if it.DescriptorSeq == 0 || it.DescriptorSeq > math.MaxInt64 {
		return 0, nil, sig, fieldErr("dht.seq", ErrInvalid, "descriptor seq %d is not a BEP 44 sequence number", it.DescriptorSeq)
	}
	seq, v = int64(it.DescriptorSeq), it.Append(nil)
	copy(sig[:], ed25519.Sign(priv, DHTSigningBytes(salt, seq, v)))
	return seq, v, sig, nil
}

// VerifyDHTItem checks an item got from the DHT for stream s: the BEP 44 signature under the
// stream key, the value's layout, that it names this swarm, and that its seq is the
// descriptor's.
func VerifyDHTItem(s Stream, seq int64, v []byte, sig [64]byte) (DHTItem, error) {
	if !ed25519.Verify(ed25519.PublicKey(s.Key[:]), DHTSigningBytes(s.Salt, seq, v), sig[:]) {
		return DHTItem{}, fieldErr("dht.sig", ErrBadSignature, "BEP 44 signature does not verify under the stream key")
	}
	it, err := ParseDHTItem(v)
	if err != nil {
		return it, err
	}
	if it.InfoHash != s.InfoHash() {
		return it, fieldErr("dht.v.ih", ErrWrongStream, "item names swarm %s, not %s", it.InfoHash, s.InfoHash())
	}
	if seq < 1 || uint64(seq) != it.DescriptorSeq {
		return it, fieldErr("dht.seq", ErrInvalid, "item seq %d differs from descriptor seq %d", seq, it.DescriptorSeq)
	}
	return it, nil
}
