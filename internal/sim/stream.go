package sim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/protocol"
)

// stream is the seeder's side of the simulated channel: a signed descriptor, and a record
// per segment whose pieces are zero bytes (the viewers' cores keep no bytes and check no
// hashes; the seeder's core checks them, so they are real). Only the seeder's worker
// touches it during a window.
type stream struct {
	desc      protocol.Descriptor
	key       ed25519.PrivateKey
	nextPiece uint64
	nextSeq   uint64
	fullHash  protocol.Hash // of a whole piece of zeros
	sizes     *rand.Rand
	ingested  int64 // bytes the seeder fetched from the origin
	segments  int64
}

// firstPiece is far from zero, as after a long-running channel.
const firstPiece = 1 << 32

func (st *stream) init(sc *Scenario, epoch time.Time) error {
	seed := sha256.Sum256([]byte("livetorrent simulated channel"))
	st.key = ed25519.NewKeyFromSeed(seed[:])
	st.desc = protocol.Descriptor{Stream: protocol.StreamOf(st.key, []byte("sim")), Seq: 1, Created: epoch,
		PieceSize: sc.Piece, TargetDuration: sc.Segment, WindowDuration: sc.Window, Name: "simulated channel",
		Renditions: []protocol.Rendition{{ID: 0, Bandwidth: uint32(sc.Bitrate), Codecs: "avc1.64001f,mp4a.40.2", URI: "index.m3u8"}}}
	if !sc.NoOrigin {
		st.desc.Origin = "http://origin.invalid/live/master.m3u8"
	}
	if err := st.desc.Sign(st.key); err != nil {
		return err
	}
	st.nextPiece, st.nextSeq = firstPiece, 1
	st.fullHash = sha256.Sum256(make([]byte, sc.Piece))
	st.sizes = rand.New(rand.NewPCG(sc.Seed, 0x736567))
	return nil
}

// maxSegment is the largest segment the stream can publish.
func (s *Sim) maxSegment() int {
	return int(s.sc.Bitrate/8*s.sc.Segment.Seconds()*(1+s.sc.Jitter)) + 1
}

// publish makes the seeder publish the next segment at now (its size varies around the
// bitrate, as encoders' do) and schedules the one after.
func (s *Sim) publish(n *node, now vtime) {
	st, sc := &s.str, s.sc
	mean := sc.Bitrate / 8 * sc.Segment.Seconds()
	size := max(1, int(mean*(1+sc.Jitter*(2*st.sizes.Float64()-1))))
	ps := int(sc.Piece)
	pieces := (size + ps - 1) / ps
	hashes := make([]protocol.Hash, pieces)
	for i := range hashes {
		hashes[i] = st.fullHash
	}
	if rest := size - (pieces-1)*ps; rest < ps {
		hashes[pieces-1] = sha256.Sum256(s.zeros[:rest])
	}
	r := protocol.Record{InfoHash: st.desc.Stream.InfoHash(), MediaSeq: st.nextSeq, Duration: sc.Segment,
		Published: s.wall(now).Truncate(time.Millisecond), InitPiece: protocol.NoPiece, FirstPiece: st.nextPiece,
		Length: uint64(size), URI: "seg" + strconv.FormatUint(st.nextSeq, 10) + ".ts", Hashes: hashes}
	if err := r.Sign(&st.desc, st.key); err != nil {
		s.errorf("segment %d: %v", st.nextSeq, err)
		return
	}
	ev := livetorrent.Publish{Record: &r, Data: s.zeros[:size]}
	if st.segments == 0 {
		ev.Descriptor = &st.desc
	}
	s.handle(n, now, ev)
	if err := n.sw.PublishError(); err != nil {
		s.errorf("segment %d: %v", st.nextSeq, err)
		return
	}
	st.nextPiece += uint64(pieces)
	st.nextSeq++
	st.segments++
	st.ingested += int64(size)
	n.push(event{at: now + vtime(sc.Segment), kind: evPublish})
}
