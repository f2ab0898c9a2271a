package cliutil

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// InheritFlags gives a subcommand the flags typed before its name, for flags both the
// command and the subcommand define. The library reads a flag from the innermost context
// that defines it, so "leecher --dht=false play LINK" would run play with the DHT on and
// every other typed value replaced by its default. A value typed after the subcommand's
// name wins.
func InheritFlags(c *cli.Context) error {
	lineage := c.Lineage()
	if len(lineage) < 2 || c.Command == nil {
		return nil
	}
	parent := lineage[1]
	for _, name := range parent.LocalFlagNames() {
		f := findFlag(c.Command.Flags, name)
		if f == nil || c.IsSet(name) {
			continue
		}
		var values []string
		switch f.(type) {
		case *cli.StringSliceFlag:
			values = parent.StringSlice(name)
		default:
			values = []string{fmt.Sprint(parent.Value(name))}
		}
		for _, v := range values {
			if err := c.Set(name, v); err != nil {
				return UsageError("--%s before %s: %v", name, c.Command.Name, err)
			}
		}
	}
	return nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}
