package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/teredorelay/teredorelay/client"
	"github.com/teredorelay/teredorelay/client/clientd"
	"github.com/teredorelay/teredorelay/client/clientmetrics"
	"github.com/teredorelay/teredorelay/internal/buildinfo"
)

const usage = `usage: teredo-client COMMAND [flags]

commands:
  run          run the Teredo client: a TUN interface with a Teredo address
  show state   print the running client's state (like netsh interface teredo show state)
  version      print the version

run "teredo-client run -h" for the daemon's flags
`

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, buildinfo.String("teredo-client"))
		return 0
	case "run":
		return runDaemon(ctx, args[1:], stderr)
	case "show":
		if len(args) < 2 || args[1] != "state" {
			fmt.Fprintf(stderr, "teredo-client show: want \"show state\"\n\n%s", usage)
			return 2
		}
		return show(ctx, args[2:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "teredo-client: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// daemonFlags parses run's flags into the daemon's configuration.
func daemonFlags(args []string, stderr io.Writer) (clientd.Config, bool, error) {
	var (
		cfg                  clientd.Config
		bind, typ, logLevel  string
		idle                 time.Duration
		probes               listFlag
		managedTO, managedIv time.Duration
		tc                   = &cfg.Tunnel
		fs                   = flag.NewFlagSet("teredo-client run", flag.ContinueOnError)
	)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Server, "server", "", "Teredo server: an IPv4 address or a DNS name (a name with two addresses gives primary and secondary) (required)")
	fs.StringVar(&cfg.Secondary, "secondary", "", "the server's secondary IPv4 address, or none (default: the name's second address, else primary+1)")
	fs.StringVar(&bind, "bind", "0.0.0.0:0", "local IPv4 address and UDP port of the Teredo service port (port 0: random, RFC 4380 §5.2)")
	fs.StringVar(&cfg.Interface, "interface", "teredo", "name of the TUN interface")
	fs.IntVar(&cfg.Metric, "route-metric", 1029, "metric of the default IPv6 route through the tunnel (native IPv6 routes, 1024 and below, win)")
	fs.StringVar(&typ, "type", "client", "client (disabled on a managed network) or enterprise-client")
	fs.Var(&probes, "managed-probe", "host:port reachable (TCP) only inside the organisation: if one answers, the network is managed (repeatable)")
	fs.DurationVar(&managedTO, "managed-timeout", time.Second, "wait for each managed-network probe")
	fs.DurationVar(&managedIv, "managed-interval", 5*time.Minute, "how often the managed-network detection runs again")
	fs.DurationVar(&tc.RefreshInterval, "refresh-interval", client.DefaultRefreshInterval, "RFC 4380 refresh interval; each refresh comes at a random 75-100 % of it")
	fs.DurationVar(&tc.QualifyTimeout, "qualify-timeout", client.DefaultQualifyTimeout, "wait for a router advertisement (T)")
	fs.IntVar(&tc.QualifyRetries, "qualify-retries", client.DefaultQualifyRetries, "router solicitations per server address before failing over (N)")
	fs.DurationVar(&tc.EchoTimeout, "echo-timeout", client.DefaultEchoTimeout, "wait between connectivity-test echo requests and bubble rounds")
	fs.DurationVar(&tc.OfflineRetry, "offline-retry", client.DefaultOfflineRetry, "wait before qualifying again after the server stopped answering")
	fs.DurationVar(&idle, "idle-timeout", client.DefaultIdleTimeout, "go dormant after this long without IPv6 traffic; 0: never dormant (qualified at once, like Miredo)")
	fs.DurationVar(&tc.DormantCheck, "dormant-check", client.DefaultDormantCheck, "while dormant, check the server and the mapping this often")
	fs.IntVar(&tc.PunchTTL, "punch-ttl", client.DefaultPunchTTL, "IPv4 TTL of the first direct bubble to a Teredo peer (opens our NAT only); -1 sends it with the default TTL")
	fs.StringVar(&cfg.ControlSocket, "control-socket", clientd.DefaultControlSocket, "unix socket of the state API (- for none)")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", "", "address of the Prometheus /metrics listener (empty: none), e.g. 127.0.0.1:9543")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, errors.Is(err, flag.ErrHelp), err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.Server == "" {
		return cfg, false, errors.New("--server is required")
	}
	var err error
	if cfg.Bind, err = netip.ParseAddrPort(bind); err != nil || !cfg.Bind.Addr().Is4() {
		return cfg, false, fmt.Errorf("--bind %q: want an IPv4 address and port", bind)
	}
	if tc.Type, err = client.ParseClientType(typ); err != nil {
		return cfg, false, fmt.Errorf("--type: %w", err)
	}
	for _, p := range probes {
		if _, _, err := netSplit(p); err != nil {
			return cfg, false, fmt.Errorf("--managed-probe %q: %w", p, err)
		}
	}
	cfg.Run = client.RunConfig{ManagedProbes: probes, ManagedTimeout: managedTO, ManagedInterval: managedIv}
	switch {
	case idle < 0:
		return cfg, false, errors.New("--idle-timeout must not be negative")
	case idle == 0:
		tc.IdleTimeout = -1
	default:
		tc.IdleTimeout = idle
	}
	if tc.RefreshInterval <= 0 || tc.QualifyTimeout <= 0 || tc.QualifyRetries <= 0 || tc.EchoTimeout <= 0 || tc.OfflineRetry <= 0 {
		return cfg, false, errors.New("intervals, timeouts and retries must be positive")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return cfg, false, fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Build = buildInfo()
	return cfg, false, nil
}

func netSplit(hp string) (string, string, error) {
	i := strings.LastIndexByte(hp, ':')
	if i <= 0 || i == len(hp)-1 {
		return "", "", errors.New("want host:port")
	}
	return hp[:i], hp[i+1:], nil
}

func buildInfo() clientmetrics.BuildInfo {
	return clientmetrics.BuildInfo{Version: buildinfo.Version(), Revision: buildinfo.Revision(), GoVersion: buildinfo.GoVersion()}
}

func runDaemon(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, help, err := daemonFlags(args, stderr)
	if help {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "teredo-client run: %v\n", err)
		return 2
	}
	if err := clientd.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "teredo-client: %v\n", err)
		return 1
	}
	return 0
}

func show(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("teredo-client show state", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", clientd.DefaultControlSocket, "the daemon's control socket")
	output := fs.String("o", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "teredo-client show state: -o %q: want text or json\n", *output)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := clientd.FetchState(ctx, *socket)
	if err != nil {
		fmt.Fprintf(stderr, "teredo-client show state: %v\n", err)
		return 1
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(s)
	} else {
		err = clientd.RenderState(stdout, s)
	}
	if err != nil {
		fmt.Fprintf(stderr, "teredo-client: write: %v\n", err)
		return 1
	}
	return 0
}
