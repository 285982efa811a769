package clientd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/teredorelay/teredorelay/client"
)

// RenderState prints s like Windows' `netsh interface teredo show state`,
// then the relays and peers in use.
func RenderState(w io.Writer, s client.Snapshot) error {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%-24s: %s\n", k, v) }
	b.WriteString("Teredo Parameters\n---------------------------------------------\n")
	row("Type", s.Type.String())
	server := s.ServerName
	if s.Primary.IsValid() {
		server += fmt.Sprintf(" (primary %v", s.Primary)
		if s.Secondary.IsValid() {
			server += fmt.Sprintf(", secondary %v", s.Secondary)
		}
		server += ")"
	}
	row("Server Name", server)
	row("Client Refresh Interval", fmt.Sprintf("%g seconds", s.RefreshInterval.Seconds()))
	row("Client Port", fmt.Sprint(s.ClientPort))
	state := s.State.String()
	row("State", state)
	if s.Error != "" {
		row("Error", s.Error)
	}
	row("Client Type", "teredo client")
	row("Network", s.Network)
	row("NAT", s.NAT.String())
	row("NAT Special Behaviour", fmt.Sprintf("UPNP: No, PortPreserving: %s", yesNo(s.PortPreserving)))
	row("Local Mapping", orDash(s.LocalMapping.IsValid(), s.LocalMapping.String()))
	row("External NAT Mapping", orDash(s.ExternalMapping.IsValid(), s.ExternalMapping.String()))
	row("Teredo Address", orDash(s.Address.IsValid(), s.Address.String()))
	row("Interface", fmt.Sprintf("%s (MTU %d)", s.Interface, s.MTU))
	contact := "never"
	if s.LastServerRx > 0 {
		contact = fmt.Sprintf("%s ago", secs(s.LastServerRx))
	}
	if s.Server.IsValid() {
		contact = fmt.Sprintf("%v, last contact %s", s.Server, contact)
	}
	if s.NextRefresh > 0 {
		contact += fmt.Sprintf(", next refresh in %s", secs(s.NextRefresh))
	}
	row("Qualified With", contact)
	b.WriteString("\nRelays in use\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RELAY\tNATIVE PEERS")
	for _, r := range s.Relays {
		fmt.Fprintf(tw, "%v\t%d\n", r.Relay, r.Peers)
	}
	tw.Flush()
	b.WriteString("\nPeers\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tKIND\tSTATE\tVIA\tLAST RX\tLAST TX\tQUEUED\tRX PKTS\tTX PKTS")
	for _, p := range s.Peers {
		st := "pending"
		if p.Trusted {
			st = "trusted"
			if p.ValidForSec == 0 {
				st = "stale"
			}
		}
		via := "-"
		if p.Mapping.IsValid() {
			via = p.Mapping.String()
		}
		fmt.Fprintf(tw, "%v\t%v\t%s\t%s\t%s\t%s\t%d B\t%d\t%d\n", p.Address, p.Kind, st, via,
			ago(p.LastRxAgo), ago(p.LastTxAgo), p.QueuedIn+p.QueuedOut, p.RxPackets, p.TxPackets)
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func orDash(ok bool, s string) string {
	if ok {
		return s
	}
	return "-"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func ago(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return secs(d)
}
