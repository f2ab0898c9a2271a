package cliutil

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseRate reads a rate in bytes per second: "0" (unlimited), "750000", "500k", "2M",
// "1.5M", "1G" (SI multiples). A trailing "B/s" or "/s" is allowed.
func ParseRate(s string) (int, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "B")
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'm', 'M':
			mult, t = 1e6, t[:n-1]
		case 'g', 'G':
			mult, t = 1e9, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1e12 {
		return 0, UsageError("rate %q: want bytes per second such as 750k or 2M", s)
	}
	return int(v * mult), nil
}

// FormatRate writes bytes per second for humans.
func FormatRate(bps float64) string {
	switch {
	case bps >= 1e6:
		return fmt.Sprintf("%.1f MB/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.0f kB/s", bps/1e3)
	}
	return fmt.Sprintf("%.0f B/s", bps)
}

// ParseSize reads a size in bytes with binary multiples: "65536", "256K", "512M", "2G"
// (K = 1024). A trailing "B" or "iB" is allowed.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "i")
	var shift uint
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			shift, t = 10, t[:n-1]
		case 'm', 'M':
			shift, t = 20, t[:n-1]
		case 'g', 'G':
			shift, t = 30, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(uint64(1)<<shift) > 1<<40 {
		return 0, fmt.Errorf("size %q: want bytes such as 256K or 512M", s)
	}
	return int64(v * float64(uint64(1)<<shift)), nil
}
