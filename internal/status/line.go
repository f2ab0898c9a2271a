package status

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Line formats a snapshot as one short line for a terminal. A seeder's line is about
// what it serves; a leecher's about playback health and where its data comes from.
func Line(s Snapshot) string {
	if s.Role == "seeder" {
		return fmt.Sprintf("peers %d | egress %s | up %s | published %s",
			s.Peers, multiple(s.EgressMultiple), humanRate(s.SendRate), plural(s.SegmentsPublished, "segment"))
	}
	return fmt.Sprintf("buffer %s | behind live %s | peers %d | from peers %s | down %s | up %s | stalls %d",
		seconds(s.BufferAhead), seconds(s.BehindLive), s.Peers, percent(s.ShareFromPeers()),
		humanRate(s.ReceiveRate), humanRate(s.SendRate), s.Stalls)
}

// IsTerminal reports whether f is a character device, which is what a terminal looks
// like without a terminal library; redirected output (file, pipe) is not. /dev/null
// passes too, which is harmless: nobody sees the line.
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// RunLine rewrites the status line in place on w every interval (a second when every
// <= 0) until ctx ends, then ends the line so later output starts on a fresh one. It
// gives up early if w fails.
func RunLine(ctx context.Context, w io.Writer, m *Monitor, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		// "\x1b[K" clears what a longer previous line left to the right.
		if _, err := io.WriteString(w, "\r"+Line(m.Latest())+"\x1b[K"); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			_, _ = io.WriteString(w, "\n")
			return
		case <-t.C:
		}
	}
}

// humanBytes formats a byte count with decimal (SI) units and about three significant
// digits: "512 B", "4.2 kB", "410 kB", "1.1 MB".
func humanBytes(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return "? B"
	}
	units := [...]string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	// Compare with 999.5, not 1000, so rounding never prints "1000 kB".
	for i < len(units)-1 && v >= 999.5 {
		v /= 1000
		i++
	}
	switch {
	case i == 0:
		return fmt.Sprintf("%.0f B", v)
	case v < 9.95:
		return fmt.Sprintf("%.1f %s", v, units[i])
	default:
		return fmt.Sprintf("%.0f %s", v, units[i])
	}
}

func humanRate(bytesPerSecond float64) string {
	return humanBytes(bytesPerSecond) + "/s"
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func percent(share float64) string {
	return fmt.Sprintf("%.0f%%", share*100)
}

func multiple(m float64) string {
	return fmt.Sprintf("%.2fx", m)
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
