package relayctl

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/teredorelay/teredorelay/internal/buildinfo"
)

// versionInfo is what "relayctl version -o json" prints.
type versionInfo struct {
	Client versionOf  `json:"client"`
	Daemon *versionOf `json:"daemon,omitempty"`
	// DaemonError says why the daemon's version is missing.
	DaemonError string `json:"daemon_error,omitempty"`
}

type versionOf struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	GoVersion string `json:"go_version"`
}

func newVersionCommand(e *env) *cobra.Command {
	var (
		out    string
		client bool
	)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print relayctl's version and, when it answers, the daemon's",
		Long: `Prints relayctl's version, then asks the daemon for its own (2 s at most).
A daemon that cannot be reached is reported, not an error: the exit status is
0 either way. --client skips the daemon.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output(out, "table", "json"); err != nil {
				return err
			}
			v := versionInfo{Client: versionOf{buildinfo.Version(), buildinfo.Revision(), buildinfo.GoVersion()}}
			if !client {
				ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
				st, _, err := e.client().Status(ctx)
				cancel()
				if err != nil {
					v.DaemonError = err.Error()
				} else {
					v.Daemon = &versionOf{st.Version, st.Revision, st.GoVersion}
				}
			}
			if out == "json" {
				enc := json.NewEncoder(e.opts.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			fmt.Fprintf(e.opts.Stdout, "relayctl %s (revision %s, %s)\n", v.Client.Version, v.Client.Revision, v.Client.GoVersion)
			switch {
			case v.Daemon != nil:
				fmt.Fprintf(e.opts.Stdout, "teredo-relayd %s (revision %s, %s)\n", v.Daemon.Version, v.Daemon.Revision, v.Daemon.GoVersion)
			case !client:
				fmt.Fprintf(e.opts.Stdout, "teredo-relayd: unknown: %s\n", v.DaemonError)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVar(&client, "client", false, "print relayctl's version only")
	return cmd
}
