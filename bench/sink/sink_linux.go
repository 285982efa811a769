//go:build linux

package sink

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/teredorelay/teredorelay/bench/internal/benchbpf"
)

// Sink is the counting program attached to one interface.
type Sink struct {
	prog  *benchbpf.Sink
	link  link.Link
	ncpu  int
	peers *ebpf.Memory // the per-peer bitmaps, memory-mapped
	words []byte       // scratch for reading one kind's bitmap
}

// Attach loads the sink program and attaches it natively (driver mode; veth
// needs a native program on the receiving side for XDP_TX'd frames to
// arrive) to ifindex. It must run inside the interface's namespace.
func Attach(ifindex int) (*Sink, error) {
	p, err := benchbpf.LoadSink()
	if err != nil {
		return nil, fmt.Errorf("attach sink: %w", err)
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: p.Prog, Interface: ifindex, Flags: link.XDPDriverMode})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("attach sink to ifindex %d (native XDP): %w", ifindex, err)
	}
	n, err := ebpf.PossibleCPU()
	if err != nil {
		l.Close()
		p.Close()
		return nil, fmt.Errorf("attach sink: possible CPUs: %w", err)
	}
	mem, err := p.Peers.Memory()
	if err != nil {
		l.Close()
		p.Close()
		return nil, fmt.Errorf("attach sink: map the per-peer bitmaps: %w", err)
	}
	return &Sink{prog: p, link: l, ncpu: n, peers: mem}, nil
}

// Peers returns how many distinct peers got at least one packet of kind
// (0 decap, 1 encap: loadgen.KindDecap, KindEncap) through since the last
// ResetPeers.
func (s *Sink) Peers(kind int) (int, error) {
	if kind < 0 || kind >= benchbpf.PeerKinds {
		return 0, fmt.Errorf("sink: no per-peer bitmap for kind %d", kind)
	}
	const size = benchbpf.PeerWords * 8
	if s.words == nil {
		s.words = make([]byte, size)
	}
	if _, err := s.peers.ReadAt(s.words, int64(kind)*size); err != nil {
		return 0, fmt.Errorf("sink: read per-peer bitmap: %w", err)
	}
	n := 0
	for i := 0; i < size; i += 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(s.words[i:]))
	}
	return n, nil
}

// ResetPeers clears the per-peer bitmaps (call it while no traffic flows:
// a packet counted during the reset may be lost).
func (s *Sink) ResetPeers() error {
	zero := make([]byte, benchbpf.PeerWords*8)
	for k := range benchbpf.PeerKinds {
		if _, err := s.peers.WriteAt(zero, int64(k)*int64(len(zero))); err != nil {
			return fmt.Errorf("sink: clear per-peer bitmap: %w", err)
		}
	}
	return nil
}

// Close detaches and unloads the program.
func (s *Sink) Close() error {
	err := s.link.Close()
	if cerr := s.prog.Close(); err == nil {
		err = cerr
	}
	return err
}

// Read returns the counters summed over CPUs.
func (s *Sink) Read() (Counts, error) {
	var c Counts
	ctr, err := s.readArray(s.prog.Counters, benchbpf.NumCounters)
	if err != nil {
		return c, fmt.Errorf("read sink counters: %w", err)
	}
	for k := range benchbpf.Kinds {
		c.Pkts[k] = ctr[k*2]
		c.Bytes[k] = ctr[k*2+1]
	}
	c.Passed, c.Other, c.Probes = ctr[benchbpf.CtrPassed], ctr[benchbpf.CtrOther], ctr[benchbpf.CtrProbes]
	lat, err := s.readArray(s.prog.Latency, benchbpf.HistKinds*benchbpf.HistBuckets)
	if err != nil {
		return c, fmt.Errorf("read sink latency: %w", err)
	}
	for k := range benchbpf.HistKinds {
		copy(c.Latency[k][:], lat[k*benchbpf.HistBuckets:])
	}
	return c, nil
}

// readArray sums a per-CPU uint64 array over CPUs with one batch lookup.
func (s *Sink) readArray(m *ebpf.Map, n int) ([]uint64, error) {
	keys := make([]uint32, n)
	vals := make([]uint64, n*s.ncpu)
	var cursor ebpf.MapBatchCursor
	got, err := m.BatchLookup(&cursor, keys, vals, nil)
	if err != nil && got != n {
		// Fall back to per-key lookups.
		out := make([]uint64, n)
		per := make([]uint64, s.ncpu)
		for k := range n {
			if err := m.Lookup(uint32(k), &per); err != nil {
				return nil, err
			}
			for _, v := range per {
				out[k] += v
			}
		}
		return out, nil
	}
	out := make([]uint64, n)
	for i := range got {
		for c := range s.ncpu {
			out[keys[i]] += vals[i*s.ncpu+c]
		}
	}
	return out, nil
}
