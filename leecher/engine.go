package leecher

import "github.com/livetorrent/livetorrent/livetorrent"

// OnDelivery takes the swarm node's deliveries (it has the signature of
// node.Config.OnDeliver): a delivered segment goes to Deliver, a skipped one to Skip.
// It does not block.
func (o *Output) OnDelivery(d livetorrent.Delivery, skipped bool) {
	if skipped || d.Record == nil {
		o.Skip(d.MediaSeq, d.Count, d.Reason)
		return
	}
	o.Deliver(Segment{Record: *d.Record, Data: d.Data, Init: d.Init, InitData: d.InitData})
}
