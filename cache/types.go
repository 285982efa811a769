package cache

import (
	"errors"
	"net/netip"
	"time"
)

// State is the trust state of a peer (RFC 4380 §5.4.1, §5.2.3).
type State uint8

const (
	// Pending: the relay has created the entry (it has traffic for the peer,
	// or the peer contacted it) but has not yet seen a valid packet or bubble
	// from the peer's mapped address. Packets for it are queued.
	Pending State = iota + 1
	// Trusted: a packet from the peer arrived from its mapped address.
	Trusted
)

// String returns "pending", "trusted" or "invalid".
func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Trusted:
		return "trusted"
	}
	return "invalid"
}

// MarshalText makes State appear as its name in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RxResult is the outcome of ObserveRx.
type RxResult uint8

const (
	// RxUnknown: no entry for the peer. Nothing is mutated.
	RxUnknown RxResult = iota
	// RxTrusted: the peer is trusted, the packet came from its mapping and no
	// packets are queued for it. LastRx and the rx counters were updated.
	RxTrusted
	// RxPending: the entry exists and is pending. Nothing is mutated.
	RxPending
	// RxMappingChanged: the peer is trusted but the packet came from another
	// IPv4 address or port. Nothing is mutated.
	RxMappingChanged
	// RxTrustedQueued: like RxTrusted (trusted, from == mapping) but packets
	// are queued for the peer (they were queued while its trust was stale).
	// Nothing is mutated. Handle it exactly like RxPending: the slow path calls
	// Trust, which refreshes the entry and releases the queue in FIFO order, so
	// the queued packets leave before this one.
	RxTrustedQueued
)

var rxResultNames = [...]string{"unknown", "trusted", "pending", "mapping_changed", "trusted_queued"}

// String returns a stable snake_case name.
func (r RxResult) String() string {
	if int(r) < len(rxResultNames) {
		return rxResultNames[r]
	}
	return "invalid"
}

// EvictReason says why an entry left the cache. The String values are stable
// and meant as metric label values.
type EvictReason uint8

const (
	// EvictPendingFull: the shard was full and the oldest pending entry made
	// room for a new one.
	EvictPendingFull EvictReason = iota
	// EvictTrustedFull: the shard was full, held no pending entry, and the
	// least recently received trusted entry of a sample made room.
	EvictTrustedFull
	// EvictIdle: Sweep removed a trusted entry that had received nothing for
	// longer than the idle limit.
	EvictIdle
	// EvictDeleted: the relay deleted the entry (expired pending peer, bubble
	// budget exhausted, administrative removal).
	EvictDeleted
	// NumEvictReasons is the number of reasons; Stats.Evictions has this length.
	NumEvictReasons
)

var evictReasonNames = [...]string{"pending_full", "trusted_full", "idle", "deleted"}

// String returns the metric label value (pending_full, trusted_full, idle, deleted).
func (r EvictReason) String() string {
	if int(r) < len(evictReasonNames) {
		return evictReasonNames[r]
	}
	return "invalid"
}

// BubbleWindow is the period over which the relay limits bubbles to one peer
// (Miredo: at most 4 bubbles, then none until 300 s have passed). RecordBubble
// starts a new window when the previous one is older than this.
const BubbleWindow = int64(300 * time.Second)

// Errors returned by the slow-path methods.
var (
	ErrNotFound      = errors.New("cache: peer not found")
	ErrPeerQueueFull = errors.New("cache: peer queue full")
	ErrQueueLimit    = errors.New("cache: global queue limit reached")
	ErrEmptyPacket   = errors.New("cache: empty packet")
	ErrBadMapping    = errors.New("cache: mapping is not an IPv4 address and port")
)

// Peer is a snapshot of one cache entry. Times are nanoseconds from the
// cache's clock (Config.Now); zero means "never".
type Peer struct {
	Addr    netip.Addr     `json:"addr"`    // the peer's Teredo IPv6 address (the key)
	Mapping netip.AddrPort `json:"mapping"` // mapped IPv4 address and port
	State   State          `json:"state"`

	Created int64 `json:"created_ns"`
	LastRx  int64 `json:"last_rx_ns"`
	LastTx  int64 `json:"last_tx_ns"` // last data packet (LookupTx) or bubble (RecordBubble)

	Bubbles     int   `json:"bubbles"`         // bubbles sent in the current window
	FirstBubble int64 `json:"first_bubble_ns"` // start of the current bubble window

	QueuedPackets int `json:"queued_packets"`
	QueuedBytes   int `json:"queued_bytes"`

	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
}

// Stats is a point-in-time summary of the cache.
type Stats struct {
	Capacity int `json:"capacity"` // entries (Shards × per-shard capacity, ≥ Config.Capacity)
	Shards   int `json:"shards"`
	Entries  int `json:"entries"`
	Pending  int `json:"pending"`
	Trusted  int `json:"trusted"`

	QueuedPackets     int64 `json:"queued_packets"`
	QueuedBytes       int64 `json:"queued_bytes"`        // payload bytes
	QueueStorageBytes int64 `json:"queue_storage_bytes"` // arena bytes in use (whole chunks)
	QueueLimitBytes   int64 `json:"queue_limit_bytes"`   // arena size (Config.QueueBytes)

	// Evictions counts entries removed, indexed by EvictReason.
	Evictions [NumEvictReasons]uint64 `json:"evictions"`
	// QueueDroppedPackets counts queued packets discarded because their entry
	// was evicted, swept or deleted.
	QueueDroppedPackets uint64 `json:"queue_dropped_packets"`
}
