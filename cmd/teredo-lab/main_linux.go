//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/teredorelay/teredorelay/lab"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	relay, mode      string
	queues           int
	relayd, relayctl string
	relayctlArgs     string
	verbose, keepDir bool
	hold             bool
}

func run(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("teredo-lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.relay, "relay", "", "relay under test: teredo-relayd or miredo (default: teredo-relayd when available, else miredo)")
	fs.StringVar(&c.mode, "mode", "one-armed", "relay wiring: one-armed or two-armed")
	fs.IntVar(&c.queues, "queues", 1, "TX/RX queues of the relay's veths (1 or 2)")
	fs.StringVar(&c.relayd, "relayd", "", "teredo-relayd binary (default: beside teredo-lab, bin/, or built from ./cmd/teredo-relayd)")
	fs.StringVar(&c.relayctl, "relayctl", "", "relayctl binary (default: beside teredo-lab, bin/, or built from ./cmd/relayctl)")
	fs.StringVar(&c.relayctlArgs, "relayctl-args", "--socket {socket} peers", "relayctl arguments for the peer table; {socket} is the daemon's control socket")
	fs.BoolVar(&c.verbose, "v", false, "print every set-up step of the lab")
	fs.BoolVar(&c.keepDir, "keep-dir", false, "keep the work directory (configs, logs, captures)")
	fs.BoolVar(&c.hold, "hold", false, "keep the lab up after the demo until interrupted (Ctrl-C)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "teredo-lab: needs root (network namespaces, veths, iptables, TUN devices)")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, c, stdout); err != nil {
		fmt.Fprintf(stderr, "teredo-lab: %v\n", err)
		return 1
	}
	return 0
}

// step prints a numbered heading.
type stepper struct {
	w io.Writer
	n int
}

func (s *stepper) step(format string, args ...any) {
	s.n++
	fmt.Fprintf(s.w, "\n== %d. %s ==\n", s.n, fmt.Sprintf(format, args...))
}

func demo(ctx context.Context, c config, w io.Writer) error {
	mode, err := lab.ParseMode(c.mode)
	if err != nil {
		return err
	}
	s := &stepper{w: w}
	s.step("Choose the relay")
	root := moduleRoot()
	opts := lab.Options{Mode: mode, Queues: c.queues, KeepWorkDir: c.keepDir}
	tmp, err := os.MkdirTemp("", "teredo-lab-bin-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	switch c.relay {
	case "", lab.RelayTeredod:
		bin, why := findCommand(ctx, c.relayd, "teredo-relayd", root, tmp)
		switch {
		case bin != "":
			opts.Relay, opts.RelaydBinary = lab.RelayTeredod, bin
			fmt.Fprintf(w, "relay: teredo-relayd (%s)\n", bin)
		case c.relay == lab.RelayTeredod:
			return fmt.Errorf("teredo-relayd is not available: %s", why)
		default:
			opts.Relay = lab.RelayMiredo
			fmt.Fprintf(w, "teredo-relayd is not available (%s).\n", why)
			fmt.Fprintln(w, "Running Miredo's own relay in its place: the same topology, the same real Miredo client;")
			fmt.Fprintln(w, "pass -relay teredo-relayd once the daemon is built.")
		}
	case lab.RelayMiredo:
		opts.Relay = lab.RelayMiredo
		fmt.Fprintln(w, "relay: Miredo 1.2.6 (RelayType cone)")
	default:
		return fmt.Errorf("unknown -relay %q (want teredo-relayd or miredo)", c.relay)
	}
	if c.verbose {
		opts.Log = w
	}

	s.step("Build the namespace lab (%v, %d queue(s)) and qualify the Miredo client", mode, opts.Queues)
	begin := time.Now()
	l, err := lab.Start(ctx, opts)
	if err != nil {
		return fmt.Errorf("start lab: %w", err)
	}
	defer func() {
		s.step("Tear down")
		if err := l.Close(); err != nil {
			fmt.Fprintf(w, "teardown: %v\n", err)
			return
		}
		fmt.Fprintf(w, "killed every lab process, deleted %d namespaces\n", len(lab.Nodes))
		if c.keepDir {
			fmt.Fprintf(w, "work directory kept: %s\n", l.WorkDir())
		}
	}()
	v4, v6 := l.RelayIfaces()
	fmt.Fprintf(w, "up in %v\n", time.Since(begin).Round(time.Millisecond))
	fmt.Fprintf(w, "namespaces:    %s\n", strings.Join(l.Namespaces(), " "))
	fmt.Fprintf(w, "teredo server: %v and %v (miredo-server, namespace %s)\n", lab.ServerIPv4, lab.ServerIPv4Second, l.Namespace(lab.Server))
	fmt.Fprintf(w, "client:        %v behind NAT %v, Teredo address %v\n", lab.ClientIPv4, lab.NATOutside, l.ClientAddr())
	fmt.Fprintf(w, "native host:   %v\n", l.NativeAddr())
	fmt.Fprintf(w, "relay:         %v and %v on %s/%s (%s); core routes %v to it\n", lab.RelayIPv4, lab.RelayIPv6, v4, v6, opts.Relay, lab.TeredoPrefix)

	// On the core router's side of the relay's link: XDP on the relay's own
	// interface hides the frames it redirects from packet taps there.
	coreV4, _ := l.CoreRelayIfaces()
	capture, err := l.StartCapture(ctx, lab.Core, coreV4, "udp", "port", "3544")
	if err != nil {
		return err
	}

	s.step("Client pings the native host %v", l.NativeAddr())
	res, err := l.Ping6(ctx, lab.Client, l.NativeAddr(), 5)
	fmt.Fprintln(w, res)
	if err != nil {
		return err
	}
	s.step("Native host pings the client %v", l.ClientAddr())
	res2, err := l.Ping6(ctx, lab.Native, l.ClientAddr(), 5)
	fmt.Fprintln(w, res2)
	if err != nil {
		return err
	}

	s.step("Teredo exchange on the relay's IPv4 link (captured on the core router's %s)", coreV4)
	frames, err := capture.Stop()
	if err != nil {
		return err
	}
	shown := 0
	for _, f := range frames {
		u, err := lab.DecodeUDP4(f.Data)
		if err != nil {
			continue
		}
		if shown < 12 {
			fmt.Fprintf(w, "%s %s\n", f.Time.Format("15:04:05.000000"), u.Describe())
		}
		shown++
	}
	if shown > 12 {
		fmt.Fprintf(w, "... %d more datagrams\n", shown-12)
	}

	s.step("Relay peer table")
	if opts.Relay == lab.RelayMiredo {
		fmt.Fprintln(w, "Miredo keeps no peer table it can show (no control socket, no counters). Its TUN device counts the relayed packets:")
		out, err := l.Exec(ctx, lab.Relay, "ip", "-s", "link", "show", "dev", "teredo")
		fmt.Fprint(w, string(out))
		if err != nil {
			return err
		}
	} else {
		bin, why := findCommand(ctx, c.relayctl, "relayctl", root, tmp)
		if bin == "" {
			fmt.Fprintf(w, "skipped: relayctl is not available (%s)\n", why)
		} else {
			argv := []string{bin}
			for _, a := range strings.Fields(c.relayctlArgs) {
				argv = append(argv, strings.ReplaceAll(a, "{socket}", l.RelaydEnv().APISocket))
			}
			fmt.Fprintf(w, "$ %s\n", strings.Join(argv, " "))
			out, err := l.Exec(ctx, lab.Relay, argv...)
			fmt.Fprint(w, string(out))
			if err != nil {
				fmt.Fprintf(w, "relayctl failed: %v\n", err)
			}
		}
	}

	failed := res.Received() != res.Sent || res2.Received() != res2.Sent
	if c.hold {
		s.step("Holding the lab up; press Ctrl-C to tear it down")
		fmt.Fprintf(w, "try: ip netns exec %s ip -6 addr show dev %s\n", l.Namespace(lab.Client), lab.ClientInterface)
		<-ctx.Done()
	}
	if failed {
		return errors.New("pings lost packets")
	}
	return nil
}

// moduleRoot finds the repository root (the directory holding go.mod) from
// the working directory upwards; "" when there is none.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/teredorelay/teredorelay") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// findCommand locates one of the project's programs: the explicit path, the
// directory of this executable (make build puts all of them in bin/), the
// repository's bin/, or a fresh build of ./cmd/NAME. It returns "" and the
// reason when none exists.
func findCommand(ctx context.Context, explicit, name, root, tmp string) (string, string) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Sprintf("-%s %s: %v", strings.TrimPrefix(name, "teredo-"), explicit, err)
		}
		return explicit, ""
	}
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), name))
	}
	if root != "" {
		candidates = append(candidates, filepath.Join(root, "bin", name))
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, ""
		}
	}
	if root == "" {
		return "", "no " + name + " beside teredo-lab and not run inside the repository"
	}
	main := filepath.Join(root, "cmd", name, "main.go")
	if _, err := os.Stat(main); errors.Is(err, fs.ErrNotExist) {
		return "", "cmd/" + name + "/main.go does not exist yet and no built " + name + " was found"
	}
	bin, err := lab.BuildCommand(ctx, root, "./cmd/"+name, tmp)
	if err != nil {
		return "", err.Error()
	}
	return bin, ""
}
