package protocol_test

import pp "github.com/anacrolix/torrent/peer_protocol"

func protoType(b byte) pp.MessageType { return pp.MessageType(b) }
