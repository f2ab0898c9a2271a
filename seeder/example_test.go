package seeder_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/livetorrent/livetorrent/protocol"
	"github.com/livetorrent/livetorrent/seeder"
)

// printPublisher stands in for the swarm engine.
type printPublisher struct{}

func (printPublisher) PublishDescriptor(d *protocol.Descriptor, raw []byte) {
	fmt.Println("descriptor", d.Seq)
}

func (printPublisher) PublishSegment(rec protocol.Record, raw, data []byte) {
	fmt.Println("segment", rec.MediaSeq, len(data))
}

// How a command wires the ingest: load (or create) the key, build the config, run until
// the context ends or the stream ends.
func Example() {
	key, created, err := seeder.LoadOrCreateKey("publisher.pem")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	if created {
		fmt.Println("new publisher key:", protocol.StreamOf(key, nil).Key)
	}
	in, err := seeder.New(seeder.Config{
		Source:     "https://origin.example/live/index.m3u8", // or a local playlist path
		Key:        key,
		Name:       "channel one",
		Loop:       false,
		HTTPClient: &http.Client{Transport: http.DefaultTransport},
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}, printPublisher{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	link := protocol.Link{Stream: in.Stream(), Name: "channel one"}
	fmt.Println("open", link.String())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := in.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
