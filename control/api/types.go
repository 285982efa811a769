package api

import (
	"net/netip"
	"time"
)

// DefaultSocket is where teredo-relayd listens unless configured otherwise.
const DefaultSocket = "/run/teredo-relayd/api.sock"

// Paths of API version 1.
const (
	PathStatus    = "/v1/status"
	PathStats     = "/v1/stats"
	PathPeers     = "/v1/peers"
	PathPeerCount = "/v1/peers/count"
	PathPeer      = "/v1/peers/" // followed by the peer's Teredo IPv6 address
	PathDrain     = "/v1/drain"
	PathUndrain   = "/v1/undrain"
	PathReload    = "/v1/reload"
)

// Error codes.
const (
	CodeBadRequest  = "bad_request"
	CodeNotFound    = "not_found"
	CodeUnavailable = "unavailable" // the backend cannot serve the request now
	CodeInternal    = "internal"
	// CodeForbidden: the caller may read but not change the relay (drain,
	// undrain, reload need root, the daemon's user or api.admin_group).
	CodeForbidden = "forbidden"
)

// ErrorBody is the body of every non-2xx answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Peer states.
const (
	StatePending = "pending"
	StateTrusted = "trusted"
)

// Sort keys accepted by GET /v1/peers. Times sort most recent first, counters
// largest first, addresses ascending; ties are broken by address.
const (
	SortAddress   = "address"
	SortMapped    = "mapped"
	SortState     = "state"
	SortLastRx    = "last-rx"
	SortLastTx    = "last-tx"
	SortRxPackets = "rx-packets"
	SortTxPackets = "tx-packets"
	SortRxBytes   = "rx-bytes"
	SortTxBytes   = "tx-bytes"
	SortBubbles   = "bubbles"
	SortQueued    = "queued"
)

// SortKeys lists the sort keys in documentation order.
var SortKeys = []string{SortLastRx, SortLastTx, SortAddress, SortMapped, SortState,
	SortRxPackets, SortTxPackets, SortRxBytes, SortTxBytes, SortBubbles, SortQueued}

// Peer list bounds.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Status is GET /v1/status.
type Status struct {
	Time          time.Time   `json:"time"`
	Version       string      `json:"version"`
	Revision      string      `json:"revision"`
	GoVersion     string      `json:"go_version"`
	Roles         []string    `json:"roles"`
	Addresses     []string    `json:"addresses"`
	Ready         bool        `json:"ready"`
	NotReady      []string    `json:"not_ready"`
	Draining      bool        `json:"draining"`
	StartTime     time.Time   `json:"start_time"`
	UptimeSeconds float64     `json:"uptime_seconds"`
	Interfaces    []Interface `json:"interfaces"`
	Reload        Reload      `json:"reload"`
	Drain         Drain       `json:"drain"`
	Announce      Announce    `json:"announce"`
	// Server is the Teredo server role's state; absent without the role.
	Server *ServerStatus `json:"server,omitempty"`
}

// Drain says whether a drain survives a restart.
type Drain struct {
	// StateFile is drain.state_file; empty when not configured (a drain
	// then ends with the process).
	StateFile string `json:"state_file,omitempty"`
	// Persisted is true when the state file exists: the daemon will start
	// drained. Draining without Persisted means a restart would undrain.
	Persisted bool `json:"persisted"`
}

// Announce is the BIRD anycast announcement's state.
type Announce struct {
	// Enabled is announce.enabled: teredo-relayd drives BIRD.
	Enabled  bool     `json:"enabled"`
	Prefixes []string `json:"prefixes"`
	// Desired: the relay wants the prefixes announced (ready and not
	// drained for announce.rise). Announced: what BIRD last confirmed,
	// meaningful once Confirmed.
	Desired       bool      `json:"desired"`
	Announced     bool      `json:"announced"`
	Confirmed     bool      `json:"confirmed"`
	Announcements uint64    `json:"announcements"`
	Withdrawals   uint64    `json:"withdrawals"`
	Errors        uint64    `json:"errors"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorTime time.Time `json:"last_error_time,omitzero"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	// Sessions are BIRD's BGP sessions (birdc show protocols) with whether
	// each exports every prefix (birdc show route P export S): Confirmed
	// says BIRD accepted the configuration, Sessions whether the prefixes
	// actually leave on an Established session. Asked every 10 s;
	// SessionsTime is the last answer, SessionsError why there is none.
	Sessions      []BGPSession `json:"sessions,omitempty"`
	SessionsTime  time.Time    `json:"sessions_time,omitzero"`
	SessionsError string       `json:"sessions_error,omitempty"`
}

// BGPSession is one BGP protocol of BIRD.
type BGPSession struct {
	Name string `json:"name"`
	// State is BIRD's protocol state and BGP state, e.g. "up Established",
	// "start Connect", "start Active Socket: Connection refused".
	State       string `json:"state"`
	Established bool   `json:"established"`
	// Exported: BIRD exports every announced prefix on this session.
	Exported bool `json:"exported"`
}

// ServerStatus is the Teredo server role (RFC 4380 §5.3): its addresses
// and counters since start (GET /v1/stats has them with rates).
type ServerStatus struct {
	// Addresses are the primary and secondary address:port.
	Addresses     []string `json:"addresses"`
	Packets       uint64   `json:"packets"`
	RSReceived    uint64   `json:"rs_received"`
	RASent        uint64   `json:"ra_sent"`
	RASentOther   uint64   `json:"ra_sent_other_address"` // answers to cone RSs, from the other address
	Forwarded     uint64   `json:"forwarded"`
	RelayHandoffs uint64   `json:"relay_handoffs"`
	Drops         uint64   `json:"drops"`
}

// Interface is one NIC the relay serves.
type Interface struct {
	Name    string  `json:"name"`
	XDPMode string  `json:"xdp_mode"` // native, generic, offload; "" when no queue is bound
	Queues  []Queue `json:"queues"`
}

// Queue is one AF_XDP socket.
type Queue struct {
	ID         int    `json:"id"`
	SocketMode string `json:"socket_mode"` // zero_copy or copy
	RxPackets  uint64 `json:"rx_packets"`
	TxPackets  uint64 `json:"tx_packets"`
	// RingError is set when XDP_STATISTICS could not be read.
	RingError string `json:"ring_error,omitempty"`
}

// Reload is the configuration reload state.
type Reload struct {
	Reloads              uint64    `json:"reloads"`
	Failures             uint64    `json:"failures"`
	LastReloadSuccessful bool      `json:"last_reload_successful"`
	LastSuccess          time.Time `json:"last_success,omitzero"`
	LastError            string    `json:"last_error,omitempty"`
}

// Counter is a counter's total and its per-second rate over the daemon's rate
// window (0 when the window is empty).
type Counter struct {
	Name  string  `json:"name"`
	Total uint64  `json:"total"`
	Rate  float64 `json:"rate_per_second"`
}

// Drop is a drop counter of one layer and reason.
type Drop struct {
	Layer  string  `json:"layer"` // xdp, relay or server
	Reason string  `json:"reason"`
	Total  uint64  `json:"total"`
	Rate   float64 `json:"rate_per_second"`
}

// XDPVerdict counts the steering program's packets for one reason.
type XDPVerdict struct {
	Action string  `json:"action"`
	Reason string  `json:"reason"`
	Total  uint64  `json:"total"`
	Rate   float64 `json:"rate_per_second"`
}

// RingEvent is one XDP_STATISTICS counter of one queue.
type RingEvent struct {
	Interface string  `json:"interface"`
	Queue     int     `json:"queue"`
	Event     string  `json:"event"`
	Total     uint64  `json:"total"`
	Rate      float64 `json:"rate_per_second"`
}

// Stats is GET /v1/stats.
type Stats struct {
	Time time.Time `json:"time"`
	// RateWindowSeconds is the span the rates are computed over; 0 means the
	// daemon has no earlier sample yet and every rate is 0.
	RateWindowSeconds float64      `json:"rate_window_seconds"`
	Packets           []Counter    `json:"packets"` // by direction
	Bytes             []Counter    `json:"bytes"`   // by direction
	Drops             []Drop       `json:"drops"`
	XDP               []XDPVerdict `json:"xdp"`
	XDPError          string       `json:"xdp_error,omitempty"`
	Bubbles           []Counter    `json:"bubbles"` // direct, indirect, retries, expiries
	ICMPv6Errors      []Counter    `json:"icmpv6_errors"`
	RateLimited       []Counter    `json:"rate_limited"`
	Evictions         []Counter    `json:"evictions"`
	Rings             []RingEvent  `json:"rings"`
	// Server holds the Teredo server role's counters (received_packets,
	// received_bytes, rs_received, ra_sent_<from>, forwarded_<kind>,
	// forwarded_bytes, origin_indications, relay_handoffs); its drops are
	// in Drops with layer server. Absent without the role.
	Server []Counter `json:"server,omitempty"`
}

// PeerFilter selects peers; the zero value selects all.
type PeerFilter struct {
	State  string       // pending or trusted
	V4     netip.Prefix // mapped (client public) IPv4 address in this prefix
	Server netip.Addr   // Teredo server IPv4 address
}

// PeerQuery is a filtered, sorted, limited peer listing.
type PeerQuery struct {
	PeerFilter
	Sort  string
	Limit int
}

// Peer is one peer cache entry. Mapped, Server, Flags, Cone and RFC5991 are
// decoded from the Teredo address; ObservedMapping is the outer IPv4 source
// the relay last accepted from the peer, absent until it accepted one (a
// peer the relay is still verifying has none).
type Peer struct {
	Address         netip.Addr     `json:"address"`
	State           string         `json:"state"`
	Mapped          netip.AddrPort `json:"mapped"`
	Server          netip.Addr     `json:"server"`
	Flags           uint16         `json:"flags"`
	Cone            bool           `json:"cone"`
	RFC5991         bool           `json:"rfc5991"`
	ObservedMapping netip.AddrPort `json:"observed_mapping,omitzero"`
	MappingDiffers  bool           `json:"mapping_differs"`
	LastRx          time.Time      `json:"last_rx,omitzero"`
	LastTx          time.Time      `json:"last_tx,omitzero"`
	Bubbles         uint32         `json:"bubbles"`
	RxPackets       uint64         `json:"rx_packets"`
	RxBytes         uint64         `json:"rx_bytes"`
	TxPackets       uint64         `json:"tx_packets"`
	TxBytes         uint64         `json:"tx_bytes"`
	QueuedPackets   uint64         `json:"queued_packets"`
	QueuedBytes     uint64         `json:"queued_bytes"`
}

// PeerSummary describes the whole peer cache.
type PeerSummary struct {
	Total        uint64    `json:"total"`
	Capacity     uint64    `json:"capacity"`
	FillRatio    float64   `json:"fill_ratio"`
	Pending      uint64    `json:"pending"`
	Trusted      uint64    `json:"trusted"`
	QueuedBytes  uint64    `json:"queued_bytes"`
	EvictionRate float64   `json:"eviction_rate_per_second"`
	Evictions    []Counter `json:"evictions"`
}

// SnapshotNote is the Note of every peer snapshot.
const SnapshotNote = "not atomic: the peer cache is walked while traffic runs"

// Peers is GET /v1/peers.
type Peers struct {
	Time    time.Time   `json:"time"`
	Note    string      `json:"note"`
	Summary PeerSummary `json:"summary"`
	Sort    string      `json:"sort"`
	Limit   int         `json:"limit"`
	// Scanned is the number of entries walked, Matched those passing the
	// filters; Truncated is Matched > len(Peers).
	Scanned   int    `json:"scanned"`
	Matched   int    `json:"matched"`
	Truncated bool   `json:"truncated"`
	Peers     []Peer `json:"peers"`
}

// PeerCount is GET /v1/peers/count.
type PeerCount struct {
	Time     time.Time   `json:"time"`
	Summary  PeerSummary `json:"summary"`
	Filtered bool        `json:"filtered"`
	Matched  int         `json:"matched"`
}

// TeredoFields is a Teredo address taken apart [RFC 4380 §4, RFC 5991 §3.1].
type TeredoFields struct {
	Prefix         string         `json:"prefix"`
	Server         netip.Addr     `json:"server"`
	Flags          uint16         `json:"flags"` // as in Peer.Flags (relayctl prints it in hex)
	Cone           bool           `json:"cone"`
	Reserved       bool           `json:"reserved_z"`
	Universal      bool           `json:"universal_u"`
	Group          bool           `json:"group_g"`
	RandomBits     uint16         `json:"random_bits"` // flags masked to the 12 RFC 5991 random bits
	Mapped         netip.AddrPort `json:"mapped"`
	ObfuscatedPort string         `json:"obfuscated_port"` // hex as on the wire
	ObfuscatedAddr string         `json:"obfuscated_addr"`
}

// PeerDetail is GET /v1/peers/{addr}.
type PeerDetail struct {
	Time   time.Time    `json:"time"`
	Peer   Peer         `json:"peer"`
	Teredo TeredoFields `json:"teredo"`
}

// DrainResult answers POST /v1/drain and /v1/undrain.
type DrainResult struct {
	Draining bool   `json:"draining"`
	Changed  bool   `json:"changed"`
	Ready    bool   `json:"ready"`
	Message  string `json:"message"`
}

// ReloadResult answers POST /v1/reload. A rejected configuration is a
// successful request with Successful false and Error set.
type ReloadResult struct {
	Time       time.Time `json:"time"`
	Successful bool      `json:"successful"`
	Changed    []string  `json:"changed"` // configuration keys applied
	Error      string    `json:"error,omitempty"`
}
