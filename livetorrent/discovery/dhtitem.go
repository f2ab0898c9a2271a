package discovery

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/exts/getput"
	"github.com/anacrolix/torrent/bencode"

	"github.com/livetorrent/livetorrent/protocol"
)

// Defaults for the stream's BEP 44 item (spec section 13.3). Storing nodes drop items after
// about two hours, so the publisher refreshes well within that.
const (
	defaultItemRefresh = 30 * time.Minute
	itemCheckEvery     = 2 * time.Second
	itemOpTimeout      = 30 * time.Second
	itemRetryMin       = 2 * time.Second
)

var errNoNewerItem = errors.New("dht item is not newer than the one held")

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
				cfg.Logger.Debug("dht item put", "seq", it.DescriptorSeq, "responses", n)
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

// putItem stores the signed item on the nodes closest to its target, returning how many
// nodes answered the traversal.
func putItem(ctx context.Context, s *dht.Server, key ed25519.PrivateKey, salt []byte, it protocol.DHTItem) (int, error) {
	seq, v, sig, err := protocol.SignDHTItem(key, salt, it)
	if err != nil {
		return 0, err
	}
	var pk [32]byte
	copy(pk[:], key.Public().(ed25519.PublicKey))
	ctx, cancel := context.WithTimeout(ctx, itemOpTimeout)
	defer cancel()
	target := bep44.MakeMutableTarget(pk, salt)
	st, err := getput.Put(ctx, target, s, salt, func(int64) bep44.Put {
		return bep44.Put{V: bencode.Bytes(v), K: &pk, Salt: salt, Sig: sig, Seq: seq}
	})
	if err != nil {
		return 0, err
	}
	return int(st.NumResponses), nil
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
	ctx, cancel := context.WithTimeout(ctx, itemOpTimeout)
	defer cancel()
	res, _, err := getput.Get(ctx, target, s, seq, st.Salt)
	if err != nil {
		return protocol.DHTItem{}, 0, err
	}
	if !res.Mutable {
		return protocol.DHTItem{}, 0, errNotMutable
	}
	// We asked for a seq above ours, but any node may answer with an older item it holds (or
	// replay one on purpose): its signature is valid, so only the seq tells it apart. Taking
	// it would roll the viewer back to an older descriptor hash (spec 13.3).
	if seq != nil && res.Seq <= *seq {
		return protocol.DHTItem{}, 0, fmt.Errorf("%w: got seq %d, hold %d", errNoNewerItem, res.Seq, *seq)
	}
	it, err := protocol.VerifyDHTItem(st, res.Seq, res.V, res.Sig)
	return it, res.Seq, err
}
