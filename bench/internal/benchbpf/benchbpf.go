package benchbpf

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// Mirrors of bench.h.
const (
	Magic          = 0x7e4eb3c4
	FlagProbe      = 0x1
	KindShift      = 8
	KindMask       = 0xf
	ProbeLen       = 32 // struct bench_probe
	SlotHdr        = 96 // bytes of each generator slot written over the frame
	MaxSlots       = 65536
	MaxProbeOff    = 256
	Kinds          = 16
	HistKinds      = 4
	HistBuckets    = 512
	CtrPassed      = Kinds * 2
	CtrOther       = Kinds*2 + 1
	CtrProbes      = Kinds*2 + 2
	NumCounters    = Kinds*2 + 3
	CtrPktsOffset  = 0
	CtrBytesOffset = 1
	PeerKinds      = 2 // per-peer bitmaps: decap, encap
	MaxPeers       = 1 << 24
	PeerWords      = MaxPeers / 64
)

// Emulated peers (bench.h): peer p is the client with NAT mapping
// 203.0.113.(1 + p%PeerAddrs):(PeerPort0 + p/PeerAddrs).
const (
	PeerAddrs = 250
	PeerNetHi = 113
	PeerPort0 = 20000
)

// Slot variations and the offsets they rewrite (bench.h GEN_VARY_*, GEN_*).
const (
	VaryNone  = 0
	VaryDecap = 1
	VaryEncap = 2

	DecapIP4Csum     = 24
	DecapIP4SrcLo    = 28
	DecapUDPSport    = 34
	DecapV6SrcPort   = 60
	DecapV6SrcAddrLo = 64
	DecapV6DstLo     = 80
	DecapUDPCsum     = 88
	EncapV6SrcLo     = 36
	EncapV6DstPort   = 48
	EncapV6DstAddrLo = 52
	EncapUDPCsum     = 60
)

// GenSlot is one packet variant of the generator (struct gen_slot).
type GenSlot = genGenSlot

// GenConfig is the generator's configuration (struct gen_cfg).
type GenConfig = genGenCfg

// GenState is the generator's sequence counter (struct gen_state).
type GenState = genGenState

// Gen is the loaded generator program and its maps.
type Gen struct {
	Prog   *ebpf.Program
	Slots  *ebpf.Map
	Config *ebpf.Map
	State  *ebpf.Map
	objs   genObjects
}

// LoadGen loads the generator program.
func LoadGen() (*Gen, error) {
	g := &Gen{}
	if err := loadGenObjects(&g.objs, nil); err != nil {
		return nil, fmt.Errorf("load generator program: %w", err)
	}
	g.Prog, g.Slots, g.Config, g.State = g.objs.BenchGen, g.objs.GenSlots, g.objs.GenConfig, g.objs.GenState
	return g, nil
}

// Close releases the program and maps.
func (g *Gen) Close() error { return g.objs.Close() }

// Sink is the loaded sink program and its maps.
type Sink struct {
	Prog     *ebpf.Program
	Counters *ebpf.Map // per-CPU uint64, NumCounters entries
	Latency  *ebpf.Map // per-CPU uint64, HistKinds × HistBuckets entries
	Peers    *ebpf.Map // memory-mappable uint64 bitmap words, PeerKinds × PeerWords entries
	objs     sinkObjects
}

// LoadSink loads the sink program.
func LoadSink() (*Sink, error) {
	s := &Sink{}
	if err := loadSinkObjects(&s.objs, nil); err != nil {
		return nil, fmt.Errorf("load sink program: %w", err)
	}
	s.Prog, s.Counters, s.Latency, s.Peers = s.objs.BenchSink, s.objs.SinkCounters, s.objs.SinkLatency, s.objs.SinkPeers
	return s, nil
}

// Close releases the program and maps.
func (s *Sink) Close() error { return s.objs.Close() }

// BucketBounds returns the latency range [lo, hi) in nanoseconds of
// histogram bucket b (the log-linear scheme of sink.c: exact below 8 ns,
// then 8 sub-buckets per power of two).
func BucketBounds(b int) (lo, hi uint64) {
	if b < 8 {
		return uint64(b), uint64(b) + 1
	}
	e := uint(b/8 + 2)
	if e > 63 {
		return ^uint64(0), ^uint64(0) // beyond any 64-bit latency: never used
	}
	sub := uint64(b % 8)
	lo, hi = (8+sub)<<(e-3), (9+sub)<<(e-3)
	if hi>>(e-3) != 9+sub { // the top bucket's end overflows 64 bits
		hi = ^uint64(0)
	}
	return lo, hi
}

// Bucket is the Go twin of sink.c's bucket(), for tests.
func Bucket(ns uint64) int {
	if ns < 8 {
		return int(ns)
	}
	e := 63
	for ns>>uint(e) == 0 {
		e--
	}
	sub := (ns >> uint(e-3)) & 7
	return (e-2)*8 + int(sub)
}
