package relayctl

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/teredorelay/teredorelay/control/api"
)

func newStatsCommand(e *env) *cobra.Command {
	var (
		out     string
		watch   time.Duration
		nonZero bool
	)
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Traffic, drops by reason, bubbles, ICMPv6, rate limits, evictions, server role and ring events, with rates",
		Long: `Counters since the daemon started, with per-second rates the daemon computes
over its last rate window (10 s by default). With the Teredo server role, its
drops are listed under layer "server" and its counters (RS received, RAs sent
by address, packets forwarded by kind, relay hand-offs) under event "server".`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output(out, "table", "json"); err != nil {
				return err
			}
			c := e.client()
			return e.watch(cmd.Context(), watch, func() error {
				st, raw, err := c.Stats(cmd.Context())
				if err != nil {
					return err
				}
				if out == "json" {
					_, err = e.opts.Stdout.Write(raw)
					return err
				}
				printStats(e.opts.Stdout, &st, nonZero)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVar(&nonZero, "non-zero", false, "hide counters that are zero")
	cmd.Flags().DurationVarP(&watch, "watch", "w", 0, "repeat every interval (default 2s when given without a value)")
	cmd.Flags().Lookup("watch").NoOptDefVal = "2s"
	return cmd
}

func printStats(w io.Writer, s *api.Stats, nonZero bool) {
	win := s.RateWindowSeconds
	if win > 0 {
		fmt.Fprintf(w, "stats at %s, rates over the last %.1fs\n\n", ts(s.Time), win)
	} else {
		fmt.Fprintf(w, "stats at %s, no rates yet (the daemon has no earlier sample)\n\n", ts(s.Time))
	}
	t := newTable(w)
	row(t, "DIRECTION", "PACKETS", "PKT/S", "BYTES", "BIT/S")
	for i, p := range s.Packets {
		var b api.Counter
		if i < len(s.Bytes) {
			b = s.Bytes[i]
		}
		row(t, p.Name, p.Total, rate(p.Rate, win), b.Total, rate(8*b.Rate, win))
	}
	t.Flush()
	fmt.Fprintln(w)

	t = newTable(w)
	row(t, "LAYER", "DROP REASON", "PACKETS", "PKT/S")
	for _, d := range s.Drops {
		if nonZero && d.Total == 0 {
			continue
		}
		row(t, d.Layer, d.Reason, d.Total, rate(d.Rate, win))
	}
	t.Flush()
	if s.XDPError != "" {
		fmt.Fprintf(w, "xdp counters unavailable: %s\n", s.XDPError)
	}
	fmt.Fprintln(w)

	t = newTable(w)
	row(t, "XDP ACTION", "REASON", "PACKETS", "PKT/S")
	for _, x := range s.XDP {
		if nonZero && x.Total == 0 {
			continue
		}
		row(t, x.Action, x.Reason, x.Total, rate(x.Rate, win))
	}
	t.Flush()
	fmt.Fprintln(w)

	t = newTable(w)
	row(t, "EVENT", "KIND", "COUNT", "PER S")
	for _, g := range []struct {
		name string
		cs   []api.Counter
	}{
		{"bubbles", s.Bubbles},
		{"icmpv6_errors", s.ICMPv6Errors},
		{"rate_limited", s.RateLimited},
		{"evictions", s.Evictions},
		{"server", s.Server},
	} {
		for _, c := range g.cs {
			if nonZero && c.Total == 0 {
				continue
			}
			row(t, g.name, c.Name, c.Total, rate(c.Rate, win))
		}
	}
	t.Flush()
	if len(s.Rings) == 0 {
		return
	}
	fmt.Fprintln(w)
	t = newTable(w)
	row(t, "INTERFACE", "QUEUE", "RING EVENT", "COUNT", "PER S")
	for _, r := range s.Rings {
		if nonZero && r.Total == 0 {
			continue
		}
		row(t, r.Interface, r.Queue, r.Event, r.Total, rate(r.Rate, win))
	}
	t.Flush()
}
