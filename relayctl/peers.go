package relayctl

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/teredorelay/teredorelay/control/api"
)

// filterFlags are the peer filters shared by "peers" and "peers count".
type filterFlags struct {
	state, v4, server string
}

func (f *filterFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.state, "state", "", "only peers in this state: pending or trusted")
	cmd.Flags().StringVar(&f.v4, "v4", "", "only peers whose mapped IPv4 address is in this prefix (or address)")
	cmd.Flags().StringVar(&f.server, "server", "", "only peers of this Teredo server (IPv4)")
}

// parse validates the flags exactly as the daemon does.
func (f *filterFlags) parse() (api.PeerFilter, error) {
	v := api.PeerFilter{}.Values()
	if f.state != "" {
		v.Set("state", f.state)
	}
	if f.v4 != "" {
		v.Set("v4", f.v4)
	}
	if f.server != "" {
		v.Set("server", f.server)
	}
	pf, err := api.ParsePeerFilter(v)
	if err != nil {
		return pf, usageError{err}
	}
	return pf, nil
}

func newPeersCommand(e *env) *cobra.Command {
	var (
		ff        filterFlags
		sortKey   string
		limit     int
		out       string
		noHeaders bool
		watch     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "peers",
		Short: "A bounded, sorted snapshot of the peer table with a summary line",
		Long: `Lists at most --limit peers, filtered and sorted by the daemon (the table may
hold millions). MAPPED is decoded from the Teredo address, marked * when the
last outer IPv4 source differs. FLAGS: cone (legacy cone bit), r5991 (RFC 5991
random bits). Byte counts are humanised (1.2 KiB); with --no-headers every
column is one field and byte counts are exact, for scripts. -o wide adds RX
BYTES, TX BYTES and OBSERVED, the outer IPv4 source last accepted ("-" while
a peer is pending and nothing was accepted from it). The snapshot is not
atomic: the table is walked while traffic runs.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output(out, "table", "wide", "json"); err != nil {
				return err
			}
			f, err := ff.parse()
			if err != nil {
				return err
			}
			if !slices.Contains(api.SortKeys, sortKey) {
				return usagef("--sort %q is not one of %s", sortKey, strings.Join(api.SortKeys, ", "))
			}
			if limit < 1 || limit > api.MaxLimit {
				return usagef("--limit %d is not from 1 to %d", limit, api.MaxLimit)
			}
			q := api.PeerQuery{PeerFilter: f, Sort: sortKey, Limit: limit}
			c := e.client()
			return e.watch(cmd.Context(), watch, func() error {
				ps, raw, err := c.Peers(cmd.Context(), q)
				if err != nil {
					return err
				}
				if out == "json" {
					_, err = e.opts.Stdout.Write(raw)
					return err
				}
				printPeers(e.opts.Stdout, &ps, out == "wide", noHeaders)
				return nil
			})
		},
	}
	ff.register(cmd)
	cmd.Flags().StringVar(&sortKey, "sort", api.SortLastRx, "sort key: "+strings.Join(api.SortKeys, ", "))
	cmd.Flags().IntVar(&limit, "limit", api.DefaultLimit, fmt.Sprintf("at most this many peers (1 to %d)", api.MaxLimit))
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: table, wide or json")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "omit the header and summary lines; one field per column, exact byte counts")
	cmd.Flags().DurationVarP(&watch, "watch", "w", 0, "repeat every interval (--watch 1s, --watch=1s; 2s when given without a value)")
	cmd.Flags().Lookup("watch").NoOptDefVal = "2s"
	cmd.AddCommand(newPeersShowCommand(e), newPeersCountCommand(e))
	return cmd
}

func flags(p *api.Peer) string {
	var f []string
	if p.Cone {
		f = append(f, "cone")
	}
	if p.RFC5991 {
		f = append(f, "r5991")
	}
	if len(f) == 0 {
		return "-"
	}
	return strings.Join(f, ",")
}

func mapped(p *api.Peer) string {
	s := p.Mapped.String()
	if p.MappingDiffers {
		s += "*"
	}
	return s
}

func printPeers(w io.Writer, ps *api.Peers, wide, noHeaders bool) {
	t := newTable(w)
	if !noHeaders {
		h := []any{"TEREDO ADDRESS", "MAPPED", "SERVER", "FLAGS", "STATE", "LAST RX", "LAST TX", "BUBBLES", "RX PKTS", "TX PKTS", "QUEUED"}
		if wide {
			h = append(h, "RX BYTES", "TX BYTES", "OBSERVED")
		}
		row(t, h...)
	}
	size := bytesIEC
	if noHeaders {
		size = func(n uint64) string { return strconv.FormatUint(n, 10) }
	}
	for i := range ps.Peers {
		p := &ps.Peers[i]
		r := []any{p.Address, mapped(p), p.Server, flags(p), p.State, age(p.LastRx, ps.Time), age(p.LastTx, ps.Time),
			p.Bubbles, p.RxPackets, p.TxPackets, size(p.QueuedBytes)}
		if wide {
			obs := "-"
			if p.ObservedMapping.IsValid() {
				obs = p.ObservedMapping.String()
			}
			r = append(r, size(p.RxBytes), size(p.TxBytes), obs)
		}
		row(t, r...)
	}
	t.Flush()
	if noHeaders {
		return
	}
	fmt.Fprintln(w, summaryLine(&ps.Summary))
	shown := fmt.Sprintf("shown %d of %d matching (scanned %d, sort %s, limit %d)", len(ps.Peers), ps.Matched, ps.Scanned, ps.Sort, ps.Limit)
	fmt.Fprintf(w, "%s  snapshot %s, %s\n", shown, ts(ps.Time), ps.Note)
}

func summaryLine(s *api.PeerSummary) string {
	ev := make([]string, 0, len(s.Evictions))
	for _, e := range s.Evictions {
		ev = append(ev, fmt.Sprintf("%s %d", e.Name, e.Total))
	}
	return fmt.Sprintf("peers: %d / %d (%.1f%%)  trusted %d  pending %d  queued %s  evictions %.1f/s (%s)",
		s.Total, s.Capacity, 100*s.FillRatio, s.Trusted, s.Pending, bytesIEC(s.QueuedBytes), s.EvictionRate, join(ev))
}

func newPeersShowCommand(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "show ADDR",
		Short: "One peer in full, with its Teredo address decoded",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output(out, "table", "json"); err != nil {
				return err
			}
			addr, err := netip.ParseAddr(args[0])
			if err != nil || !addr.Is6() {
				return usagef("%q is not an IPv6 address", args[0])
			}
			d, raw, err := e.client().Peer(cmd.Context(), addr)
			if err != nil {
				return err
			}
			if out == "json" {
				_, err = e.opts.Stdout.Write(raw)
				return err
			}
			printPeerDetail(e.opts.Stdout, &d)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: table or json")
	return cmd
}

func printPeerDetail(w io.Writer, d *api.PeerDetail) {
	p, f := &d.Peer, &d.Teredo
	t := newTable(w)
	row(t, "address:", p.Address)
	row(t, "state:", p.State)
	row(t, "teredo prefix:", f.Prefix)
	row(t, "server:", f.Server)
	row(t, "flags:", fmt.Sprintf("0x%04x (cone %s, z %s, u %s, g %s, random bits 0x%04x)", f.Flags, yesNo(f.Cone), yesNo(f.Reserved), yesNo(f.Universal), yesNo(f.Group), f.RandomBits))
	row(t, "mapped:", fmt.Sprintf("%s (obfuscated port %s, address %s)", f.Mapped, f.ObfuscatedPort, f.ObfuscatedAddr))
	obs := "none yet: no packet from this peer accepted"
	if p.ObservedMapping.IsValid() {
		obs = p.ObservedMapping.String()
		if p.MappingDiffers {
			obs += " (differs from the mapped address)"
		}
	}
	row(t, "observed source:", obs)
	row(t, "last rx:", when(p.LastRx, d.Time))
	row(t, "last tx:", when(p.LastTx, d.Time))
	row(t, "bubbles:", p.Bubbles)
	row(t, "rx:", fmt.Sprintf("%d packets, %s", p.RxPackets, bytesExact(p.RxBytes)))
	row(t, "tx:", fmt.Sprintf("%d packets, %s", p.TxPackets, bytesExact(p.TxBytes)))
	row(t, "queued:", fmt.Sprintf("%d packets, %s", p.QueuedPackets, bytesIEC(p.QueuedBytes)))
	t.Flush()
}

func newPeersCountCommand(e *env) *cobra.Command {
	var (
		ff  filterFlags
		out string
	)
	cmd := &cobra.Command{
		Use:   "count",
		Short: "Count peers (by state, against capacity) without listing them",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output(out, "table", "json"); err != nil {
				return err
			}
			f, err := ff.parse()
			if err != nil {
				return err
			}
			pc, raw, err := e.client().PeerCount(cmd.Context(), f)
			if err != nil {
				return err
			}
			if out == "json" {
				_, err = e.opts.Stdout.Write(raw)
				return err
			}
			if pc.Filtered {
				fmt.Fprintf(e.opts.Stdout, "%d matching\n", pc.Matched)
			}
			fmt.Fprintln(e.opts.Stdout, summaryLine(&pc.Summary))
			return nil
		},
	}
	ff.register(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "table", "output format: table or json")
	return cmd
}
