// Command teredo-probe is a Teredo client for diagnosing a relay deployment
// (package client): it qualifies against a Teredo server, finds the relay that
// serves a native IPv6 host with the direct IPv6 connectivity test, pings
// through that relay and opens paths to Teredo peers with bubbles. It prints
// every packet it sends and receives and the check each received packet
// failed, then a summary; -o json prints the same as one JSON document.
//
//	teredo-probe qualify --server 192.0.2.1 [--secondary 192.0.2.2] [--local 0.0.0.0:0] [--cone-probe]
//	teredo-probe ping    --server 192.0.2.1 --target 2001:db8:1::10 [--count 3] [--interval 1s]
//	teredo-probe bubble  --server 192.0.2.1 --peer 2001:0:c000:201:...
//
// Common flags: --timeout/--retries (qualification T and N), --echo-timeout,
// --echo-retries, --quiet (summary only), -o text|json. The exit status is 0
// on success, 1 when a step fails (no qualification, no relay, no reply) and
// 2 on a usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/internal/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: teredo-probe COMMAND [flags]

commands:
  qualify   qualify against a Teredo server and report the mapped address,
            the Teredo address and the NAT type
  ping      qualify, find the relay serving --target with the direct IPv6
            connectivity test (RFC 4380 §5.2.9), then ping through it
  bubble    qualify, then open the path to a Teredo peer with direct and
            indirect bubbles (RFC 4380 §5.2.4 case 5)
  version   print the version

run "teredo-probe COMMAND -h" for the flags of a command
`

// options are the parsed flags of every command.
type options struct {
	cmd                      string
	server, secondary, local string
	coneProbe                bool
	timeout, echoTimeout     time.Duration
	retries, echoRetries     int
	target, peer             string
	count                    int
	interval                 time.Duration
	output                   string
	quiet                    bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd := args[0]
	if cmd == "version" || cmd == "-version" || cmd == "--version" {
		fmt.Fprintln(stdout, buildinfo.String("teredo-probe"))
		return 0
	}
	if cmd != "qualify" && cmd != "ping" && cmd != "bubble" {
		fmt.Fprintf(stderr, "teredo-probe: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	o := options{cmd: cmd}
	fs := flag.NewFlagSet("teredo-probe "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "", "Teredo server IPv4 address (required)")
	fs.StringVar(&o.secondary, "secondary", "", "the server's secondary IPv4 address: detect a symmetric NAT")
	fs.StringVar(&o.local, "local", "0.0.0.0:0", "local IPv4 address and UDP port (the Teredo service port; 0 = random)")
	fs.BoolVar(&o.coneProbe, "cone-probe", false, "after qualifying, tell cone, restricted and port-restricted NATs apart from fresh sockets (RFC 4380's cone test, extended; RFC 5991 clients skip it)")
	fs.DurationVar(&o.timeout, "timeout", client.DefaultQualifyTimeout, "wait for a router advertisement after each solicitation (T)")
	fs.IntVar(&o.retries, "retries", client.DefaultQualifyRetries, "router solicitations per qualification phase (N)")
	fs.DurationVar(&o.echoTimeout, "echo-timeout", client.DefaultEchoTimeout, "wait for an echo reply or a peer's bubble")
	fs.IntVar(&o.echoRetries, "echo-retries", client.DefaultEchoRetries, "echo requests of the connectivity test, bubble rounds")
	fs.StringVar(&o.output, "o", "text", "output format: text or json")
	fs.BoolVar(&o.quiet, "quiet", false, "text output: print the summary only, not every packet")
	switch cmd {
	case "ping":
		fs.StringVar(&o.target, "target", "", "native IPv6 host to reach through a relay (required)")
		fs.IntVar(&o.count, "count", 3, "echo requests sent through the relay")
		fs.DurationVar(&o.interval, "interval", time.Second, "time between echo requests")
	case "bubble":
		fs.StringVar(&o.peer, "peer", "", "Teredo address of the peer (required)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := o.config()
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err != nil {
		fmt.Fprintf(stderr, "teredo-probe %s: %v\n", cmd, err)
		return 2
	}
	rep := &report{Command: cmd, json: o.output == "json", quiet: o.quiet, out: stdout, start: time.Now()}
	cfg.Trace = rep.event
	err = probe(ctx, cmd, &o, cfg, rep)
	if err != nil {
		rep.Error = err.Error()
		if rep.Hint == "" {
			rep.Hint = hint(err, rep)
		}
	}
	if werr := rep.finish(); werr != nil {
		fmt.Fprintf(stderr, "teredo-probe: write output: %v\n", werr)
		return 1
	}
	if err != nil {
		if !rep.json {
			// Step errors start with the step's name ("qualify: ...").
			fmt.Fprintf(stderr, "teredo-probe: %v\n", err)
		}
		return 1
	}
	return 0
}

// config validates the flags and builds the client configuration.
func (o *options) config() (client.Config, error) {
	var cfg client.Config
	if o.output != "text" && o.output != "json" {
		return cfg, fmt.Errorf("-o %q: want text or json", o.output)
	}
	if o.server == "" {
		return cfg, errors.New("--server is required")
	}
	var err error
	if cfg.Server, err = parseIPv4("--server", o.server); err != nil {
		return cfg, err
	}
	if o.secondary != "" {
		if cfg.Secondary, err = parseIPv4("--secondary", o.secondary); err != nil {
			return cfg, err
		}
	}
	if _, err := netip.ParseAddrPort(o.local); err != nil {
		return cfg, fmt.Errorf("--local %q: %w", o.local, err)
	}
	if o.timeout <= 0 || o.echoTimeout <= 0 || o.retries <= 0 || o.echoRetries <= 0 {
		return cfg, errors.New("timeouts and retries must be positive")
	}
	cfg.ConeProbe = o.coneProbe
	cfg.QualifyTimeout, cfg.QualifyRetries = o.timeout, o.retries
	cfg.EchoTimeout, cfg.EchoRetries = o.echoTimeout, o.echoRetries
	switch o.cmd {
	case "ping":
		t, err := netip.ParseAddr(o.target)
		if err != nil || !t.Is6() {
			return cfg, fmt.Errorf("--target %q: want the IPv6 address of a native host", o.target)
		}
		if err := client.CheckTarget(t); err != nil {
			return cfg, fmt.Errorf("--target: %w", err)
		}
		if o.count <= 0 || o.count > 65535 || o.interval <= 0 {
			return cfg, errors.New("--count must be 1..65535 and --interval positive")
		}
	case "bubble":
		p, err := netip.ParseAddr(o.peer)
		if err != nil || !p.Is6() {
			return cfg, fmt.Errorf("--peer %q: want the Teredo address of a peer", o.peer)
		}
		if _, err := client.CheckPeer(p); err != nil {
			return cfg, fmt.Errorf("--peer: %w", err)
		}
	}
	return cfg, nil
}

func parseIPv4(flagName, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s %q: not an IPv4 address", flagName, s)
	}
	return a, nil
}

// probe runs the command's steps, filling rep.
func probe(ctx context.Context, cmd string, o *options, cfg client.Config, rep *report) error {
	c, err := client.Listen(netip.MustParseAddrPort(o.local), cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	q, qerr := c.Qualify(ctx)
	if _, ok := c.Qualification(); ok {
		rep.Qualification = &q
	}
	if qerr != nil {
		if rep.Qualification == nil || cmd == "qualify" {
			return qerr
		}
		rep.note("warning: %v (continuing with the primary qualification)", qerr)
	}
	switch cmd {
	case "ping":
		target := netip.MustParseAddr(o.target)
		r, err := c.ConnectivityTest(ctx, target)
		if r.Attempts > 0 {
			rep.Relay = &r
		}
		if err != nil {
			return err
		}
		p, err := c.Ping(ctx, r.Relay, target, o.count, o.interval)
		rep.Ping = &p
		if err != nil {
			return err
		}
		if p.Received() == 0 {
			rep.Hint = "the relay answered the connectivity test but no ping: the relay's peer entry for this client may have expired, or the path is lossy"
			return fmt.Errorf("ping: no reply from %v through relay %v (%d sent)", target, r.Relay, p.Sent)
		}
	case "bubble":
		p, err := c.ReachPeer(ctx, netip.MustParseAddr(o.peer))
		if err == nil || p.Mapping.IsValid() {
			rep.Peer = &p
		}
		return err
	}
	return nil
}

// report collects what the command found and prints it.
type report struct {
	Command       string                `json:"command"`
	Qualification *client.Qualification `json:"qualification,omitempty"`
	Relay         *client.RelayResult   `json:"relay,omitempty"`
	Ping          *client.PingResult    `json:"-"` // printed as pingOut
	Peer          *client.PeerPath      `json:"peer,omitempty"`
	Events        []eventJSON           `json:"events"`
	Error         string                `json:"error,omitempty"`
	Hint          string                `json:"hint,omitempty"`

	json, quiet bool
	out         io.Writer
	start       time.Time
}

type eventJSON struct {
	OffsetMS float64          `json:"offset_ms"`
	Kind     client.EventKind `json:"kind"`
	Step     string           `json:"step"`
	Peer     string           `json:"peer,omitempty"`
	Detail   string           `json:"detail,omitempty"`
	Error    string           `json:"error,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *report) event(e client.Event) {
	j := eventJSON{OffsetMS: ms(e.Time.Sub(r.start)), Kind: e.Kind, Step: e.Step, Detail: e.Detail}
	if e.Peer.IsValid() {
		j.Peer = e.Peer.String()
	}
	if e.Err != nil {
		j.Error = e.Err.Error()
	}
	r.Events = append(r.Events, j)
	if !r.json && !r.quiet {
		fmt.Fprintf(r.out, "%9.3fms  %s\n", j.OffsetMS, e)
	}
}

func (r *report) note(format string, args ...any) {
	r.event(client.Event{Time: time.Now(), Kind: client.EventNote, Step: r.Command, Detail: fmt.Sprintf(format, args...)})
}

func (r *report) finish() error {
	if r.json {
		doc := struct {
			*report
			Ping *pingOut `json:"ping,omitempty"`
		}{report: r}
		if r.Ping != nil {
			doc.Ping = newPingOut(r.Ping)
		}
		enc := json.NewEncoder(r.out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	var b strings.Builder
	if !r.quiet && len(r.Events) > 0 {
		b.WriteString("\n")
	}
	if q := r.Qualification; q != nil {
		fmt.Fprintf(&b, "Teredo qualification with server %v\n", q.Server)
		fmt.Fprintf(&b, "  local endpoint   %v\n", q.Local)
		fmt.Fprintf(&b, "  mapped endpoint  %v (origin indication of the RA from %v, rtt %.3f ms)\n", q.Mapped, q.RAFrom, ms(q.RTT))
		fmt.Fprintf(&b, "  Teredo address   %v (flags %#04x)\n", q.Address, q.Flags)
		fmt.Fprintf(&b, "  prefix           %v, MTU %d\n", q.Prefix, q.MTU)
		fmt.Fprintf(&b, "  NAT              %s\n", natExplanation(q))
		fmt.Fprintf(&b, "  solicitations    %d\n", q.Solicitations)
	}
	if rl := r.Relay; rl != nil {
		fmt.Fprintf(&b, "Relay for %v\n", rl.Target)
		switch {
		case rl.Unreachable != "":
			fmt.Fprintf(&b, "  relay            %v passed on an ICMPv6 error instead of an echo reply: %s (%d request(s))\n", rl.Relay, rl.Unreachable, rl.Attempts)
		case rl.Relay.IsValid():
			fmt.Fprintf(&b, "  relay            %v (echo reply with our nonce, rtt %.3f ms, %d request(s))\n", rl.Relay, ms(rl.RTT), rl.Attempts)
		default:
			fmt.Fprintf(&b, "  relay            none found (%d echo request(s) through the server)\n", rl.Attempts)
		}
		for _, o := range rl.BubbleOrigins {
			fmt.Fprintf(&b, "  indirect bubble  from %v via the server, answered with a direct bubble\n", o)
		}
	}
	if p := r.Ping; p != nil {
		fmt.Fprintf(&b, "Ping %v through relay %v\n", p.Target, p.Relay)
		for _, rp := range p.Replies {
			fmt.Fprintf(&b, "  reply seq=%d time=%.3f ms\n", rp.Seq, ms(rp.RTT))
		}
		for _, rj := range p.Rejected {
			fmt.Fprintf(&b, "  rejected from %v: %v\n", rj.From, rj.Err)
		}
		lo, mean, hi := p.Stats()
		loss := 100 * float64(p.Sent-p.Received()) / float64(max(p.Sent, 1))
		fmt.Fprintf(&b, "  %d sent, %d received, %.0f%% loss", p.Sent, p.Received(), loss)
		if p.Received() > 0 {
			fmt.Fprintf(&b, ", rtt min/avg/max %.3f/%.3f/%.3f ms", ms(lo), ms(mean), ms(hi))
		}
		b.WriteString("\n")
	}
	if p := r.Peer; p != nil {
		fmt.Fprintf(&b, "Peer %v\n", p.Peer)
		kind := "a packet"
		if p.Bubble {
			kind = "a bubble"
		}
		fmt.Fprintf(&b, "  reached directly at %v (%s, %.3f ms after the bubbles of round %d)\n", p.Mapping, kind, ms(p.RTT), p.Tries)
	}
	if r.Hint != "" {
		fmt.Fprintf(&b, "hint: %s\n", r.Hint)
	}
	_, err := io.WriteString(r.out, b.String())
	return err
}

// hint tells the operator where to look after a failed step.
func hint(err error, r *report) string {
	var na *client.NoAnswerError
	if !errors.As(err, &na) {
		return ""
	}
	switch na.Step {
	case "qualify", "cone-probe", "secondary":
		if len(na.Rejected) > 0 {
			return fmt.Sprintf("%v answered, but every answer failed a check (the rejected lines above say which): a misconfigured or non-RFC 4380 server, or a middlebox rewriting the datagrams", na.Dst)
		}
		if na.Step == "secondary" {
			return fmt.Sprintf("the primary address answered but %v did not: check the server's secondary address (Miredo: ServerBindAddress2, default primary+1) and filters on UDP 3544", na.Dst)
		}
		return fmt.Sprintf("nothing came back from %v: check that the server runs, that UDP 3544 is not filtered on the way, and the --server address", na.Dst)
	case "echo-test":
		if r.Relay != nil && len(r.Relay.BubbleOrigins) > 0 {
			return fmt.Sprintf("relay %v sent an indirect bubble (answered with a direct bubble) but its echo reply never arrived: the relay did not accept the direct bubble, or its UDP datagrams to this client are filtered", r.Relay.BubbleOrigins[0])
		}
		return "no relay answered and none sent an indirect bubble through the server: check that 2001::/32 is routed to a relay from the target's network, that the target answers pings, and that the server forwards the echo request natively (Miredo's server drops ICMPv6 over 88 bytes)"
	case "bubble":
		return "the peer did not answer directly: it may be offline, behind a symmetric NAT, or its server may not forward our indirect bubble"
	}
	return ""
}

// pingOut is the JSON form of a ping result (rejections as text).
type pingOut struct {
	client.PingResult
	Received int      `json:"received"`
	Rejected []string `json:"rejected,omitempty"`
}

func newPingOut(p *client.PingResult) *pingOut {
	o := &pingOut{PingResult: *p, Received: p.Received()}
	for _, r := range p.Rejected {
		o.Rejected = append(o.Rejected, fmt.Sprintf("from %v: %v", r.From, r.Err))
	}
	return o
}

func natExplanation(q *client.Qualification) string {
	switch q.NAT {
	case client.NATNone:
		return "none (the mapped endpoint is the local endpoint)"
	case client.NATCone:
		return "cone (an RA from the server's other address, never sent to, got through; filtering probe)"
	case client.NATRestricted:
		s := fmt.Sprintf("restricted cone (secondary %v saw the same mapping)", q.Secondary)
		if q.ConeProbed {
			return s + "; address-restricted: an answer from another port of an address sent to got through (filtering probe)"
		}
		return s + "; restricted or port-restricted, not told apart (RFC 5991 clients skip the probe; --cone-probe runs it)"
	case client.NATPortRestricted:
		return fmt.Sprintf("port-restricted cone (secondary %v saw the same mapping; the filtering probe's answer from a port not sent to was dropped)", q.Secondary)
	case client.NATSymmetric:
		return fmt.Sprintf("SYMMETRIC: secondary %v saw %v, primary saw %v; RFC 4380 Teredo will not work through this NAT, RFC 6081 clients work with relays that accept cookie bubbles from any mapping",
			q.Secondary, q.SecondaryMapped, q.Mapped)
	}
	return "unknown: symmetric NAT not checked (no --secondary, or it did not answer: from one server address a port-randomising NAT looks like any other)"
}
