package relayctl

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/teredorelay/teredorelay/control/api"
)

func newStatusCommand(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Roles, addresses, server role counts, readiness, drain, announcement, interfaces, queues, uptime",
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

// drainLine says whether the relay is drained and whether that survives a
// restart.
func drainLine(s *api.Status) string {
	d := s.Drain
	switch {
	case d.StateFile == "" && s.Draining:
		return "yes (not persisted: drain.state_file is not set, a restart undrains)"
	case d.StateFile == "":
		return "no"
	case s.Draining && d.Persisted:
		return "yes (persisted in " + d.StateFile + ")"
	case s.Draining:
		return "yes (NOT persisted: " + d.StateFile + " is missing, a restart undrains)"
	case d.Persisted:
		return "no (but " + d.StateFile + " exists: a restart starts drained)"
	default:
		return "no (drains persist in " + d.StateFile + ")"
	}
}

// bgpLine says whether the prefixes leave on an Established BGP session,
// which BIRD accepting the configuration does not tell: "exported on rs1
// (up Established); not on rs2 (start Connect)".
func bgpLine(a *api.Announce, now time.Time) string {
	if !a.Enabled {
		return ""
	}
	if a.SessionsTime.IsZero() {
		return "not asked yet (birdc show protocols, every 10 s)"
	}
	checked := fmt.Sprintf(" (asked %s ago)", age(a.SessionsTime, now))
	if a.SessionsError != "" {
		return "BIRD could not be asked: " + a.SessionsError + checked
	}
	var on, off []string
	for _, s := range a.Sessions {
		if s.Exported {
			on = append(on, fmt.Sprintf("%s (%s)", s.Name, s.State))
		} else {
			off = append(off, fmt.Sprintf("%s (%s)", s.Name, s.State))
		}
	}
	var line string
	switch {
	case len(a.Sessions) == 0:
		line = "BIRD has no BGP session"
	case len(on) == 0:
		line = "exported on no Established session; not on " + strings.Join(off, ", ")
	default:
		line = "exported on " + strings.Join(on, ", ")
		if len(off) > 0 {
			line += "; not on " + strings.Join(off, ", ")
		}
	}
	if a.Desired && a.Confirmed && a.Announced && len(on) == 0 {
		line += " — ANNOUNCED BUT NOT EXPORTED"
	}
	return line + checked
}

// announceLine summarises the BIRD announcement.
func announceLine(a *api.Announce) string {
	if !a.Enabled {
		return "off (announce.enabled is false)"
	}
	confirmed := "no configuration accepted by BIRD yet"
	if a.Confirmed {
		confirmed = "BIRD accepted the withdrawing config"
		if a.Announced {
			confirmed = "BIRD accepted the announcing config"
		}
		confirmed += " (last " + ts(a.LastSuccess) + ")"
	}
	want := "withdraw"
	if a.Desired {
		want = "announce"
	}
	line := fmt.Sprintf("%s: want %s, %s; %d announcements, %d withdrawals, %d errors",
		join(a.Prefixes), want, confirmed, a.Announcements, a.Withdrawals, a.Errors)
	if a.Confirmed && a.Announced != a.Desired {
		line += " — MISMATCH"
	}
	if a.LastError != "" {
		line += fmt.Sprintf("; last error %s: %s", ts(a.LastErrorTime), a.LastError)
	}
	return line
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
	if sv := s.Server; sv != nil {
		row(t, "server:", join(sv.Addresses))
		row(t, "server counts:", fmt.Sprintf("%d RS received, %d RA sent (%d from the other address), %d forwarded, %d to the relay, %d dropped",
			sv.RSReceived, sv.RASent, sv.RASentOther, sv.Forwarded, sv.RelayHandoffs, sv.Drops))
	}
	row(t, "state:", state)
	row(t, "draining:", drainLine(s))
	row(t, "announce:", announceLine(&s.Announce))
	if l := bgpLine(&s.Announce, s.Time); l != "" {
		row(t, "bgp:", l)
	}
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
