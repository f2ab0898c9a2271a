package discovery

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"

	"github.com/livetorrent/livetorrent/protocol"
)

// Defaults for the stream's BEP 44 item (spec section 13.3). Storing nodes drop items after
// about two hours, so the publisher refreshes well within that.
const (
	defaultItemRefresh = 30 * time.Minute
	itemCheckEvery     = 2 * time.Second
	itemRetryMin       = 2 * time.Second
)

var (
	errNoNewerItem    = errors.New("dht item is not newer than the one held")
	errItemNotFound   = errors.New("dht item not found")
	errNoStoringNodes = errors.New("dht: no node gave a token to put the item")
	errNotStored      = errors.New("dht: no node stored the item")
)

// publishItems puts the item cfg.Item returns whenever it changes and every ItemRefresh,
// retrying sooner when no node took it.
func publishItems(ctx context.Context, s *dht.Server, cfg DHTConfig) {
	var (
		last    protocol.DHTItem
		lastPut time.Time
		retry   = itemRetryMin
		nextTry time.Time
	)
	for {
		it, ok := cfg.Item()
		now := time.Now()
		due := ok && (it != last || now.Sub(lastPut) >= cfg.ItemRefresh)
		if due && !now.Before(nextTry) {
			n, err := putItem(ctx, s, cfg.Key, cfg.Stream.Salt, it)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil || n == 0:
				cfg.Logger.Debug("dht item put: no node stored it; retrying", "seq", it.DescriptorSeq, "err", err, "retry", retry)
				nextTry, retry = now.Add(retry), min(2*retry, cfg.Every)
			default:
				cfg.Logger.Debug("dht item put", "seq", it.DescriptorSeq, "stored", n)
				last, lastPut, retry, nextTry = it, now, itemRetryMin, time.Time{}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(itemCheckEvery):
		}
	}
}

// putItem stores the signed item on the nodes closest to its target (a get traversal for
// their write tokens, then a put to each), returning how many nodes stored it; none is an
// error, so the publisher retries on its short schedule.
func putItem(ctx context.Context, s *dht.Server, key ed25519.PrivateKey, salt []byte, it protocol.DHTItem) (int, error) {
	seq, v, sig, err := protocol.SignDHTItem(key, salt, it)
	if err != nil {
		return 0, err
	}
	var pk [32]byte
	copy(pk[:], key.Public().(ed25519.PublicKey))
	target := bep44.MakeMutableTarget(pk, salt)
	tctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	closest, responses, err := traverse(tctx, s, target, 8, func(ctx context.Context, addr dht.Addr) dht.QueryResult {
		return s.Get(ctx, addr, target, nil, dht.QueryRateLimiting{})
	})
	cancel()
	if len(closest) == 0 {
		return 0, cmp.Or(err, errNoStoringNodes)
	}
	put := bep44.Put{V: bencode.Bytes(v), K: &pk, Salt: salt, Sig: sig, Seq: seq}
	// Only a put answered with a result stored a copy: a node may answer the get with a token
	// and then refuse the put (a KRPC error), or not answer it at all.
	stored := finalRound(ctx, closest, func(ctx context.Context, n tokenNode) error {
		return s.Put(ctx, n.addr, put, n.token, dht.QueryRateLimiting{}).ToError()
	})
	if stored == 0 {
		return 0, fmt.Errorf("%w (%d nodes answered the get, %d were asked to store)", errNotStored, responses, len(closest))
	}
	return stored, nil
}

// resolveItems gets the stream's item until one verifies, then looks for a newer one every
// period, reporting each newer verified item to cfg.OnItem.
func resolveItems(ctx context.Context, s *dht.Server, cfg DHTConfig) {
	var have *int64
	wait := itemRetryMin
	target := bep44.MakeMutableTarget(cfg.Stream.Key, cfg.Stream.Salt)
	for {
		it, seq, err := getItem(ctx, s, target, have, cfg.Stream)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if fe := (*protocol.FieldError)(nil); errors.As(err, &fe) {
				cfg.Logger.Warn("dht item rejected", "err", err)
			} else {
				cfg.Logger.Debug("dht item get", "err", err)
			}
			if have == nil {
				wait = min(2*wait, cfg.Every)
			}
		default:
			cfg.Logger.Info("stream descriptor resolved through the DHT", "seq", it.DescriptorSeq)
			have, wait = &seq, cfg.Every
			cfg.OnItem(it)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// getItem fetches the newest item above seq (any item if seq is nil) and verifies it against
// the stream key, salt and swarm. An item whose seq is not above seq is an error.
func getItem(ctx context.Context, s *dht.Server, target bep44.Target, seq *int64, st protocol.Stream) (protocol.DHTItem, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	var mu sync.Mutex
	var best *krpc.Bep44Return
	_, _, err := traverse(ctx, s, target, 8, func(ctx context.Context, addr dht.Addr) dht.QueryResult {
		res := s.Get(ctx, addr, target, seq, dht.QueryRateLimiting{})
		// Keep the highest seq whose BEP 44 signature verifies under the stream key, so a
		// forged item with a huge seq cannot hide the real one.
		if r := res.Reply.R; r != nil && r.Seq != nil && len(r.V) > 0 && r.K == st.Key &&
			bep44.Verify(r.K[:], st.Salt, *r.Seq, r.V, r.Sig[:]) {
			mu.Lock()
			if best == nil || *r.Seq > *best.Seq {
				b := r.Bep44Return
				best = &b
			}
			mu.Unlock()
		}
		return res
	})
	mu.Lock()
	defer mu.Unlock()
	if best == nil {
		return protocol.DHTItem{}, 0, cmp.Or(err, errItemNotFound)
	}
	// We asked for a seq above ours, but any node may answer with an older item it holds (or
	// replay one on purpose): its signature is valid, so only the seq tells it apart. Taking
	// it would roll the viewer back to an older descriptor hash (spec 13.3).
	if seq != nil && *best.Seq <= *seq {
		return protocol.DHTItem{}, 0, fmt.Errorf("%w: got seq %d, hold %d", errNoNewerItem, *best.Seq, *seq)
	}
	it, err := protocol.VerifyDHTItem(st, *best.Seq, best.V, best.Sig)
	return it, *best.Seq, err
}
