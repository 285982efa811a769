package lab

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Mode is how the relay namespace is wired to the core router.
type Mode int

// Relay wiring modes.
const (
	// OneArmed puts IPv4 and IPv6 on one interface, as on an IX port.
	OneArmed Mode = iota
	// TwoArmed uses an IPv4-side and a separate IPv6-side interface.
	TwoArmed
)

func (m Mode) String() string {
	switch m {
	case OneArmed:
		return "one-armed"
	case TwoArmed:
		return "two-armed"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads "one-armed" or "two-armed".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "one-armed", "onearmed", "one":
		return OneArmed, nil
	case "two-armed", "twoarmed", "two":
		return TwoArmed, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want one-armed or two-armed)", s)
}

// Relay implementations the lab can run in the relay namespace.
const (
	RelayMiredo  = "miredo"        // Miredo 1.2.6 in relay (cone) mode
	RelayTeredod = "teredo-relayd" // this project's daemon
)

// Options configures Start. The zero value (plus Relay) is a valid one-armed,
// one-queue lab.
type Options struct {
	// Relay is RelayMiredo or RelayTeredod.
	Relay string
	Mode  Mode
	// Queues is the number of TX and RX queues of the relay's veths (1 or 2).
	Queues int
	// NoTxChecksumOffload turns TX checksum offload (and with it TSO and
	// GSO of TCP) off on every veth, the way a physical NIC behaves: frames
	// cross with complete checksums, in MTU-sized segments. By default the
	// veths keep their defaults (offloads on), as users' containers,
	// namespaces and VMs do: local stacks then send TCP and UDP with only
	// the pseudo-header sum in the checksum field and TCP as GSO
	// super-frames.
	NoTxChecksumOffload bool
	// NATRandomFully makes the client's NAT a symmetric one (RFC 6081):
	// iptables SNAT --random-fully picks a random source port for every new
	// flow, so the client reaches the relay from another port than the one
	// its server saw and put in its Teredo address. The default is
	// MASQUERADE, which keeps the port (endpoint-independent mapping).
	NATRandomFully bool

	// RelaydBinary is the teredo-relayd executable (required for RelayTeredod).
	RelaydBinary string
	// RelaydConfig writes the daemon's configuration file from the lab's
	// facts; nil means DefaultRelaydConfig.
	RelaydConfig func(RelaydEnv) ([]byte, error)
	// RelaydArgs is the daemon's command line (without the binary); nil
	// means DefaultRelaydArgs.
	RelaydArgs func(RelaydEnv) []string
	// RelaydReadyTimeout bounds the wait for the ready file (default 30 s).
	RelaydReadyTimeout time.Duration

	// QualifyTimeout bounds the wait for the Miredo client's Teredo address
	// (default 20 s).
	QualifyTimeout time.Duration
	// Log, when set, receives one line per set-up and tear-down step.
	Log io.Writer
	// KeepWorkDir keeps the directory of configs, logs and captures after
	// Close (its path is WorkDir()).
	KeepWorkDir bool
}

// RelaydEnv is what the lab tells the teredo-relayd configuration writer and
// command line builder.
type RelaydEnv struct {
	Namespace string // the relay namespace (the daemon runs inside it)
	Mode      Mode
	Queues    int
	// IPv4Iface and IPv6Iface are the relay's interfaces; equal in OneArmed mode.
	IPv4Iface, IPv6Iface string
	IPv4Addr             netip.Addr // RelayIPv4
	Port                 uint16     // TeredoPort
	IPv6Addr             netip.Addr // RelayIPv6
	// Next hops on the core router and their MAC addresses.
	IPv4Gateway, IPv6Gateway       netip.Addr
	IPv4GatewayMAC, IPv6GatewayMAC net.HardwareAddr
	// Files in the lab's work directory.
	Dir           string
	ConfigPath    string // where the lab writes the RelaydConfig output
	ReadyFile     string // the daemon creates it once it forwards packets
	APISocket     string // control socket for relayctl
	BubbleKeyFile string
	MetricsListen string // inside the relay namespace
}

// DefaultRelaydArgs is "--config FILE --ready-file FILE".
func DefaultRelaydArgs(env RelaydEnv) []string {
	return []string{"--config", env.ConfigPath, "--ready-file", env.ReadyFile}
}

// DefaultRelaydConfig writes a teredo-relayd YAML configuration for the lab.
// The daemon's schema is still moving; a caller with the final schema passes
// its own Options.RelaydConfig.
func DefaultRelaydConfig(env RelaydEnv) ([]byte, error) {
	if !env.IPv4Addr.Is4() || !env.IPv6Addr.Is6() {
		return nil, fmt.Errorf("relayd config: need an IPv4 and an IPv6 address, got %v and %v", env.IPv4Addr, env.IPv6Addr)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# teredo-relayd configuration written by the namespace lab for %s\n", env.Namespace)
	b.WriteString("interfaces:\n")
	if env.Mode == TwoArmed {
		fmt.Fprintf(&b, "  ipv4_side: %s\n  ipv6_side: %s\n", env.IPv4Iface, env.IPv6Iface)
	} else {
		fmt.Fprintf(&b, "  one_armed: %s\n", env.IPv4Iface)
	}
	b.WriteString("queues: [")
	for q := range max(env.Queues, 1) {
		if q > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", q)
	}
	b.WriteString("]\n")
	fmt.Fprintf(&b, "ipv4:\n  address: %s\n  port: %d\n", env.IPv4Addr, env.Port)
	fmt.Fprintf(&b, "ipv6:\n  address: %s\n", env.IPv6Addr)
	fmt.Fprintf(&b, "bubbles:\n  key_file: %s\n", env.BubbleKeyFile)
	fmt.Fprintf(&b, "api:\n  socket: %s\n", env.APISocket)
	fmt.Fprintf(&b, "metrics:\n  listen: %s\n", env.MetricsListen)
	return []byte(b.String()), nil
}
