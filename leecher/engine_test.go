package leecher

import (
	"testing"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
)

// OnDelivery maps the engine's deliveries and skips onto Deliver and Skip.
func TestOnDelivery(t *testing.T) {
	pub := newPublisher(t)
	out := NewOutput(Config{Logger: testLogger(t)})
	in := pub.initSeg(data("init"))
	r0 := pub.segment(0, 2*time.Second, 0, in, data("f0"))
	r2 := pub.segment(2, 2*time.Second, 0, in, data("f2"))
	out.OnDelivery(livetorrent.Delivery{MediaSeq: 0, Record: &r0, Data: data("f0"), Init: in, InitData: data("init")}, false)
	out.OnDelivery(livetorrent.Delivery{MediaSeq: 1, Reason: "record never arrived"}, true)
	out.OnDelivery(livetorrent.Delivery{MediaSeq: 2, Record: &r2, Data: data("f2")}, false)
	p := decodePlaylist(t, playlistText(t, out))
	segs := p.GetAllSegments()
	if len(segs) != 2 || segs[0].Discontinuity || !segs[1].Discontinuity || segs[1].URI != "seg/1.m4s" {
		t.Fatalf("playlist:\n%s", playlistText(t, out))
	}
	if st := out.Stats(); st.SegmentsDelivered != 2 || st.SegmentsLost != 1 {
		t.Fatalf("stats %+v", st)
	}
}
