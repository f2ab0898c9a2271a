package app

import (
	"testing"
	"time"
)

// TestLeecherConfigBounds: a latency no live window holds and a target peer count above
// the connection limit are configuration errors; the target's default follows a lower
// connection limit instead of exceeding it.
func TestLeecherConfigBounds(t *testing.T) {
	for _, c := range []struct {
		cfg  LeecherConfig
		fail bool
	}{
		{LeecherConfig{TargetLatency: -time.Second}, true},
		{LeecherConfig{TargetLatency: MaxLatency + time.Second}, true},
		{LeecherConfig{TargetLatency: 20 * time.Second}, false},
		{LeecherConfig{TargetPeers: -1}, true},
		{LeecherConfig{TargetPeers: 201}, true},
		{LeecherConfig{Limits: Limits{MaxPeers: 20}, TargetPeers: 30}, true},
		{LeecherConfig{Limits: Limits{MaxPeers: 20}}, false},
	} {
		c.cfg.Link = unreachableLink
		_, err := NewLeecher(c.cfg)
		if (err != nil) != c.fail {
			t.Errorf("latency %v, target peers %d, max peers %d: error %v, want failure %v",
				c.cfg.TargetLatency, c.cfg.TargetPeers, c.cfg.Limits.MaxPeers, err, c.fail)
		}
	}
}
