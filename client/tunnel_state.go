package client

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"
)

// State is the tunnel's state, in Windows' vocabulary (netsh interface teredo
// show state) [RFC 4380 §5.2.1 calls them Off-line, Starting, Qualified].
type State uint8

// Tunnel states.
const (
	// StateOffline: the server does not answer, or the client is disabled
	// (managed network, see Snapshot.Error). No Teredo address is
	// configured.
	StateOffline State = iota
	// StateProbe: a qualification is under way (RFC 4380 "Starting").
	StateProbe
	// StateDormant: the server answered and the address is known and
	// configured, but no IPv6 traffic has asked for the tunnel yet (or it
	// has been idle): no refreshes are sent. The first IPv6 packet from the
	// host qualifies the client; that packet is queued and delivered.
	StateDormant
	// StateQualified: the client is qualified and maintains its mapping
	// with refreshes about every 30 s.
	StateQualified
)

var stateNames = [...]string{"offline", "probe", "dormant", "qualified"}

// States lists every state, in order (for metrics).
var States = []State{StateOffline, StateProbe, StateDormant, StateQualified}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText makes the state readable in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ClientType is the configured role, as Windows' "Client Type".
type ClientType uint8

// Client types.
const (
	// TypeClient disables itself on a managed network (Windows' "client").
	TypeClient ClientType = iota
	// TypeEnterpriseClient runs on managed networks too (Windows'
	// "enterpriseclient").
	TypeEnterpriseClient
)

func (t ClientType) String() string {
	if t == TypeEnterpriseClient {
		return "enterprise-client"
	}
	return "client"
}

// MarshalText makes the type readable in JSON.
func (t ClientType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// ParseClientType reads "client" or "enterprise-client".
func ParseClientType(s string) (ClientType, error) {
	switch s {
	case "client":
		return TypeClient, nil
	case "enterprise-client", "enterpriseclient":
		return TypeEnterpriseClient, nil
	}
	return 0, fmt.Errorf("client type %q: want client or enterprise-client", s)
}

// Snapshot is the tunnel's state as `teredo-client show state` prints it,
// after Windows' `netsh interface teredo show state`, plus the peers and the
// relays in use.
type Snapshot struct {
	Time            time.Time      `json:"time"`
	Type            ClientType     `json:"type"`
	ServerName      string         `json:"server_name"`
	Server          netip.Addr     `json:"server,omitzero"`           // the address the client qualified with
	Primary         netip.Addr     `json:"primary,omitzero"`          // configured or resolved
	Secondary       netip.Addr     `json:"secondary,omitzero"`        // configured or resolved
	RefreshInterval time.Duration  `json:"refresh_interval_ns"`       // configured (RFC 4380: 30 s)
	NextRefresh     time.Duration  `json:"next_refresh_in_ns"`        // 0 when no refresh is scheduled
	ClientPort      uint16         `json:"client_port"`               // local UDP port
	State           State          `json:"state"`                     // offline, probe, dormant, qualified
	Error           string         `json:"error,omitempty"`           // why offline
	Network         string         `json:"network"`                   // managed, unmanaged, unknown
	NAT             NATType        `json:"nat"`                       // cone, restricted, port-restricted, symmetric, none, unknown
	PortPreserving  bool           `json:"port_preserving"`           // mapped port = local port (RFC 6081)
	LocalMapping    netip.AddrPort `json:"local_mapping,omitzero"`    // local address and port
	ExternalMapping netip.AddrPort `json:"external_mapping,omitzero"` // mapped address and port (origin indication)
	Address         netip.Addr     `json:"address,omitzero"`          // the Teredo address
	Interface       string         `json:"interface,omitempty"`
	MTU             uint32         `json:"mtu"`
	LastServerRx    time.Duration  `json:"last_server_rx_ago_ns,omitempty"`
	Peers           []PeerInfo     `json:"peers"`
	Relays          []RelayInfo    `json:"relays"`
}

// RelayInfo is one relay in use: the mapping of native peers reached
// through it.
type RelayInfo struct {
	Relay netip.AddrPort `json:"relay"`
	Peers int            `json:"peers"`
}

// Drop reasons of the tunnel, stable snake_case names used as metric label
// values (teredo_client_drops_total{reason}).
type DropReason uint8

// Drop reasons.
const (
	DropMalformed        DropReason = iota // not a valid Teredo datagram or IPv6 packet
	DropNotQualified                       // received while the client has no address
	DropWrongDestination                   // IPv6 destination is not our address
	DropLinkLocalSource                    // link-local source other than a bubble (forged RAs)
	DropMappingMismatch                    // Teredo source whose mapping is not the UDP source, no nonce
	DropUnknownSource                      // from the server without an origin, or a non-bubble via the server
	DropMulticast                          // multicast destination from the host (MLD, RS)
	DropBadSource                          // packet from the host with another source than our address
	DropOffline                            // packet from the host while offline
	DropQueueFull                          // the peer's (or the qualification's) queue is full
	DropUnreachable                        // queued for a peer that never answered
	DropNotGlobal                          // destination's mapped IPv4 is not global unicast
	DropPeerEvicted                        // queued packets of an entry evicted from a full table
	DropStaleSource                        // queued with an address the client no longer has
	DropSendError                          // the UDP socket or the TUN device refused it
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"malformed", "not_qualified", "wrong_destination", "link_local_source", "mapping_mismatch",
	"unknown_source", "multicast", "bad_source", "offline", "queue_full", "unreachable",
	"not_global", "peer_evicted", "stale_source", "send_error",
}

func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// DropReasons lists every reason, in order.
func DropReasons() []DropReason {
	out := make([]DropReason, numDropReasons)
	for i := range out {
		out[i] = DropReason(i)
	}
	return out
}

// Counters are the tunnel's event counters. The loop goroutine writes them,
// anything may read them (metrics at scrape time).
type Counters struct {
	QualifyOK, QualifyFailed   atomic.Uint64 // initial or after-offline qualifications
	RefreshOK, RefreshFailed   atomic.Uint64 // maintenance RS/RA exchanges
	Failovers                  atomic.Uint64 // switches to the server's other address
	AddressChanges             atomic.Uint64 // new Teredo address (mapping change)
	Activations                atomic.Uint64 // dormant -> qualified on traffic
	PacketsIn, BytesIn         atomic.Uint64 // delivered to the host (TUN)
	PacketsOut, BytesOut       atomic.Uint64 // sent over UDP for the host
	BubblesDirect              atomic.Uint64 // direct bubbles opening a path to a peer
	BubblesIndirect            atomic.Uint64 // indirect bubbles through a peer's server
	BubblesReply               atomic.Uint64 // direct bubbles answering an indirect one
	BubblesReceived            atomic.Uint64 // bubbles received (direct and via the server)
	EchoRequests               atomic.Uint64 // connectivity-test echo requests sent
	EchoTrusted, EchoFailed    atomic.Uint64 // connectivity tests that found a relay / gave up
	ICMPErrors, ICMPSuppressed atomic.Uint64 // ICMPv6 errors written to the host / refused by the rate limit
	Drops                      [numDropReasons]atomic.Uint64
}

func (c *Counters) drop(r DropReason) { c.Drops[r].Add(1) }

// UnmarshalText reads a state name (the control API's JSON).
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown tunnel state %q", b)
}

// UnmarshalText reads a client type name.
func (t *ClientType) UnmarshalText(b []byte) error {
	v, err := ParseClientType(string(b))
	*t = v
	return err
}
