package node

import (
	"cmp"
	"net/netip"
	"time"

	"github.com/livetorrent/livetorrent/internal/stale"
	"github.com/livetorrent/livetorrent/protocol"
)

// The dialer's address table and what it keeps when discovery offers more than it holds.
//
// Peer exchange lets any connected peer name addresses, 50 per message, so the table must
// not be something one source can fill. The policy:
//
//   - The table holds at most maxKnownAddrs addresses, and at most maxAddrsPerGroup of them
//     in one IP group (an IPv4 address, an IPv6 /64: what one host usually has), so that
//     one host listing its own or a victim's ports cannot take more than a few entries.
//     The group cap follows MaxPeersPerIP in exempting loopback (a one-machine swarm shares
//     127.0.0.1); loopback addresses are still counted by group for eviction below.
//   - Addresses from the link or the configuration (pinned) are never capped or evicted.
//   - When the table (or the new address's group) is full, the least valuable idle entry
//     gives way, if it is worth less than the newcomer. Value ranks, most important first:
//     a connection to it once completed the handshakes (proof that a peer of this stream
//     listens there); where it came from (trackers and the DHT before peer exchange, whose
//     lists are only as honest as the peer that sent them); how few addresses its group
//     holds (so a host with many entries yields first); how few dials to it failed.
//     An entry that is connected or being dialled is not evicted.
//
// So addresses that once connected, and tracker ones, cannot be pushed out by peer
// exchange; peer exchange can only displace its own never-connected entries, and only
// those of groups larger than the newcomer's, or failing ones. A flood from many distinct
// hosts can still fill the table with peer-exchange entries; they drain as their dials
// fail (maxDialFailures), and tracker addresses displace them meanwhile.
//
// An address forgotten after failing (or evicted with failures) is remembered for forgetFor:
// discovery listing it again meanwhile is ignored, so a peer re-sending a victim's address
// in every ut_pex does not earn it a fresh maxDialFailures dials each time.
const (
	// maxKnownAddrs bounds the addresses the dialer remembers, whatever discovery sends.
	maxKnownAddrs = 1024
	// maxAddrsPerGroup bounds the unpinned addresses of one IP group. Twice the default
	// MaxPeersPerIP: a NAT or a shared host may hold a few honest peers, and the dialer only
	// connects to MaxPeersPerIP of them anyway.
	maxAddrsPerGroup = 2 * DefaultMaxPeersPerIP
	// forgetFor is how long a forgotten address is not taken back; the set holds at most
	// maxForgotten, the oldest giving way.
	forgetFor    = 10 * time.Minute
	maxForgotten = 4 * maxKnownAddrs
)

// addrSource is where the dialer learned an address, least trusted first.
type addrSource uint8

const (
	fromPex       addrSource = iota // a connected peer's ut_pex message
	fromDiscovery                   // trackers and the DHT (Node.AddPeers)
	fromLink                        // the link or the configuration: pinned
)

// add starts keeping addr connected from the next poll. Pinned addresses (the link's
// peers) are dialled whatever the peer count; others only while the node is below its
// target, and only if the table policy above makes room for them.
func (d *dialer) add(addr string, src addrSource, now time.Time) {
	pinned := src == fromLink
	if st, ok := d.addrs[addr]; ok {
		if pinned && !st.pinned {
			d.uncount(st)
			st.pinned = true
		}
		st.source = max(st.source, src)
		return
	}
	if protocol.CheckPeerAddr(addr) != nil {
		return
	}
	if pinned {
		delete(d.forgotten, addr)
	} else if d.recentlyForgotten(addr, now) {
		return
	}
	st := &dialState{backoff: minBackoff, pinned: pinned, source: src}
	// The group an address counts in for the table: its hostPrefix, loopback included; none
	// for host names.
	ap, err := netip.ParseAddrPort(addr)
	if st.grouped = err == nil; st.grouped {
		st.group = hostPrefix(ap.Addr())
	}
	if !pinned {
		// The cap applies where MaxPeersPerIP does: not to loopback, unless tests ask.
		capped := st.grouped && (!ap.Addr().Unmap().IsLoopback() || d.n.limitLoopback)
		if capped && d.groups[st.group] >= maxAddrsPerGroup && !d.evict(st, true, now) {
			return
		}
		if len(d.addrs) >= maxKnownAddrs && !d.evict(st, false, now) {
			return
		}
		d.count(st)
	}
	d.addrs[addr] = st
}

// forget drops addr from the table.
func (d *dialer) forget(addr string) {
	if st, ok := d.addrs[addr]; ok {
		d.uncount(st)
		delete(d.addrs, addr)
	}
}

// remember notes that addr was forgotten at now. A full set first drops what has expired,
// then if need be the oldest entry: it passes over the set only while full, at most once
// per address forgotten, and forgetting takes failed dials, which are paced.
func (d *dialer) remember(addr string, now time.Time) {
	if _, ok := d.forgotten[addr]; !ok && len(d.forgotten) >= maxForgotten {
		stale.Evict(d.forgotten, func(t time.Time) time.Time { return t }, now, forgetFor)
	}
	d.forgotten[addr] = now
}

// recentlyForgotten reports whether addr was forgotten less than forgetFor ago.
func (d *dialer) recentlyForgotten(addr string, now time.Time) bool {
	t, ok := d.forgotten[addr]
	if ok && now.Sub(t) >= forgetFor {
		delete(d.forgotten, addr)
		return false
	}
	return ok
}

// count and uncount keep the number of unpinned entries per group.
func (d *dialer) count(st *dialState) {
	if st.grouped && !st.pinned {
		d.groups[st.group]++
	}
}

func (d *dialer) uncount(st *dialState) {
	if !st.grouped || st.pinned {
		return
	}
	if d.groups[st.group]--; d.groups[st.group] <= 0 {
		delete(d.groups, st.group)
	}
}

// evict makes room for newcomer by forgetting the least valuable idle entry (in the
// newcomer's group only, if sameGroup), provided it is worth less than the newcomer; false
// if none is. It passes over the whole table, but only while the table or the group is
// full, at most once per address discovery offers (bounded per message and per peer).
func (d *dialer) evict(newcomer *dialState, sameGroup bool, now time.Time) bool {
	victim, vst := "", (*dialState)(nil)
	for addr, st := range d.addrs {
		if st.pinned || st.busy || (sameGroup && !newcomer.sameGroup(st)) {
			continue
		}
		if _, connected := d.n.byAddr[addr]; connected {
			continue
		}
		if vst == nil || d.worth(st, 0).compare(d.worth(vst, 0)) < 0 {
			victim, vst = addr, st
		}
	}
	if vst == nil {
		return false
	}
	// The newcomer joins its group, the victim leaves its own: between two groups a swap is
	// worth it only if the victim's stays at least as large, or the groups would trade
	// entries back and forth. Within one group the size does not change.
	joins := 1
	if newcomer.sameGroup(vst) {
		joins = 0
	}
	if d.worth(vst, 0).compare(d.worth(newcomer, joins)) >= 0 {
		return false
	}
	d.forget(victim)
	if vst.failures > 0 {
		d.remember(victim, now)
	}
	return true
}

func (st *dialState) sameGroup(o *dialState) bool {
	return st.grouped && o.grouped && st.group == o.group
}

// addrWorth ranks entries for eviction (see the policy above).
type addrWorth struct {
	connected bool
	source    addrSource
	groupSize int // larger is worth less
	failures  int // more is worth less
}

// compare is negative if w is worth less than o.
func (w addrWorth) compare(o addrWorth) int {
	if w.connected != o.connected {
		if w.connected {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(w.source, o.source); c != 0 {
		return c
	}
	if c := cmp.Compare(o.groupSize, w.groupSize); c != 0 {
		return c
	}
	return cmp.Compare(o.failures, w.failures)
}

// worth is an entry's rank, its group counted with joins more entries.
func (d *dialer) worth(st *dialState, joins int) addrWorth {
	size := 1
	if st.grouped {
		size = d.groups[st.group] + joins
	}
	return addrWorth{st.connected, st.source, size, st.failures}
}
