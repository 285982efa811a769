package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/internal/scatter"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// The full worker step at IX scale: a real relay engine and peer cache
// behind a Worker on an in-memory socket, one 64-frame batch per iteration,
// every frame from (decap) or to (encap) a different trusted peer visited in
// a scattered order. One step covers L2 parsing, the relay verdict, the peer
// lookup, the next hop and the TX descriptor. Before each step the harness
// writes the next batch's peers into the 64 frames, as the NIC would; the
// "frames only" sub-benchmarks measure that rewrite alone so it can be
// subtracted.

var (
	stepRelay4  = netip.MustParseAddr("192.0.2.1")
	stepServer4 = netip.MustParseAddr("192.0.2.2") // the peers' Teredo server
	stepRelay6  = netip.MustParseAddr("2001:db8:ffff::1")
	stepNative  = netip.MustParseAddr("2001:db8:1::5") // routed via fe80::1 on port 0 (hops)
)

// stepPeerSize is one working set: peers trusted peers in a cache of cap
// entries (90 % full for the scattered sets).
type stepPeerSize struct {
	name       string
	cap, peers int
}

var stepSizes = []stepPeerSize{
	{"1", 1024, 1},
	{"64k", 1 << 16, 1 << 16 * 9 / 10},
	{"1M", 1 << 20, 1 << 20 * 9 / 10},
	{"10M", 10_000_000, 9_000_000},
}

// stepPeer returns the mapping of peer j: 198.51.100.1-250, ports from 1024
// (routed by the default route, untagged, on port 0).
func stepPeer(j int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + j%250)}), uint16(1024+j/250))
}

// putStepPeerAddr writes peer j's Teredo address (server stepServer4, flags
// 0) into b[0:16] and returns the sum of its 16-bit words (unfolded), from
// the values rather than read back from the bytes just stored.
func putStepPeerAddr(b []byte, j int) uint32 {
	m := stepPeer(j)
	a4 := m.Addr().As4()
	s4 := stepServer4.As4()
	port, client := ^m.Port(), ^binary.BigEndian.Uint32(a4[:])
	binary.BigEndian.PutUint32(b[0:4], 0x20010000)
	copy(b[4:8], s4[:])
	b[8], b[9] = 0, 0
	binary.BigEndian.PutUint16(b[10:12], port)
	binary.BigEndian.PutUint32(b[12:16], client)
	server := binary.BigEndian.Uint32(s4[:])
	return 0x2001 + server>>16 + server&0xffff + uint32(port) + client>>16 + client&0xffff
}

// stepEnv is a relay engine over a cache of trusted peers, shared by the
// benchmarks of one size (filling 9M peers takes seconds).
type stepEnv struct {
	once  sync.Once
	clock *relaytest.Clock
	peers *cache.Cache
	e     *relay.Engine
	n     int
	err   error // of the fill, shared by every benchmark of the size
}

var stepEnvs sync.Map // name -> *stepEnv

func getStepEnv(b *testing.B, sz stepPeerSize) *stepEnv {
	v, _ := stepEnvs.LoadOrStore(sz.name, &stepEnv{})
	env := v.(*stepEnv)
	env.once.Do(func() { env.err = env.fill(sz.cap, sz.peers) })
	if env.err != nil {
		b.Fatal(env.err)
	}
	return env
}

// newStepEnvT is a small environment of its own for a test.
func newStepEnvT(t *testing.T, peers int) *stepEnv {
	env := &stepEnv{}
	if err := env.fill(2*peers, peers); err != nil {
		t.Fatal(err)
	}
	return env
}

// fill builds the engine on a cache of capacity entries holding peers
// trusted peers.
func (env *stepEnv) fill(capacity, peers int) error {
	env.clock = relaytest.NewClock(1000 * time.Second)
	var err error
	if env.peers, err = cache.New(cache.Config{Capacity: capacity, QueueBytes: 1 << 20, Now: env.clock.Now}); err != nil {
		return err
	}
	env.e, err = relay.NewEngine(relay.Config{
		IPv4Addr: stepRelay4, IPv6Addr: stepRelay6, Key: make([]byte, relay.KeySize), Now: env.clock.Now,
		// The virtual clock advances by one batch time per step: keep
		// every peer valid however long the benchmarks run.
		PeerValidity: time.Hour, IdleTimeout: time.Hour,
	}, env.peers, &relaytest.Output{})
	if err != nil {
		return err
	}
	env.n = peers
	var k [16]byte
	now := env.clock.Now()
	for j := range env.n {
		putStepPeerAddr(k[:], j)
		m := stepPeer(j)
		if _, err := env.peers.InsertPending(&k, m, now); err != nil {
			return err
		}
		env.peers.Trust(&k, m, -1, now, nil)
	}
	if st := env.peers.Stats(); st.Trusted != env.n {
		return errStepFill
	}
	return nil
}

type stepError string

func (e stepError) Error() string { return string(e) }

const errStepFill = stepError("step benchmark: not every peer is trusted (a shard overflowed)")

// stepBatchNanos is the virtual time of one batch (64 frames at 10 Mpps).
const stepBatchNanos = BatchSize * 100

// Frame layout: Ethernet 14, then for decap IPv4 20 + UDP 8 + IPv6 100,
// for encap IPv6 100. The IPv6 packet is a TCP segment with 40 bytes of
// data and a correct checksum, as native hosts send (encap derives its
// outer UDP checksum from it: teredo.InnerChecksum); load keeps the
// checksum correct as it writes each frame's peer address.
const (
	stepIPv6Len   = 100
	stepTCPData   = stepIPv6Len - teredo.IPv6HeaderLen - 20
	stepTCPSumOff = teredo.IPv6HeaderLen + 16 // the TCP checksum field
	stepDecapL3   = ethLen
	stepDecapV6   = ethLen + teredo.EncapLen
	stepEncapV6   = ethLen
)

// perPacketRelay hides the relay worker's batch methods: the Worker then
// looks up every frame's peer on its own, as before the batch lookup
// (the "before" of the benchmarks, and the reference of the tests).
type perPacketRelay struct{ Relay }

// stepWorker is one Worker with its socket and the 64 frames it receives.
type stepWorker struct {
	w     *Worker
	s     *fakeSocket
	rw    *relay.Worker
	decap bool
	descs [BatchSize]uint64 // frame start in the UMEM
	// tcpSum is the frames' TCP checksum sum without the peer address
	// (RFC 1624: the complement of the checksum plus the complement of
	// the template's address sum); load adds each frame's address to it.
	tcpSum uint32
}

// newStepWorker returns a worker on env's engine; perPacket hides the
// relay's batch lookup from it.
func newStepWorker(b testing.TB, env *stepEnv, decap, perPacket bool) *stepWorker {
	rw := env.e.NewWorker()
	s := newFakeSocket(BatchSize)
	var r Relay = rw
	if perPacket {
		r = perPacketRelay{rw}
	}
	w, err := NewWorker(WorkerConfig{Ports: []Port{{Name: "a", Socket: s, UMEM: s, Receive: true}}, Relay: r, Hops: hops(ifA), CPU: -1})
	if err != nil {
		b.Fatal(err)
	}
	ipv6 := relaytest.TCPSegment(stepNative, stepNative, 64, stepTCPData, false)
	addr := ipv6[24:40] // the destination: encap's peer
	if decap {
		addr = ipv6[8:24] // the source: decap's peer
	}
	sw := &stepWorker{w: w, s: s, rw: rw, decap: decap,
		tcpSum: uint32(^binary.BigEndian.Uint16(ipv6[stepTCPSumOff:])) + uint32(teredo.Checksum(addr, 0))}
	for i := range BatchSize {
		f := append([]byte{}, macPortA[:]...)
		f = append(f, macPeer[:]...)
		if decap {
			f = binary.BigEndian.AppendUint16(f, etherTypeIPv4)
			f = append(f, make([]byte, teredo.EncapLen)...)
		} else {
			f = binary.BigEndian.AppendUint16(f, etherTypeIPv6)
		}
		f = append(f, ipv6...)
		d := s.put(i, f)
		sw.descs[i] = d.Addr
	}
	return sw
}

// load writes the peers of the next batch, peer(i) for frame i, into the
// frames and rewinds the socket. Decap: the outer IPv4 addresses and header
// checksum, the UDP header (the worker wrote its Ethernet header over them),
// the inner source and the hop limit. Encap: the Ethernet header, the
// destination and the hop limit (the worker wrote over the rest).
func (sw *stepWorker) load(peer func(i int) int) {
	u := sw.s.umem
	for i, a := range sw.descs {
		j := peer(i)
		f := u[a : a+stepDecapV6+stepIPv6Len]
		if sw.decap {
			putStepIPv4UDP(f[stepDecapL3:stepDecapV6], j)
			v6 := f[stepDecapV6:]
			sw.putTCPSum(v6, putStepPeerAddr(v6[8:24], j))
			v6[7] = 64
			continue
		}
		copy(f[0:6], macPortA[:])
		copy(f[6:12], macPeer[:])
		binary.BigEndian.PutUint16(f[12:14], etherTypeIPv6)
		v6 := f[stepEncapV6:]
		sw.putTCPSum(v6, putStepPeerAddr(v6[24:40], j))
		v6[7] = 64
	}
	sw.s.reset()
}

// putTCPSum writes the TCP checksum of the IPv6 packet v6 whose peer
// address load has just written; addrSum is that address's word sum.
func (sw *stepWorker) putTCPSum(v6 []byte, addrSum uint32) {
	s := sw.tcpSum + addrSum
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	binary.BigEndian.PutUint16(v6[stepTCPSumOff:], ^uint16(s))
}

// stepIPv4Template is the IPv4/UDP header of a decap frame from 0.0.0.0:0 and
// stepIPv4Sum its one's complement sum without the checksum field, so that
// putStepIPv4UDP only adds the source address.
var stepIPv4Template, stepIPv4Sum = func() ([teredo.EncapLen]byte, uint32) {
	var h [teredo.EncapLen]byte
	teredo.PutIPv4UDP(h[:], netip.AddrPortFrom(netip.IPv4Unspecified(), 0), netip.AddrPortFrom(stepRelay4, teredo.Port), stepIPv6Len, 0, 64)
	h[10], h[11] = 0, 0
	var s uint32
	for i := 0; i < teredo.IPv4HeaderLen; i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	return h, s
}()

// putStepIPv4UDP writes the IPv4/UDP header of a datagram from peer j to the
// relay into h[0:28].
func putStepIPv4UDP(h []byte, j int) {
	m := stepPeer(j)
	a4 := m.Addr().As4()
	copy(h, stepIPv4Template[:])
	copy(h[12:16], a4[:])
	s := stepIPv4Sum + (uint32(a4[0])<<8 | uint32(a4[1])) + (uint32(a4[2])<<8 | uint32(a4[3]))
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	binary.BigEndian.PutUint16(h[10:12], ^uint16(s))
	binary.BigEndian.PutUint16(h[teredo.IPv4HeaderLen:], m.Port())
}

// step runs one batch and checks that all of it was forwarded.
func (sw *stepWorker) step(b *testing.B) {
	n := sw.w.Step()
	if n != BatchSize || len(sw.s.tx) != BatchSize {
		b.Fatalf("step: received %d, forwarded %d of %d; worker events %v", n, len(sw.s.tx), BatchSize, sw.w.Counters().Events)
	}
}

func stepDirections() []struct {
	name  string
	decap bool
} {
	return []struct {
		name  string
		decap bool
	}{{"decap", true}, {"encap", false}}
}

// BenchmarkWorkerStep: one worker, one 64-frame batch per iteration; the
// figure to read is ns/frame.
func BenchmarkWorkerStep(b *testing.B) { benchmarkWorkerStep(b, false) }

// BenchmarkWorkerStepPerPacket is BenchmarkWorkerStep without the batch
// lookup (one peer lookup after the other, as before it): what the batch
// gains.
func BenchmarkWorkerStepPerPacket(b *testing.B) { benchmarkWorkerStep(b, true) }

func benchmarkWorkerStep(b *testing.B, perPacket bool) {
	for _, dir := range stepDirections() {
		for _, sz := range stepSizes {
			b.Run(dir.name+"/"+sz.name, func(b *testing.B) {
				env := getStepEnv(b, sz)
				sw := newStepWorker(b, env, dir.decap, perPacket)
				base := 0
				order := scatter.New(0, env.n)
				peer := func(i int) int { return order.At(base + i) }
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					sw.load(peer)
					sw.step(b)
					base += BatchSize
					env.clock.Advance(stepBatchNanos)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*BatchSize), "ns/frame")
			})
		}
		if perPacket {
			continue
		}
		b.Run(dir.name+"/frames only", func(b *testing.B) {
			env := getStepEnv(b, stepSizes[2])
			sw := newStepWorker(b, env, dir.decap, false)
			base := 0
			order := scatter.New(0, env.n)
			peer := func(i int) int { return order.At(base + i) }
			b.ReportAllocs()
			for b.Loop() {
				sw.load(peer)
				base += BatchSize
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*BatchSize), "ns/frame")
		})
	}
}

// BenchmarkWorkerStepParallel: one worker per goroutine (one per RX queue)
// on one shared engine and cache, each in its own scattered order over the
// shared peers (a permutation of its own, internal/scatter: two workers meet
// on an entry only by chance, as independent flows do, instead of walking
// one sequence in step; with one peer, every queue serves the same hot
// client, as RSS spreads native flows to one busy client). Run with -cpu 1,2:
// ns/frame is wall time per frame over all goroutines.
func BenchmarkWorkerStepParallel(b *testing.B) { benchmarkWorkerStepParallel(b, false, false) }

// BenchmarkWorkerStepPerPacketParallel is BenchmarkWorkerStepParallel
// without the batch lookup.
func BenchmarkWorkerStepPerPacketParallel(b *testing.B) { benchmarkWorkerStepParallel(b, true, false) }

// BenchmarkWorkerStepParallelByQueue is BenchmarkWorkerStepParallel with
// each goroutine on its own share of the peers (every G-th peer of G
// goroutines), as RSS keeps a client's traffic to the relay on one queue:
// no peer's entry is written by two workers. Against
// BenchmarkWorkerStepParallel it shows what sharing the peers' entries
// costs.
func BenchmarkWorkerStepParallelByQueue(b *testing.B) { benchmarkWorkerStepParallel(b, false, true) }

func benchmarkWorkerStepParallel(b *testing.B, perPacket, byQueue bool) {
	for _, dir := range stepDirections() {
		for _, sz := range stepSizes {
			if byQueue && sz.peers < 64 {
				continue // nothing to share out
			}
			b.Run(dir.name+"/"+sz.name, func(b *testing.B) {
				env := getStepEnv(b, sz)
				var seed atomic.Int64
				var frames atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					sw := newStepWorker(b, env, dir.decap, perPacket)
					g := int(seed.Add(1)) - 1
					base := 0
					order := scatter.New(g, env.n)
					peer := func(i int) int { return order.At(base + i) }
					if byQueue {
						queues := runtime.GOMAXPROCS(0)
						share := scatter.New(g, env.n/queues)
						peer = func(i int) int { return share.At(base+i)*queues + g%queues }
					}
					n := 0
					for pb.Next() {
						sw.load(peer)
						sw.step(b)
						base += BatchSize
						n += BatchSize
						env.clock.Advance(stepBatchNanos)
					}
					frames.Add(int64(n))
				})
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames.Load()), "ns/frame")
			})
		}
	}
}

// Step with the batch lookup forwards every frame of a batch of scattered
// peers exactly as without it, counts the same, and allocates nothing.
func TestStepBatchedLikePerPacket(t *testing.T) {
	for _, dir := range stepDirections() {
		t.Run(dir.name, func(t *testing.T) {
			env := newStepEnvT(t, 1000)
			plain := newStepWorker(t, env, dir.decap, true)
			batched := newStepWorker(t, env, dir.decap, false)
			if _, ok := batched.w.relay.(BatchRelay); !ok || batched.w.batcher == nil {
				t.Fatal("the relay worker does not batch its lookups")
			}
			peer := func(i int) int { return i * 7 % 1000 }
			for _, sw := range []*stepWorker{plain, batched} {
				sw.load(peer)
				if n := sw.w.Step(); n != BatchSize {
					t.Fatalf("step received %d", n)
				}
			}
			if len(plain.s.tx) != BatchSize || len(batched.s.tx) != BatchSize {
				t.Fatalf("forwarded %d and %d of %d", len(plain.s.tx), len(batched.s.tx), BatchSize)
			}
			for i := range BatchSize {
				a, b := plain.s.tx[i], batched.s.tx[i]
				pa, pb := plain.s.bytes(a), batched.s.bytes(b)
				if !dir.decap {
					// Each relay worker starts its IPv4 IDs at random:
					// compare the rest (ID and header checksum aside).
					pa, pb = withoutIPv4ID(pa), withoutIPv4ID(pb)
				}
				if a.Len != b.Len || !bytes.Equal(pa, pb) {
					t.Fatalf("frame %d: % x\nbatched % x", i, pa, pb)
				}
			}
			if plain.w.Counters() != batched.w.Counters() {
				t.Fatalf("counters %+v, batched %+v", plain.w.Counters(), batched.w.Counters())
			}
			allocs := testing.AllocsPerRun(100, func() {
				batched.load(peer)
				batched.w.Step()
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per batched step", allocs)
			}
		})
	}
}

// withoutIPv4ID returns a copy of an Ethernet frame carrying IPv4 with the
// IPv4 ID and header checksum zeroed.
func withoutIPv4ID(frame []byte) []byte {
	f := bytes.Clone(frame)
	if len(f) >= ethLen+teredo.IPv4HeaderLen {
		clear(f[ethLen+4 : ethLen+6])
		clear(f[ethLen+10 : ethLen+12])
	}
	return f
}

// The benchmark's frames are what hosts send: every inner TCP checksum the
// harness writes is correct, and so is the outer UDP checksum encap derives
// from it (a frame left with a wrong or zero checksum would send encap
// down the full-sum path that real traffic does not take).
func TestStepFramesCarryCorrectChecksums(t *testing.T) {
	for _, dir := range stepDirections() {
		t.Run(dir.name, func(t *testing.T) {
			env := newStepEnvT(t, 1000)
			sw := newStepWorker(t, env, dir.decap, false)
			for round := range 3 {
				peer := func(i int) int { return (round*BatchSize + i) * 13 % 1000 }
				sw.load(peer)
				v6at := stepEncapV6
				if dir.decap {
					v6at = stepDecapV6
				}
				for i, a := range sw.descs {
					if !tcpChecksumOK(sw.s.umem[a+uint64(v6at):][:stepIPv6Len]) {
						t.Fatalf("round %d, frame %d: the harness wrote a wrong TCP checksum", round, i)
					}
				}
				sw.w.Step()
				if len(sw.s.tx) != BatchSize {
					t.Fatalf("forwarded %d of %d", len(sw.s.tx), BatchSize)
				}
				for i, d := range sw.s.tx {
					f := sw.s.bytes(d)
					if dir.decap {
						if !tcpChecksumOK(f[ethLen:]) {
							t.Fatalf("round %d, frame %d: decapsulated TCP checksum wrong", round, i)
						}
						continue
					}
					ip4 := f[ethLen:]
					src, dst := [4]byte(ip4[12:16]), [4]byte(ip4[16:20])
					udp := ip4[teredo.IPv4HeaderLen:]
					if binary.BigEndian.Uint16(udp[6:8]) == 0 || teredo.UDPChecksum(src, dst, udp) != 0 {
						t.Fatalf("round %d, frame %d: outer UDP checksum %#04x does not verify", round, i, binary.BigEndian.Uint16(udp[6:8]))
					}
					if !tcpChecksumOK(udp[teredo.UDPHeaderLen:]) {
						t.Fatalf("round %d, frame %d: encapsulated TCP checksum wrong", round, i)
					}
				}
			}
		})
	}
}

// tcpChecksumOK verifies the TCP checksum of an IPv6 packet without
// extension headers (RFC 8200 §8.1 pseudo-header: addresses, length, 6).
func tcpChecksumOK(v6 []byte) bool {
	seg := v6[teredo.IPv6HeaderLen : teredo.IPv6HeaderLen+teredo.PayloadLen(v6)]
	pseudo := uint32(^teredo.Checksum(v6[8:40], 0)) + uint32(len(seg)) + teredo.ProtoTCP
	return v6[6] == teredo.ProtoTCP && teredo.Checksum(seg, pseudo) == 0
}
