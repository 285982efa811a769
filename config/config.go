package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"time"
)

// Defaults of the optional settings; the example file documents the same values.
const (
	DefaultQueueCount        = 1
	DefaultRingSize          = 2048
	DefaultIdlePoll          = 200 * time.Microsecond // as dataplane.DefaultIdleSpin
	DefaultUMEMFrames        = 8192
	DefaultUMEMFrameSize     = 2048
	DefaultUMEMHeadroom      = 64
	DefaultPort              = 3544
	DefaultPeerCapacity      = 1 << 20 // as the cache package; 112 MiB of entries
	DefaultPeerQueueBytes    = 1280    // Miredo's per-peer queue
	DefaultTotalQueueBytes   = 64 << 20
	DefaultBubbleKeyFile     = "/var/lib/teredo-relayd/bubble.key"
	DefaultICMPv6Rate        = 100
	DefaultICMPv6Burst       = 50
	DefaultAPISocket         = "/run/teredo-relayd/api.sock"
	DefaultMetricsListen     = "127.0.0.1:9542"
	MaxIPv4Addresses         = 8
	MaxQueues                = 256
	minRingSize, maxRingSize = 64, 65536

	// XDPHeadroom is the headroom the kernel keeps in front of every received
	// frame (XDP_PACKET_HEADROOM); encapsulation prepends into it.
	XDPHeadroom = 256
	// MaxFrameLen is the largest Ethernet frame the relay handles: 1500 bytes
	// of MTU, a 14-byte Ethernet header and one 802.1Q tag.
	MaxFrameLen = 1518
)

// XDPMode selects how the steering program attaches.
type XDPMode string

// XDP attach modes.
const (
	XDPAuto    XDPMode = "auto"    // native when the driver supports it, else generic
	XDPNative  XDPMode = "native"  // driver mode only; attaching fails otherwise
	XDPGeneric XDPMode = "generic" // SKB mode (slow; for testing and unsupported drivers)
)

// SocketMode selects the AF_XDP bind mode.
type SocketMode string

// AF_XDP socket modes.
const (
	SocketAuto     SocketMode = "auto"     // zero-copy when the driver supports it, else copy
	SocketZeroCopy SocketMode = "zerocopy" // XDP_ZEROCOPY; opening fails otherwise
	SocketCopy     SocketMode = "copy"     // XDP_COPY
)

// UMEMSharing selects, for a two-armed relay, whether the IPv4-side and the
// IPv6-side socket of a queue share one UMEM.
type UMEMSharing string

// UMEM sharing modes.
const (
	SharingAuto     UMEMSharing = "auto"     // shared when the kernel accepts XDP_SHARED_UMEM, else separate
	SharingShared   UMEMSharing = "shared"   // shared; opening fails otherwise
	SharingSeparate UMEMSharing = "separate" // one UMEM per interface; frames are copied between them
)

// LogFormat selects the slog handler.
type LogFormat string

// Log formats.
const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

// Config is a validated configuration. Every field has its final value: the
// defaults are filled in.
type Config struct {
	Interfaces Interfaces
	// Queues lists the RX queue ids served, one worker each.
	Queues []int
	// CPUs optionally pins worker i to CPUs[i]; empty means no affinity.
	CPUs   []int
	XDP    XDP
	Socket Socket
	UMEM   UMEM
	IPv4   IPv4
	IPv6   IPv6
	Peers  Peers
	// Bubbles configures the bubble secret and direct bubbles.
	Bubbles            Bubbles
	AcceptUnknownPeers bool
	AcceptSymmetricNAT bool
	// EncapUDPChecksum: encapsulated packets carry a UDP checksum
	// (encap_udp_checksum, default true).
	EncapUDPChecksum bool
	// ExtraBogons are IPv4 prefixes refused as mapped or server addresses in
	// addition to the RFC 4380 §5.2.4 list.
	ExtraBogons []netip.Prefix
	ICMPv6      ICMPv6
	// RateLimits: see config/ratelimits.go.
	RateLimits RateLimits
	// Server and ServerOnly select the roles: see config/server.go.
	Server     *Server
	ServerOnly bool
	API        API
	Metrics    Metrics
	Log        Log
	// Announce and Drain: see config/announce.go.
	Announce  Announce
	Drain     Drain
	Readiness Readiness // config/readiness.go
	PeerState PeerState // config/peerstate.go
}

// Interfaces names the network interfaces XDP attaches to: either OneArmed, or
// IPv4Side and IPv6Side.
type Interfaces struct {
	OneArmed string
	IPv4Side string
	IPv6Side string
}

// TwoArmed reports whether IPv4 and IPv6 use separate interfaces.
func (i Interfaces) TwoArmed() bool { return i.OneArmed == "" }

// IPv4Name is the interface facing Teredo clients and servers.
func (i Interfaces) IPv4Name() string {
	if i.OneArmed != "" {
		return i.OneArmed
	}
	return i.IPv4Side
}

// IPv6Name is the interface facing native IPv6 hosts.
func (i Interfaces) IPv6Name() string {
	if i.OneArmed != "" {
		return i.OneArmed
	}
	return i.IPv6Side
}

// XDP holds the steering program settings.
type XDP struct{ Mode XDPMode }

// Socket holds the AF_XDP socket settings. Ring sizes are powers of two.
type Socket struct {
	Mode                                     SocketMode
	RXRing, TXRing, FillRing, CompletionRing int
	// IdlePoll is how long a worker keeps polling its rings after the last
	// received frame before it sleeps in epoll_wait(2); 0 sleeps at once (no core
	// spent on an idle queue, at the cost of wake-up latency under load).
	IdlePoll time.Duration
}

// UMEM sizes the packet buffer area of each queue: Frames × FrameSize bytes
// of locked memory per queue (and per interface when Sharing is separate).
type UMEM struct {
	Frames    int
	FrameSize int
	Headroom  int
	Sharing   UMEMSharing
}

// IPv4 holds the relay's IPv4 service addresses (the first is the primary:
// bubbles and ICMP-triggered output use it) and UDP port.
type IPv4 struct {
	Addresses []netip.Addr
	Port      uint16
}

// IPv6 holds the relay's own IPv6 address, the source of ICMPv6 errors and bubbles.
type IPv6 struct{ Address netip.Addr }

// Peers sizes the peer cache and the queues of packets held for pending peers.
type Peers struct {
	Capacity          int
	QueueBytesPerPeer int
	QueueBytesTotal   int64
}

// Bubbles holds the bubble settings.
type Bubbles struct {
	// KeyFile holds the secret keying the relay's bubble nonces; it is created
	// with 32 random bytes when missing.
	KeyFile string
	// Direct sends a direct bubble to the peer's mapped address along with the
	// indirect bubble through its server.
	Direct bool
}

// ICMPv6 limits the ICMPv6 errors the relay emits: Rate per second, Burst
// tokens. Enabled false (icmpv6.enabled) sends none at all; they are counted
// as rate limited.
type ICMPv6 struct {
	Rate    float64
	Burst   int
	Enabled bool
}

// Log configures log/slog.
type Log struct {
	Level  slog.Level
	Format LogFormat
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) { // the path once: "config: read /x.yaml: no such file or directory"
			err = pe.Err
		}
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return Parse(b)
}

// Parse decodes and validates a YAML document. Unknown keys, values of the
// wrong type and invalid values are errors naming the key.
func Parse(b []byte) (*Config, error) {
	var raw rawConfig
	if err := decodeStrict(b, &raw); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := raw.validate()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}
