// Package livetorrent is the LiveTorrent swarm engine core: a deterministic state machine
// that holds the rolling piece window of one live stream, decides what to request from
// which peer (by playback deadline, then rarest first), what to upload to whom (choking,
// and the publisher's bounded copies), verifies every piece against its signed record,
// and hands complete segments to the player in order.
//
// The core has no goroutines, sockets or clock. A driver feeds it events with the current
// time and executes the actions it returns:
//
//	sw, _ := livetorrent.New(livetorrent.Config{Role: livetorrent.RoleViewer, Stream: link.Stream})
//	for ev := range events {
//		for _, a := range sw.Handle(time.Now(), ev) {
//			switch a.Kind {
//			case livetorrent.ActSend:       // write a.Msg to a.Peer
//			case livetorrent.ActControl:    // write choke/unchoke/interested/not-interested
//			case livetorrent.ActClose:      // close a.Peer (and ban its address if a.Ban)
//			case livetorrent.ActDeliver:    // give a.Delivery to the player
//			case livetorrent.ActSkip:       // tell the player a segment is missing
//			case livetorrent.ActFetchOrigin: // HTTP range request, answer with OriginData
//			case livetorrent.ActCancelOrigin: // abort that fetch: a peer delivered the piece
//			case livetorrent.ActWakeAt:     // (re)arm the one timer; send Tick when it fires
//			}
//		}
//	}
//
// Events: PeerUp after both handshakes, PeerDown when a connection ends, Received for every
// live message, ControlReceived for choke/unchoke/interested/not-interested, Written when
// DATA bytes reached the socket (upload credit), Tick when the WakeAt timer fires, Publish
// for the publisher's new segments, OriginData for fetches. Everything received is checked
// against the core's state: malformed or inconsistent input closes the connection, badly
// signed data or repeated bad pieces also ban the address, floods are closed, and every
// per-peer structure is bounded.
//
// The same core runs under the TCP driver, in deterministic tests, and in a simulator; see
// NOTES.md for the algorithms and their costs.
package livetorrent
