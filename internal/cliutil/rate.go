package cliutil

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseRate reads a rate in bytes per second: "0" (unlimited), "750000", "500k", "2M",
// "1.5M", "1G" (SI multiples). A trailing "B/s" or "/s" is allowed.
func ParseRate(s string) (int, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "/s"), "B")
	v, ok := parseScaled(t, 1e3, 1e12)
	if !ok || (v > 0 && v < 1) {
		// Below a byte per second would round to 0, which means unlimited.
		return 0, UsageError("rate %q: want bytes per second such as 750k or 2M (0: unlimited)", s)
	}
	return int(v), nil
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
	t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "B"), "i")
	v, ok := parseScaled(t, 1024, 1<<40)
	if !ok {
		return 0, fmt.Errorf("size %q: want bytes such as 256K or 512M", s)
	}
	return int64(v), nil
}

// parseScaled reads a non-negative number with an optional k, M or G suffix, each a
// factor of unit over the one before, and refuses results above limit.
func parseScaled(t string, unit, limit float64) (float64, bool) {
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = unit, t[:n-1]
		case 'm', 'M':
			mult, t = unit*unit, t[:n-1]
		case 'g', 'G':
			mult, t = unit*unit*unit, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v >= 0) || v*mult > limit { // !(v >= 0) also refuses NaN
		return 0, false
	}
	return v * mult, true
}
