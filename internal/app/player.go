package app

import (
	"context"
	"sync"

	"github.com/livetorrent/livetorrent/leecher"
)

// sessionPlayer is the player a leecher session runs (--player): started once, by Run or
// by the goroutine that waits for the first segment, and stopped by Run.
type sessionPlayer struct {
	mu sync.Mutex
	p  *leecher.Player
}

// start starts the player; onExit runs when it exits (closing the player ends the session).
func (sp *sessionPlayer) start(ctx context.Context, cfg leecher.PlayerConfig, onExit func()) error {
	p, err := leecher.StartPlayer(ctx, cfg)
	if err != nil {
		return err
	}
	sp.mu.Lock()
	sp.p = p
	sp.mu.Unlock()
	go func() { <-p.Done(); onExit() }()
	return nil
}

// get returns the player, or nil if none was started.
func (sp *sessionPlayer) get() *leecher.Player {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.p
}
