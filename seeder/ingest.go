package seeder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Eyevinn/hls-m3u8/m3u8"

	"github.com/livetorrent/livetorrent/protocol"
)

// Ingest follows one HLS source and publishes it as a signed LiveTorrent stream.
type Ingest struct {
	cfg    Config
	pub    Publisher
	log    *slog.Logger
	clock  Clock
	src    *url.URL
	org    *origin
	stream protocol.Stream
	ran    atomic.Bool

	// Owned by the goroutine in Run.
	mediaURL *url.URL     // the media playlist (src, or the chosen variant of a master)
	base     *url.URL     // what segment URIs resolve against (mediaURL after redirects)
	variant  *variantInfo // nil unless src is a master playlist
	desc     *protocol.Descriptor
	pack     *Packager
	init     initCache
	warned   map[string]bool // one-time warnings already logged
	// reresolve makes the next load read the master playlist again (after failed loads
	// of the variant: see follow).
	reresolve bool

	mu    sync.Mutex
	stats Stats
	pdesc *protocol.Descriptor // desc, for other goroutines
}

// initCache is the init segment fetched last, reused while the EXT-X-MAP is unchanged.
type initCache struct {
	ref  *initRef
	data []byte
}

// Stats counts what an ingest did; read it with Ingest.Stats.
type Stats struct {
	Segments       int64     // media records published
	InitSegments   int64     // init-segment records published (changes and refreshes)
	Bytes          int64     // segment bytes published, init segments included
	Skipped        int64     // media segments that will never be published (gaps, failures)
	PlaylistErrors int64     // failed playlist loads
	SegmentErrors  int64     // failed segment fetches (every attempt)
	LastMediaSeq   uint64    // media sequence of the newest published record
	LastPublished  time.Time // when it was published
	Stalled        bool      // the playlist has not changed for StallAfter target durations
	Ended          bool      // the record with FlagEnd was published
}

// New checks cfg and returns an ingest publishing to pub. Nothing is fetched until Run.
func New(cfg Config, pub Publisher) (*Ingest, error) {
	if pub == nil {
		return nil, errors.New("seeder: no publisher")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	src, err := parseSource(c.Source)
	if err != nil {
		return nil, err
	}
	return &Ingest{
		cfg:    c,
		pub:    pub,
		log:    c.Logger,
		clock:  c.Clock,
		src:    src,
		org:    newOrigin(src, c.HTTPClient, c.RequestTimeout),
		stream: protocol.StreamOf(c.Key, c.Salt),
		warned: map[string]bool{},
	}, nil
}

// Stream returns the stream identity (publisher key and salt); its InfoHash names the swarm.
func (in *Ingest) Stream() protocol.Stream { return in.stream }

// Descriptor returns the descriptor published last, or nil before the first playlist load.
func (in *Ingest) Descriptor() *protocol.Descriptor {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.pdesc
}

// Stats returns a snapshot of the counters.
func (in *Ingest) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stats
}

func (in *Ingest) count(f func(*Stats)) {
	in.mu.Lock()
	f(&in.stats)
	in.mu.Unlock()
}

// Run follows the source until ctx ends (returning ctx.Err()) or the stream ends with
// EXT-X-ENDLIST and its last record is published (returning nil). Origin faults never end
// it: they are logged and retried, and what was published stays published. Run may be
// called once.
func (in *Ingest) Run(ctx context.Context) error {
	if !in.ran.CompareAndSwap(false, true) {
		return errors.New("seeder: Run called twice")
	}
	in.log.Info("ingest starting", "source", display(in.src), "info_hash", in.stream.InfoHash().String(), "loop", in.cfg.Loop)
	return in.follow(ctx)
}

// warnOnce logs a warning the first time key is seen.
func (in *Ingest) warnOnce(key, msg string, args ...any) {
	if in.warned[key] {
		return
	}
	in.warned[key] = true
	in.log.Warn(msg, args...)
}

// variantFailures is how many consecutive failed loads of a variant make the ingest read
// the master playlist again: variant URLs often carry a CDN token that expires, and the
// master playlist then names the variant under a new one.
const variantFailures = 3

// loadMedia loads the media playlist, resolving a master playlist to its chosen variant
// on first contact, and again when reresolve is set. It returns the playlist and a digest
// of its text.
func (in *Ingest) loadMedia(ctx context.Context) (*mediaPlaylist, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if in.mediaURL == nil || in.reresolve {
		again := in.mediaURL != nil
		in.reresolve = false
		media, master, body, final, err := in.loadPlaylist(ctx, in.src)
		switch {
		case err != nil:
			return nil, sum, err
		case master != nil:
			if err := in.chooseVariant(master, final, again); err != nil {
				return nil, sum, err
			}
		case again:
			// The master playlist became a media playlist: keep to the variant.
			return nil, sum, fmt.Errorf("%s: expected a master playlist, got a media playlist", display(in.src))
		default:
			in.mediaURL = in.src
			return in.gotMedia(media, final), sha256.Sum256(body), nil
		}
	}
	media, master, body, final, err := in.loadPlaylist(ctx, in.mediaURL)
	if err != nil {
		return nil, sum, err
	}
	if master != nil {
		return nil, sum, fmt.Errorf("%s: expected a media playlist, got a master playlist", display(in.mediaURL))
	}
	return in.gotMedia(media, final), sha256.Sum256(body), nil
}

// loadPlaylist fetches and parses the playlist at u: exactly one of media and master is
// non-nil when err is nil. body is the text parsed, final the URL after redirects.
func (in *Ingest) loadPlaylist(ctx context.Context, u *url.URL) (media *mediaPlaylist, master *m3u8.MasterPlaylist, body []byte, final *url.URL, err error) {
	body, final, err = in.org.fetch(ctx, u, wholeResource, in.cfg.MaxPlaylistBytes)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if !in.org.remote {
		// An encoder writing in place (no temp file and rename) may be caught
		// mid-write: a last line without its newline may be cut short.
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
			body = body[:i+1]
		}
	}
	media, master, err = parsePlaylist(body)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%s: %w", display(u), err)
	}
	return media, master, body, final, nil
}

// chooseVariant makes the variant of master that the configuration picks the media
// playlist. again says the master was read again after failed loads of the variant: the
// descriptor published on first contact keeps the variant's first URL as the origin
// fallback (re-signing it is not done), and a variant that now differs is warned about.
func (in *Ingest) chooseVariant(master *m3u8.MasterPlaylist, final *url.URL, again bool) error {
	v, err := pickVariant(master, in.cfg.Variant)
	if err != nil {
		return fmt.Errorf("%s: %w", display(in.src), err)
	}
	mu, err := in.org.resolve(final, v.uri)
	if err != nil {
		return fmt.Errorf("%s: variant %d: %w", display(in.src), v.index, err)
	}
	old, oldURL := in.variant, in.mediaURL
	in.mediaURL, in.variant = mu, &v
	if again {
		in.log.Info("master playlist read again after failed loads of the variant", "variant", v.index, "of", v.count,
			"playlist", display(mu), "changed", mu.String() != oldURL.String())
		if old.bandwidth != v.bandwidth || old.width != v.width || old.height != v.height || old.codecs != v.codecs {
			in.log.Warn("the variant chosen now differs from the published rendition; following it anyway",
				"bandwidth", v.bandwidth, "resolution", fmt.Sprintf("%dx%d", v.width, v.height), "codecs", v.codecs)
		}
		return nil
	}
	in.log.Info("master playlist: chose a variant", "variant", v.index, "of", v.count,
		"bandwidth", v.bandwidth, "resolution", fmt.Sprintf("%dx%d", v.width, v.height),
		"codecs", v.codecs, "playlist", display(mu))
	if v.audio != "" {
		in.log.Warn("the chosen variant takes its audio from a separate rendition group, which is not carried; viewers get the variant's own playlist only", "audio_group", v.audio)
	}
	return nil
}

// gotMedia notes what a loaded media playlist means for later fetches.
func (in *Ingest) gotMedia(media *mediaPlaylist, final *url.URL) *mediaPlaylist {
	in.base = final
	if media.encrypted {
		in.warnOnce("encrypted", "the playlist uses EXT-X-KEY encryption; segments are published as they are and viewers need the keys from the origin")
	}
	return media
}

// ensureDescriptor signs and publishes the descriptor on first use of a media playlist.
func (in *Ingest) ensureDescriptor(pl *mediaPlaylist) error {
	if in.desc != nil {
		if pl.target != in.desc.TargetDuration {
			in.warnOnce("target", "EXT-X-TARGETDURATION changed; keeping the published value",
				"published", in.desc.TargetDuration, "playlist", pl.target)
		}
		return nil
	}
	rend := protocol.Rendition{ID: 0}
	if v := in.variant; v != nil {
		rend.Bandwidth, rend.Width, rend.Height, rend.Codecs = v.bandwidth, v.width, v.height, v.codecs
	}
	originURL := ""
	if in.org.remote {
		switch u := in.mediaURL; {
		case u.User != nil:
			in.log.Warn("the playlist URL carries credentials; it is not published as the origin fallback")
		case len(u.String()) > protocol.MaxOriginURL:
			in.log.Warn("the playlist URL is too long to publish as the origin fallback", "bytes", len(u.String()))
		default:
			originURL = u.String()
			rend.URI = originURL
		}
	} else if name := path.Base(in.mediaURL.Path); printable(name) && len(name) <= protocol.MaxRenditionURI {
		rend.URI = name
	}
	d, raw, err := SignDescriptor(in.cfg.Key, DescriptorParams{
		Salt: in.cfg.Salt, Name: in.cfg.Name, Origin: originURL, PieceSize: in.cfg.PieceSize,
		TargetDuration: pl.target, WindowDuration: in.cfg.WindowDuration, Rendition: rend,
	}, 0, in.clock.Now())
	if err != nil {
		return fmt.Errorf("signing the descriptor: %w", err)
	}
	pack, err := NewPackager(in.cfg.Key, d, rend.ID, in.cfg.InitRefresh)
	if err != nil {
		return err
	}
	if path := in.cfg.PieceFile; path != "" {
		resume, err := LoadPieceFile(path)
		if err != nil {
			return err
		}
		pack.SetReservation(resume, func(upTo uint64) error { return SavePieceFile(path, upTo) })
		in.log.Info("piece numbering", "file", path, "resume_at", resume)
	}
	in.desc, in.pack = d, pack
	in.mu.Lock()
	in.pdesc = d
	in.mu.Unlock()
	in.pub.PublishDescriptor(d, raw)
	in.log.Info("stream descriptor published", "info_hash", d.Stream.InfoHash().String(), "seq", d.Seq,
		"target_duration", d.TargetDuration, "window", d.WindowDuration, "piece_size", d.PieceSize, "origin", d.Origin)
	return nil
}

// initSection returns the init segment for ref, fetching it when the EXT-X-MAP changed or
// recheck is set (after a discontinuity the encoder may have rewritten it in place).
func (in *Ingest) initSection(ctx context.Context, ref *initRef, recheck bool) (*InitSection, error) {
	if recheck || in.init.data == nil || !in.init.ref.equal(ref) {
		u, err := in.org.resolve(in.base, ref.uri)
		if err != nil {
			return nil, fmt.Errorf("init segment: %w", err)
		}
		data, _, err := in.org.fetch(ctx, u, ref.rng, in.cfg.MaxSegmentBytes)
		if err != nil {
			return nil, fmt.Errorf("init segment: %w", err)
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("init segment %s is empty", display(u))
		}
		in.init = initCache{ref: ref, data: data}
	}
	return &InitSection{URI: ref.uri, Offset: uint64(max(ref.rng.offset, 0)), Data: in.init.data}, nil
}

// fetchSegment fetches a segment's bytes and its init segment.
func (in *Ingest) fetchSegment(ctx context.Context, s playlistSegment, recheckInit bool) ([]byte, *InitSection, error) {
	u, err := in.org.resolve(in.base, s.uri)
	if err != nil {
		return nil, nil, err
	}
	var init *InitSection
	if s.init != nil {
		if init, err = in.initSection(ctx, s.init, recheckInit); err != nil {
			return nil, nil, err
		}
	}
	data, _, err := in.org.fetch(ctx, u, s.rng, in.cfg.MaxSegmentBytes)
	if err != nil {
		return nil, nil, err
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%s: %w: empty segment", display(u), errTruncated)
	}
	return data, init, nil
}

// emit packages a fetched segment and hands the records to the publisher.
func (in *Ingest) emit(seg Segment) bool {
	pks, err := in.pack.Package(seg, in.clock.Now())
	if err != nil {
		in.log.Error("segment not published: packaging failed", "media_seq", seg.MediaSeq, "err", err)
		in.count(func(s *Stats) { s.Skipped++ })
		return false
	}
	for _, pk := range pks {
		in.pub.PublishSegment(pk.Record, pk.Raw, pk.Data)
		r := pk.Record
		if first := in.Stats().Segments == 0 && !r.IsInit(); first {
			in.log.Info("publishing", "first_media_seq", r.MediaSeq, "first_piece", r.FirstPiece, "uri", r.URI)
		}
		in.count(func(s *Stats) {
			s.Bytes += int64(len(pk.Data))
			if r.IsInit() {
				s.InitSegments++
				return
			}
			s.Segments++
			s.LastMediaSeq, s.LastPublished = r.MediaSeq, r.Published
			s.Ended = s.Ended || r.Flags&protocol.FlagEnd != 0
		})
		if r.IsInit() {
			in.log.Debug("published init segment", "media_seq", r.MediaSeq, "first_piece", r.FirstPiece, "bytes", r.Length, "uri", r.URI)
		} else {
			in.log.Debug("published segment", "media_seq", r.MediaSeq, "first_piece", r.FirstPiece, "pieces", len(r.Hashes),
				"bytes", r.Length, "duration", r.Duration, "discontinuity", r.Flags&protocol.FlagDiscontinuity != 0,
				"end", r.Flags&protocol.FlagEnd != 0, "uri", r.URI)
		}
	}
	return true
}
