// Package protocol is the LiveTorrent v1 wire format: stream identity, links, the BitTorrent
// and extended handshakes, framing, live messages, and the signed stream descriptor and
// segment records. It is pure: no I/O, goroutines or clocks; callers pass bytes and times in.
// spec/livetorrent-v1.md is the normative description; this comment is a map of it.
//
// Identity: a stream is an ed25519 public key plus an optional salt (≤ 64 bytes). The swarm
// info-hash is SHA-1(key || salt), the BEP 44/46 mutable-item target.
//
// Connection: a BEP 3 handshake with the BEP 10 bit set, then an extended handshake whose
// "m" dictionary maps "lt_live" to the id the sender receives live messages on, plus keys
// lt_v (version), lt_win (window), lt_up (upload hint) and lt_dseq (descriptor sequence).
//
// Frames are BEP 3 length-prefixed messages of at most MaxFrameLen bytes. Live messages are
// extended messages (type 20) on the receiver's lt_live id:
//
//	length u32 | 0x14 | ext id u8 | live type u8 | body
//
//	0x01 DESCRIPTOR  signed descriptor bytes
//	0x02 RECORD      signed record bytes
//	0x03 WINDOW      first u64 | end u64
//	0x04 HAVE        first u64 | count u32
//	0x05 REQUEST     piece u64 | offset u32 | length u32
//	0x06 CANCEL      piece u64 | offset u32 | length u32
//	0x07 REJECT      piece u64 | offset u32 | length u32 | reason u8
//	0x08 DATA        piece u64 | offset u32 | block
//
// All integers are big-endian. Piece numbers are below 2^63 and never reused, so the piece
// space never wraps. A segment occupies consecutive pieces from its record's first piece;
// only its last piece may be short. Requests and data move 16 KiB blocks.
//
// Signed structures have a magic ("LTD1" descriptor, "LTR1" record), a version byte, fixed
// fields, length-prefixed strings, an extension TLV area and a trailing 64-byte ed25519
// signature over every byte before it. Each value has exactly one encoding; decoders reject
// trailing bytes.
//
// Every decoder bounds lengths before allocating and returns an error wrapping one of
// ErrTruncated, ErrTooLarge, ErrUnknownType, ErrInvalid, ErrBadSignature, ErrWrongKey,
// ErrWrongStream or ErrBadHash, usually as a *FieldError naming the field.
package protocol
