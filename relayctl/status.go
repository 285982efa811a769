package relayctl

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/teredorelay/teredorelay/control/api"
)

func newStatusCommand(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Roles, interfaces, queues, XDP and socket modes, readiness, drain, uptime",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output(out, "table", "json"); err != nil {
				return err
			}
			st, raw, err := e.client().Status(cmd.Context())
			if err != nil {
				return err
			}
			if out == "json" {
				_, err = e.opts.Stdout.Write(raw)
				return err
			}
			printStatus(e.opts.Stdout, &st)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: table or json")
	return cmd
}

func printStatus(w io.Writer, s *api.Status) {
	fmt.Fprintf(w, "teredo-relayd %s (revision %s, %s)\n", s.Version, s.Revision, s.GoVersion)
	state := "ready"
	if !s.Ready {
		state = "NOT READY"
		if len(s.NotReady) > 0 {
			state += ": " + strings.Join(s.NotReady, "; ")
		}
	}
	t := newTable(w)
	row(t, "roles:", join(s.Roles))
	row(t, "addresses:", join(s.Addresses))
	row(t, "state:", state)
	row(t, "draining:", yesNo(s.Draining))
	row(t, "uptime:", fmt.Sprintf("%s (since %s)", duration(s.UptimeSeconds), ts(s.StartTime)))
	reload := "last reload ok"
	if !s.Reload.LastReloadSuccessful {
		reload = "LAST RELOAD FAILED"
		if s.Reload.LastError != "" {
			reload += ": " + s.Reload.LastError
		}
	}
	row(t, "config:", fmt.Sprintf("%s (%d reloads, %d failed; loaded %s)", reload, s.Reload.Reloads, s.Reload.Failures, ts(s.Reload.LastSuccess)))
	t.Flush()
	fmt.Fprintln(w)
	t = newTable(w)
	row(t, "INTERFACE", "XDP MODE", "QUEUE", "SOCKET MODE", "RX PKTS", "TX PKTS", "RING STATS")
	for _, ifc := range s.Interfaces {
		mode := ifc.XDPMode
		if mode == "" {
			mode = "-"
		}
		if len(ifc.Queues) == 0 {
			row(t, ifc.Name, mode, "-", "-", "-", "-", "-")
		}
		for _, q := range ifc.Queues {
			ring := "ok"
			if q.RingError != "" {
				ring = "error: " + q.RingError
			}
			row(t, ifc.Name, mode, q.ID, q.SocketMode, q.RxPackets, q.TxPackets, ring)
		}
	}
	t.Flush()
}
