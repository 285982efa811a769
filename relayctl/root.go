package relayctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/teredorelay/teredorelay/control/api"
)

// EnvSocket overrides the default control socket path.
const EnvSocket = "RELAYCTL_SOCKET"

// Exit statuses (exitCodesHelp documents them).
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitUnreachable = 3
	ExitNotFound    = 4
	ExitDenied      = 5
)

// exitCodesHelp ends the root command's help.
const exitCodesHelp = `Exit status:
  0  success
  1  the daemon refused or failed the request (e.g. a rejected reload)
  2  usage error: unknown command or flag, bad value
  3  the daemon cannot be reached (not running, wrong --socket, no permission)
  4  the requested peer is not in the peer table
  5  not allowed: drain, undrain and reload need root, the daemon's user or
     a member of api.admin_group (reading needs only access to the socket)`

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
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeForbidden:
		return ExitDenied
	case strings.HasPrefix(err.Error(), "unknown command "):
		// cobra's own error for a subcommand that does not exist
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
Tables are for people; -o json prints the API's JSON exactly.

` + exitCodesHelp,
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
		newVersionCommand(e),
	)
	return root
}

// Main runs relayctl with args and returns the exit status.
func Main(ctx context.Context, args []string, o Options) int {
	cmd := NewCommand(o)
	cmd.SetArgs(joinWatch(args))
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

// joinWatch lets --watch (-w) take its interval as the next argument,
// "--watch 1s", as well as "--watch=1s"; alone it still means 2s. pflag
// cannot do both for a flag with a default when given without a value.
func joinWatch(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if (a == "--watch" || a == "-w") && i+1 < len(args) {
			if _, err := time.ParseDuration(args[i+1]); err == nil {
				out = append(out, a+"="+args[i+1])
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
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
