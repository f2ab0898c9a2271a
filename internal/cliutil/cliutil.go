// Package cliutil holds what the seeder, leecher and livetorrent commands share: exit codes,
// the stderr logger, and a context that ends on SIGINT or SIGTERM.
package cliutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Exit codes, documented in each command's help.
const (
	ExitOK      = 0 // finished, or stopped by SIGINT/SIGTERM
	ExitFailure = 1 // a runtime failure (origin gone for good, listener lost, ...)
	ExitUsage   = 2 // bad flags or arguments
	ExitConfig  = 3 // unusable configuration: key file, link, addresses
)

// UsageError marks an error as a usage error (exit code 2).
func UsageError(format string, args ...any) error {
	return cli.Exit(fmt.Sprintf(format, args...), ExitUsage)
}

// ConfigError marks an error as a configuration error (exit code 3).
func ConfigError(err error) error { return cli.Exit(err.Error(), ExitConfig) }

// LogFlags are the logging flags every command takes.
func LogFlags(envPrefix string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{envPrefix + "LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json", EnvVars: []string{envPrefix + "LOG_FORMAT"}},
	}
}

// Logger builds the logger the flags ask for, writing to w (stderr: stdout may carry media).
func Logger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, UsageError("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(c.String("log-format")) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, UsageError("--log-format: want text or json")
}

// SignalContext ends on SIGINT or SIGTERM; a second signal kills the process at once.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
			signal.Stop(ch)
			return
		}
		<-ch
		os.Exit(130)
	}()
	return ctx, cancel
}

// Main runs app with the process arguments and exits with its code. Errors are printed to
// stderr; a cancelled context (a signal) is a clean exit.
func Main(app *cli.App) {
	os.Exit(Run(app, os.Args, os.Stderr))
}

// Run runs app and returns the exit code, for tests.
func Run(app *cli.App, args []string, stderr io.Writer) int {
	app.ExitErrHandler = func(*cli.Context, error) {}
	err := app.Run(args)
	if err == nil || errors.Is(err, context.Canceled) {
		return ExitOK
	}
	fmt.Fprintln(stderr, "error:", err)
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	if strings.Contains(err.Error(), "flag provided but not defined") || strings.Contains(err.Error(), "Required flag") {
		return ExitUsage
	}
	return ExitFailure
}
