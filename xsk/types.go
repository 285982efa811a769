package xsk

import (
	"errors"
	"sync/atomic"
)

// Desc is one packet in the UMEM, as it travels between the rings and the
// relay. Addr is the UMEM offset of the packet's first byte (not of its chunk:
// the chunk is Addr rounded down to the frame size); Len is the packet length.
type Desc struct {
	Addr uint64
	Len  uint32
}

// KernelHeadroom is XDP_PACKET_HEADROOM: the kernel reserves this many bytes
// in front of every received packet, after the UMEM headroom. A received
// packet therefore starts at chunk + UmemConfig.Headroom + KernelHeadroom.
const KernelHeadroom = 256

// Defaults applied to zero fields of UmemConfig and SocketConfig.
const (
	DefaultNumFrames = 4096
	DefaultFrameSize = 2048
	DefaultRingSize  = 2048
)

// UmemConfig sizes a UMEM. Zero fields take the defaults above.
type UmemConfig struct {
	NumFrames int // chunks in the UMEM
	FrameSize int // chunk size: 2048 or 4096 (aligned mode)
	// Headroom is the UMEM headroom in bytes, kept free by the kernel in front
	// of KernelHeadroom in every received chunk (0 is valid; the kernel's 256
	// bytes already cover the relay's 28-byte encapsulation).
	Headroom int
	FillSize int // fill ring entries per (ifindex, queue), power of two
	CompSize int // completion ring entries per (ifindex, queue), power of two
}

// SocketConfig sizes and configures one AF_XDP socket. Zero fields take the
// defaults. Sockets that share a UMEM with an already open socket inherit
// its copy/zero-copy mode and need_wakeup setting (the kernel accepts no bind
// flags for them), so ForceCopy, ForceZeroCopy and NoNeedWakeup apply to the
// first socket of a UMEM only.
type SocketConfig struct {
	RxSize, TxSize int  // ring entries, power of two
	ForceCopy      bool // bind with XDP_COPY
	NoNeedWakeup   bool // do not bind with XDP_USE_NEED_WAKEUP: kick on every Transmit
	// ForceZeroCopy binds with XDP_ZEROCOPY and fails when the driver cannot;
	// the default tries zero-copy and falls back to copy mode (see ZeroCopy).
	ForceZeroCopy bool
	// Busy polling (Linux 5.11+): SO_BUSY_POLL in microseconds,
	// SO_BUSY_POLL_BUDGET packets per round, SO_PREFER_BUSY_POLL. Zero leaves
	// the socket default.
	BusyPollMicros int
	BusyPollBudget int
	PreferBusyPoll bool
}

// Stats are the socket's counters: the kernel's XDP_STATISTICS and the ring
// events this package counts in Go.
type Stats struct {
	RxDropped            uint64 // kernel: packets dropped for a reason other than a full RX or empty fill ring (e.g. too large for a chunk)
	RxInvalidDescs       uint64 // kernel: invalid fill-ring addresses
	TxInvalidDescs       uint64 // kernel: invalid TX descriptors
	RxRingFull           uint64 // kernel: packets dropped because the RX ring was full
	RxFillRingEmptyDescs uint64 // kernel: packets dropped because the fill ring was empty
	TxRingEmptyDescs     uint64 // kernel: TX attempts that found the TX ring empty
	Ring                 RingStats
}

// RingStats are ring events counted in Go by the socket's owner goroutine;
// RingStats may be read concurrently from any goroutine.
type RingStats struct {
	Received    uint64 // descriptors taken from the RX ring
	Transmitted uint64 // descriptors placed on the TX ring
	Completed   uint64 // frames reclaimed from the completion ring
	Filled      uint64 // frames handed to the kernel on the fill ring
	Freed       uint64 // frames returned by Free
	TxKicks     uint64 // sendto wake-ups of the TX path
	RxKicks     uint64 // recvfrom wake-ups of the fill/RX path
	KickErrors  KickErrors
	// FillRingEmpty counts Fill calls that found every fill entry consumed by
	// the kernel (it may have dropped packets for lack of frames; the first
	// Fill after Open counts too).
	FillRingEmpty uint64
	// FrameStackEmpty counts Fill calls that got fewer frames than asked
	// because every frame was in use.
	FrameStackEmpty uint64
	// TxRingFull counts Transmit calls that could not place every descriptor.
	TxRingFull uint64
	// TxRejected counts descriptors Transmit refused (zero length, outside the
	// UMEM, or crossing the end of their chunk); their frames went back to the
	// stack, since the kernel would drop them without a completion.
	TxRejected uint64
	// FreeRejected counts addresses that could not go back to the frame stack:
	// outside the UMEM, or the stack already full (a frame freed twice).
	FreeRejected uint64
	// Allocated and AllocStackEmpty belong to the UMEM, not to the socket:
	// every socket of a UMEM reports the same values (do not add them up
	// across sockets that share a UMEM). Allocated counts frames handed out
	// by Umem.Alloc and, like Freed, lags until the owner's next Fill,
	// Receive, Transmit or Complete on any socket of the UMEM;
	// AllocStackEmpty counts Alloc calls that found every frame in use.
	Allocated       uint64
	AllocStackEmpty uint64
}

// KickErrors counts failed wake-up syscalls by errno. All of them are
// transient for the relay: the descriptors stay on their ring and the next
// kick retries. EAGAIN is counted only when the kernel made no progress (in
// copy mode the kernel sends 32 descriptors per sendto and returns EAGAIN when
// more are waiting; Transmit then kicks again).
type KickErrors struct {
	Again    uint64 // EAGAIN: TX busy or completion ring full
	Busy     uint64 // EBUSY
	NoBufs   uint64 // ENOBUFS
	NetDown  uint64 // ENETDOWN: link down
	NotBound uint64 // ENXIO: socket not bound (device gone)
	Other    uint64 // any other errno
}

// Errors returned by NewUmem, Open and the socket methods.
var (
	ErrUnsupported = errors.New("xsk: AF_XDP is only supported on Linux")
	ErrClosed      = errors.New("xsk: closed")
	ErrConfig      = errors.New("xsk: invalid configuration")
)

// counters are the Go-side ring events. They are written only by the owner
// goroutine (Store(Load()+n), no read-modify-write atomics) and read by Stats
// from any goroutine.
type counters struct {
	received, transmitted, completed, filled, freed atomic.Uint64
	txKicks, rxKicks                                atomic.Uint64
	kickAgain, kickBusy, kickNoBufs                 atomic.Uint64
	kickNetDown, kickNotBound, kickOther            atomic.Uint64
	fillRingEmpty, frameStackEmpty, txRingFull      atomic.Uint64
	txRejected, freeRejected                        atomic.Uint64
}

// umemCounters are the UMEM-wide events (Umem.Alloc), written by the owner
// goroutine and reported in every socket's RingStats.
type umemCounters struct {
	allocated, allocStackEmpty atomic.Uint64
}

func add(c *atomic.Uint64, n uint64) { c.Store(c.Load() + n) }

func (c *counters) snapshot() RingStats {
	return RingStats{
		Received:    c.received.Load(),
		Transmitted: c.transmitted.Load(),
		Completed:   c.completed.Load(),
		Filled:      c.filled.Load(),
		Freed:       c.freed.Load(),
		TxKicks:     c.txKicks.Load(),
		RxKicks:     c.rxKicks.Load(),
		KickErrors: KickErrors{
			Again:    c.kickAgain.Load(),
			Busy:     c.kickBusy.Load(),
			NoBufs:   c.kickNoBufs.Load(),
			NetDown:  c.kickNetDown.Load(),
			NotBound: c.kickNotBound.Load(),
			Other:    c.kickOther.Load(),
		},
		FillRingEmpty:   c.fillRingEmpty.Load(),
		FrameStackEmpty: c.frameStackEmpty.Load(),
		TxRingFull:      c.txRingFull.Load(),
		TxRejected:      c.txRejected.Load(),
		FreeRejected:    c.freeRejected.Load(),
	}
}
