// Package app wires the packages into the programs: a seeder (origin ingest feeding a
// publisher node), a leecher (a viewer node feeding the player outputs) and the demo that
// runs both on one machine. The commands in cmd/ are thin layers of flags over it.
package app

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/protocol"
)

// nodePublisher hands what the seeder's ingest produces to a publisher node, and counts
// what it published so egress can be expressed as a multiple of the stream's bitrate.
type nodePublisher struct {
	ctx      context.Context
	n        *node.Node
	stream   protocol.Stream
	item     atomic.Pointer[protocol.DHTItem] // points at the newest descriptor, for the DHT
	bytes    atomic.Int64                     // media bytes published
	segments atomic.Int64                     // media segments published
	media    atomic.Int64                     // media duration published, in nanoseconds
}

func (p *nodePublisher) PublishDescriptor(d *protocol.Descriptor, raw []byte) {
	if raw == nil {
		raw = d.Append(nil)
	}
	if err := p.n.Publish(p.ctx, livetorrent.Publish{Descriptor: d, DescriptorRaw: raw}); err != nil {
		return
	}
	if cur := p.item.Load(); cur == nil || d.Seq > cur.DescriptorSeq {
		it := protocol.DHTItemFor(p.stream, d.Seq, raw)
		p.item.Store(&it)
	}
}

// Item is the DHT item naming the newest descriptor published, once there is one.
func (p *nodePublisher) Item() (protocol.DHTItem, bool) {
	if it := p.item.Load(); it != nil {
		return *it, true
	}
	return protocol.DHTItem{}, false
}

func (p *nodePublisher) PublishSegment(rec protocol.Record, raw []byte, data []byte) {
	if !rec.IsInit() {
		p.segments.Add(1)
		p.bytes.Add(int64(len(data)))
		p.media.Add(int64(rec.Duration))
	}
	p.n.Publish(p.ctx, livetorrent.Publish{Record: &rec, RecordRaw: raw, Data: data})
}

// Bitrate is the published stream's average bitrate in bits per second.
func (p *nodePublisher) Bitrate() float64 {
	d := time.Duration(p.media.Load())
	if d <= 0 {
		return 0
	}
	return float64(p.bytes.Load()) * 8 / d.Seconds()
}
