package cliutil

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/livetorrent/livetorrent/internal/app"
	"github.com/livetorrent/livetorrent/livetorrent"
	"github.com/livetorrent/livetorrent/livetorrent/node"
	"github.com/livetorrent/livetorrent/livetorrent/peerconn"
	"github.com/livetorrent/livetorrent/protocol"
)

// LimitFlags are the resource limits shared by the seeder and the leecher. Their defaults
// are the engine's; each is also an environment variable.
func LimitFlags(envPrefix string) []cli.Flag {
	env := func(s string) []string { return []string{envPrefix + s} }
	return []cli.Flag{
		&cli.IntFlag{Name: "max-peers", Value: livetorrent.DefaultMaxPeers, Usage: "most peer connections", EnvVars: env("MAX_PEERS")},
		&cli.IntFlag{Name: "max-half-open", Value: node.DefaultMaxHalfOpen, Usage: "most outgoing handshakes at once", EnvVars: env("MAX_HALF_OPEN")},
		&cli.IntFlag{Name: "max-inbound", Value: node.DefaultMaxInbound, Usage: "most incoming handshakes at once", EnvVars: env("MAX_INBOUND")},
		&cli.IntFlag{Name: "max-inbound-per-ip", Value: node.DefaultMaxInboundPerIP, Usage: "most incoming handshakes at once from one IP address", EnvVars: env("MAX_INBOUND_PER_IP")},
		&cli.IntFlag{Name: "max-peers-per-ip", Value: node.DefaultMaxPeersPerIP, Usage: "most connections with one IP address (IPv6: one /64); loopback is exempt", EnvVars: env("MAX_PEERS_PER_IP")},
		&cli.IntFlag{Name: "request-queue", Value: livetorrent.DefaultReqq, Usage: "requests one peer may queue with us (advertised as reqq)", EnvVars: env("REQUEST_QUEUE")},
		&cli.StringFlag{Name: "max-message", Value: fmt.Sprintf("%dK", protocol.MaxFrameLen>>10), Usage: fmt.Sprintf("largest peer message accepted (%dK..%dK)", app.MinMaxMessage>>10, protocol.MaxFrameLen>>10), EnvVars: env("MAX_MESSAGE")},
		&cli.Float64Flag{Name: "record-rate", Value: livetorrent.DefaultRecordRate, Usage: "records and descriptors per second accepted from one peer (burst 256)", EnvVars: env("RECORD_RATE")},
		&cli.StringFlag{Name: "window-memory", Value: fmt.Sprintf("%dM", livetorrent.DefaultMaxStoreBytes>>20), Usage: "memory for the pieces of the live window; the oldest are evicted beyond it", EnvVars: env("WINDOW_MEMORY")},
		&cli.DurationFlag{Name: "peer-idle-timeout", Value: peerconn.DefaultIdleTimeout, Usage: "close a peer connection silent this long", EnvVars: env("PEER_IDLE_TIMEOUT")},
		&cli.DurationFlag{Name: "peer-write-timeout", Value: peerconn.DefaultWriteTimeout, Usage: "close a peer connection when a write blocks this long (a peer that reads nothing)", EnvVars: env("PEER_WRITE_TIMEOUT")},
	}
}

// Limits reads the LimitFlags; the values are checked when the node is built.
func Limits(c *cli.Context) (app.Limits, error) {
	msg, err := ParseSize(c.String("max-message"))
	if err != nil {
		return app.Limits{}, UsageError("--max-message: %v", err)
	}
	mem, err := ParseSize(c.String("window-memory"))
	if err != nil {
		return app.Limits{}, UsageError("--window-memory: %v", err)
	}
	if err := RejectTypedZero(c, "max-peers", "max-half-open", "max-inbound", "max-inbound-per-ip", "max-peers-per-ip", "request-queue",
		"record-rate", "peer-idle-timeout", "peer-write-timeout"); err != nil {
		return app.Limits{}, err
	}
	if c.IsSet("max-message") && msg == 0 {
		return app.Limits{}, UsageError("--max-message: want a positive size")
	}
	if c.IsSet("window-memory") && mem == 0 {
		return app.Limits{}, UsageError("--window-memory: want a positive size")
	}
	return app.Limits{
		MaxPeers: c.Int("max-peers"), MaxHalfOpen: c.Int("max-half-open"), MaxInbound: c.Int("max-inbound"),
		MaxInboundPerIP: c.Int("max-inbound-per-ip"), MaxPeersPerIP: c.Int("max-peers-per-ip"), RequestQueue: c.Int("request-queue"), MaxMessage: int(msg),
		RecordRate: c.Float64("record-rate"), WindowMemory: mem,
		PeerIdle: c.Duration("peer-idle-timeout"), PeerWrite: c.Duration("peer-write-timeout"),
	}, nil
}
