package cliutil

import (
	"time"

	"github.com/urfave/cli/v2"
)

// RejectTypedZero refuses a zero typed for any of the named number or duration flags. The
// libraries read zero as "the default", and every such flag shows a nonzero default, so a
// typed zero would otherwise run with the default and ignore what the user asked for.
func RejectTypedZero(c *cli.Context, names ...string) error {
	for _, name := range names {
		if c.IsSet(name) && isZero(c.Value(name)) {
			return UsageError("--%s 0: want a positive value", name)
		}
	}
	return nil
}

func isZero(v any) bool {
	switch v := v.(type) {
	case int:
		return v == 0
	case uint64:
		return v == 0
	case float64:
		return v == 0
	case time.Duration:
		return v == 0
	}
	return false
}
