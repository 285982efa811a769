package relayctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/teredorelay/teredorelay/control/api"
)

// EnvSocket overrides the default control socket path.
const EnvSocket = "RELAYCTL_SOCKET"

// Exit statuses.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitUnreachable = 3
	ExitNotFound    = 4
)

// Options are the process's environment, injectable for tests.
type Options struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Terminal is true when Stdout is a terminal: --watch then redraws the
	// screen instead of appending.
	Terminal bool
}

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// ExitCode maps an error returned by a command to the process exit status.
func ExitCode(err error) int {
	var ue usageError
	var unreachable *api.UnreachableError
	var apiErr *api.Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &unreachable):
		return ExitUnreachable
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeNotFound:
		return ExitNotFound
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeBadRequest:
		return ExitUsage
	default:
		return ExitFailed
	}
}

// env holds what every subcommand needs.
type env struct {
	opts    Options
	socket  string
	timeout time.Duration
}

func (e *env) client() *api.Client { return api.NewClient(e.socket, e.timeout) }

// NewCommand returns the relayctl root command.
func NewCommand(o Options) *cobra.Command {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	e := &env{opts: o}
	def := api.DefaultSocket
	if s := o.Getenv(EnvSocket); s != "" {
		def = s
	}
	root := &cobra.Command{
		Use:   "relayctl",
		Short: "Inspect and control a running teredo-relayd",
		Long: `relayctl talks to teredo-relayd over its control socket (HTTP/JSON, API v1).
Tables are for people; -o json prints the API's JSON exactly.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(o.Stdout)
	root.SetErr(o.Stderr)
	root.PersistentFlags().StringVarP(&e.socket, "socket", "s", def, "control socket of teredo-relayd (env "+EnvSocket+")")
	root.PersistentFlags().DurationVar(&e.timeout, "timeout", 10*time.Second, "timeout of each API call")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newStatusCommand(e),
		newStatsCommand(e),
		newPeersCommand(e),
		newDrainCommand(e, true),
		newDrainCommand(e, false),
		newReloadCommand(e),
	)
	return root
}

// Main runs relayctl with args and returns the exit status.
func Main(ctx context.Context, args []string, o Options) int {
	cmd := NewCommand(o)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		w := o.Stderr
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintf(w, "relayctl: %v\n", err)
		if ExitCode(err) == ExitUsage {
			fmt.Fprintln(w, "Run 'relayctl --help' for usage.")
		}
	}
	return ExitCode(err)
}

// output validates an -o value against the formats a command supports.
func output(o string, allowed ...string) error {
	for _, a := range allowed {
		if o == a {
			return nil
		}
	}
	return usagef("output format %q is not one of %v", o, allowed)
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// watch calls render, then again every interval until ctx is done. On a
// terminal it redraws the screen; otherwise snapshots follow each other.
func (e *env) watch(ctx context.Context, interval time.Duration, render func() error) error {
	for first := true; ; first = false {
		if e.opts.Terminal {
			fmt.Fprint(e.opts.Stdout, "\x1b[H\x1b[2J")
		} else if !first {
			fmt.Fprintln(e.opts.Stdout)
		}
		if err := render(); err != nil {
			return err
		}
		if interval <= 0 {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
