//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package bench

import "time"

// processCPU is not measured on this system: the report leaves CPU out.
func processCPU() (time.Duration, bool) { return 0, false }
