package dataplane

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/teredorelay/teredorelay/nexthop"
	"github.com/teredorelay/teredorelay/relay"
	"github.com/teredorelay/teredorelay/xsk"
)

// Where a chunk of a ledger UMEM is.
const (
	chunkKernel = iota // free: the frame stack, the fill ring or the driver
	chunkApp           // received or allocated: the worker owns it
	chunkTx            // on a TX ring until completed
)

// ledger is a UMEM that knows where each chunk is; the sockets over it fail
// the test on any transfer from the wrong place (double free, transmit of a
// frame the worker does not own).
type ledger struct {
	t     *testing.T
	name  string
	umem  []byte
	state []int
}

func newLedger(t *testing.T, name string, frames int) *ledger {
	return &ledger{t: t, name: name, umem: make([]byte, frames*frameSize), state: make([]int, frames)}
}

func (l *ledger) chunk(addr uint64) int { return int(addr / frameSize) }

func (l *ledger) move(addr uint64, from, to int, op string) {
	l.t.Helper()
	c := l.chunk(addr)
	if c >= len(l.state) {
		l.t.Fatalf("%s %s: address %#x outside the UMEM", l.name, op, addr)
	}
	if l.state[c] != from {
		l.t.Fatalf("%s %s: chunk %d is in state %d, want %d", l.name, op, c, l.state[c], from)
	}
	l.state[c] = to
}

// take returns a free chunk (for delivery or Alloc), or false.
func (l *ledger) take() (int, bool) {
	for c, st := range l.state {
		if st == chunkKernel {
			l.state[c] = chunkApp
			return c, true
		}
	}
	return 0, false
}

func (l *ledger) count(state int) int {
	n := 0
	for _, st := range l.state {
		if st == state {
			n++
		}
	}
	return n
}

// completeAll is the kernel finishing every transmission.
func (l *ledger) completeAll() {
	for c, st := range l.state {
		if st == chunkTx {
			l.state[c] = chunkKernel
		}
	}
}

// ledgerSocket is a Socket over a ledger: Receive hands out what the test
// queued with deliver, Transmit takes at most txLimit per call.
type ledgerSocket struct {
	l       *ledger
	rx      []xsk.Desc
	txLimit int
	sent    int
}

func (s *ledgerSocket) Fill(int) int { return 0 }
func (s *ledgerSocket) FD() int      { return -1 }
func (s *ledgerSocket) Complete() int {
	return 0 // the test completes between steps (ledger.completeAll)
}

func (s *ledgerSocket) Receive(d []xsk.Desc) int {
	n := copy(d, s.rx)
	s.rx = s.rx[n:]
	return n
}

func (s *ledgerSocket) Transmit(d []xsk.Desc) int {
	n := min(len(d), s.txLimit)
	for _, x := range d[:n] {
		buf, off := s.Frame(x)
		if buf == nil || x.Len == 0 || off+int(x.Len) > len(buf) {
			s.l.t.Fatalf("%s: transmit of an invalid descriptor %+v", s.l.name, x)
		}
		s.l.move(x.Addr, chunkApp, chunkTx, "transmit")
	}
	s.sent += n
	return n
}

func (s *ledgerSocket) Free(d xsk.Desc) { s.l.move(d.Addr, chunkApp, chunkKernel, "free") }

func (s *ledgerSocket) Frame(d xsk.Desc) ([]byte, int) {
	chunk := d.Addr &^ (frameSize - 1)
	if chunk+frameSize > uint64(len(s.l.umem)) {
		return nil, 0
	}
	return s.l.umem[chunk : chunk+frameSize : chunk+frameSize], int(d.Addr - chunk)
}

func (s *ledgerSocket) alloc() (xsk.Desc, bool) {
	c, ok := s.l.take()
	if !ok {
		return xsk.Desc{}, false
	}
	return xsk.Desc{Addr: uint64(c*frameSize + rxOffset)}, true
}

// deliver writes frame into a free chunk at offset off and queues it for
// Receive; Len may be forced past the chunk's end (a corrupt descriptor).
func (s *ledgerSocket) deliver(frame []byte, off int, overrun bool) bool {
	c, ok := s.l.take()
	if !ok {
		return false
	}
	s.l.state[c] = chunkApp // from now on the worker owns it (it will Receive it)
	base := c * frameSize
	n := copy(s.l.umem[base+off:base+frameSize], frame)
	d := xsk.Desc{Addr: uint64(base + off), Len: uint32(n)}
	if overrun {
		d.Len = uint32(frameSize - off + 1)
	}
	s.rx = append(s.rx, d)
	return true
}

// scriptedRelay takes its verdict from the packet: the second byte of the
// IPv4 header (TOS) for Decap, the second byte of the IPv6 header for Encap.
type scriptedRelay struct{ notForwarded int }

var scriptedVerdicts = [4]relay.Verdict{relay.ToIPv6, relay.ToIPv4, relay.Drop, relay.SlowPath}

func (r *scriptedRelay) Decap(buf []byte, off, n int) (relay.Verdict, int, int) {
	if n < 28+40 {
		r.notForwarded++
		return relay.Drop, 0, 0
	}
	switch v := scriptedVerdicts[buf[off+1]%4]; v {
	case relay.ToIPv6:
		return v, off + 28, n - 28
	case relay.ToIPv4: // hairpin to another Teredo client: the IPv4 packet as is
		return v, off, n
	default:
		r.notForwarded++
		return v, 0, 0
	}
}

func (r *scriptedRelay) Encap(buf []byte, off, n int) (relay.Verdict, int, int) {
	if n < 40 {
		r.notForwarded++
		return relay.Drop, 0, 0
	}
	switch v := scriptedVerdicts[buf[off+1]%4]; v {
	case relay.ToIPv4:
		if off < 28 {
			r.notForwarded++ // the engine's no_headroom drop
			return relay.Drop, 0, 0
		}
		h := buf[off-28 : off-8]
		clear(h)
		h[0] = 0x45
		copy(h[16:20], buf[off+8+12:off+8+16]) // IPv4 destination from the source's low bits
		return v, off - 28, n + 28
	case relay.ToIPv6:
		return v, off, n
	default:
		r.notForwarded++
		return v, 0, 0
	}
}

// flakyKernel fails every failEvery-th packet (never when 0).
type flakyKernel struct {
	calls, failEvery int
}

var errFlaky = errors.New("flaky kernel path")

func (k *flakyKernel) send() error {
	k.calls++
	if k.failEvery > 0 && k.calls%k.failEvery == 0 {
		return errFlaky
	}
	return nil
}
func (k *flakyKernel) SendIPv4([]byte) error { return k.send() }
func (k *flakyKernel) SendIPv6([]byte) error { return k.send() }

// conservationHops is hops() plus IPv4 outcomes: 198.51.100.0/24 on-link on
// ifA without neighbours (unresolved), 192.0.2.128/25 unreachable, and
// 203.0.113.128/25 through link 9 (no port).
func conservationHops(ports ...int32) *nexthop.Table {
	st := nexthop.NewState()
	st.SetLink(nexthop.Link{Index: ifA, Name: "a", MAC: macPortA, Up: true})
	st.SetLink(nexthop.Link{Index: ifB, Name: "b", MAC: macPortB, Up: true})
	st.SetLink(nexthop.Link{Index: 4, Name: "a.100", MAC: macVLAN, Up: true, VLANParent: ifA, VLANID: 100})
	st.SetLink(nexthop.Link{Index: 9, Name: "other", Up: true})
	route := func(p, via string, link int32) {
		r := nexthop.Route{Dst: netip.MustParsePrefix(p)}
		g := nexthop.Gateway{LinkIndex: link}
		if via != "" {
			g.Via = netip.MustParseAddr(via)
		}
		r.Hops = []nexthop.Gateway{g}
		st.SetRoute(r)
	}
	route("::/0", "fe80::1", ifB)
	route("2001:db8:1::/48", "fe80::1", ifA)
	route("2001:db8:9::/48", "", ifA)
	route("2001:db8:5::/48", "", 9)
	st.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("2001:db8:dead::/48"), Reject: true})
	route("0.0.0.0/0", "192.0.2.254", ifA)
	route("203.0.113.0/25", "192.0.2.253", 4)
	route("203.0.113.128/25", "", 9)
	route("198.51.100.0/24", "", ifA)
	st.SetRoute(nexthop.Route{Dst: netip.MustParsePrefix("192.0.2.128/25"), Reject: true})
	for _, n := range []struct {
		link int32
		ip   string
		mac  [6]byte
	}{{ifB, "fe80::1", macGW}, {ifA, "fe80::1", macGW}, {ifA, "192.0.2.254", macGW}, {4, "192.0.2.253", macPeer}} {
		st.SetNeighbour(nexthop.Neighbour{LinkIndex: n.link, IP: netip.MustParseAddr(n.ip), MAC: n.mac, Usable: true})
	}
	return nexthop.NewStatic(st.Build(ports, 1))
}

var (
	conservationV6Dsts = []string{"2001:db8:1::5", "2a00::1", "2001:db8:9::7", "2001:db8:5::1", "2001:db8:dead::1"}
	conservationV4Dsts = [][4]byte{{203, 0, 113, 9}, {192, 0, 2, 77}, {198, 51, 100, 7}, {192, 0, 2, 200}, {203, 0, 113, 200}}
)

// conservationFrame builds frame kind k (IPv4 with 0-3 VLAN tags, IPv6, ARP,
// runt) with the relay verdict v and destination choice dst.
func conservationFrame(k, v, dst byte) []byte {
	d6 := netip.MustParseAddr(conservationV6Dsts[int(dst)%len(conservationV6Dsts)])
	d4 := conservationV4Dsts[int(dst)%len(conservationV4Dsts)]
	switch k % 7 {
	case 0, 1, 2, 3: // IPv4 with k tags
		f := ipv4Frame(0, d6)
		var tags []byte
		for i := range int(k % 4) {
			tpid := []byte{0x81, 0}
			if i == 0 && k%2 == 0 {
				tpid = []byte{0x88, 0xa8}
			}
			tags = append(append(tags, tpid...), 0, byte(10+i))
		}
		out := append(append(append([]byte{}, f[:12]...), tags...), f[12:]...)
		l3 := 14 + len(tags)
		out[l3+1] = v
		copy(out[l3+16:l3+20], d4[:]) // hairpin destination
		return out
	case 4: // IPv6
		f := ipv6Frame(d6)
		f[14+1] = v
		copy(f[14+8+12:14+8+16], d4[:]) // encap destination
		return f
	case 5:
		return append(append(append([]byte{}, macPortA[:]...), macPeer[:]...), 0x08, 0x06, 0, 1)
	default:
		return make([]byte, 9)
	}
}

// FuzzWorkerFrameConservation drives a worker over ledger sockets (one-armed,
// two-armed sharing a UMEM, two-armed with separate UMEMs and a small egress
// UMEM, two-armed without an IPv6 socket) with arbitrary frames, verdicts,
// next-hop outcomes, TX ring room and kernel-path failures, and checks after
// every Step that the worker holds no frame (each received frame was
// transmitted or freed exactly once: the ledger fails on a double free) and
// that the counters add up: every received frame is counted once, and
// forwarded = transmitted + tx_ring_full.
func FuzzWorkerFrameConservation(f *testing.F) {
	f.Add(byte(0), byte(1), []byte{0, 0, 0, 1, 4, 1, 0, 2, 4, 0, 1, 3, 2, 0, 0, 5, 6, 0, 0})
	f.Add(byte(1), byte(2), []byte{0, 0, 1, 4, 1, 1, 2, 0, 3, 4, 3, 2, 0, 1, 4, 3, 0, 1, 0, 0, 0})
	f.Add(byte(2), byte(0), []byte{0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 4, 0, 1, 4, 1, 0, 1, 0, 2})
	f.Add(byte(3), byte(3), []byte{4, 1, 1, 0, 0, 1, 4, 3, 2, 0, 0, 4, 0, 1, 1, 0, 0, 0, 1})
	f.Add(byte(1), byte(1), []byte{0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1})
	f.Fuzz(func(t *testing.T, topo, knobs byte, script []byte) {
		const frames = 24
		la := newLedger(t, "a", frames)
		a := &ledgerSocket{l: la, txLimit: BatchSize}
		kernel := &flakyKernel{failEvery: int(knobs>>4) % 4}
		r := &scriptedRelay{}
		var b *ledgerSocket
		ports := []Port{{Name: "a", Socket: a, UMEM: la, Receive: true}}
		table := conservationHops(ifA)
		switch topo % 4 {
		case 1: // two-armed, shared UMEM
			b = &ledgerSocket{l: la, txLimit: BatchSize}
			ports = append(ports, Port{Name: "b", Socket: b, UMEM: la, Receive: true})
		case 2: // two-armed, separate UMEMs; the IPv6 side's is small
			b = &ledgerSocket{l: newLedger(t, "b", 3), txLimit: BatchSize}
			ports = append(ports, Port{Name: "b", Socket: b, UMEM: b.l, Receive: true, Alloc: b.alloc})
		case 3: // two-armed, no socket on the IPv6 side for this queue
			ports = append(ports, Port{Name: "b"})
		}
		if len(ports) == 2 {
			table = conservationHops(ifA, ifB)
		}
		w, err := NewWorker(WorkerConfig{Ports: ports, Relay: r, Hops: table, Kernel: kernel, CPU: -1})
		if err != nil {
			t.Fatal(err)
		}
		received := 0
		check := func(step int) {
			t.Helper()
			for _, s := range []*ledgerSocket{a, b} {
				if s == nil {
					continue
				}
				if len(s.rx) != 0 {
					t.Fatalf("step %d: %d frames left on RX", step, len(s.rx))
				}
				if n := s.l.count(chunkApp); n != 0 {
					t.Fatalf("step %d: UMEM %s: the worker still holds %d chunks after Step (leaked)", step, s.l.name, n)
				}
			}
			c := w.Counters()
			rx := c.RxFrames[0] + c.RxFrames[1]
			if rx != uint64(received) {
				t.Fatalf("step %d: RxFrames %v, delivered %d", step, c.RxFrames, received)
			}
			outcomes := uint64(r.notForwarded)
			for reason, n := range c.Events {
				if Reason(reason) != DropTxRingFull {
					outcomes += n
				}
			}
			if outcomes != rx {
				t.Fatalf("step %d: %d outcomes for %d received frames: %+v, relay %d", step, outcomes, rx, c.Events, r.notForwarded)
			}
			fwd := c.Events[ForwardedZeroCopy] + c.Events[ForwardedCopied]
			if tx := c.TxFrames[0] + c.TxFrames[1]; tx+c.Events[DropTxRingFull] != fwd {
				t.Fatalf("step %d: forwarded %d, transmitted %d, tx_ring_full %d", step, fwd, tx, c.Events[DropTxRingFull])
			}
			sent := a.sent
			if b != nil {
				sent += b.sent
			}
			if uint64(sent) != c.TxFrames[0]+c.TxFrames[1] {
				t.Fatalf("step %d: sockets took %d, TxFrames %v", step, sent, c.TxFrames)
			}
		}
		// The script: triples (kind, verdict, destination), with a Step
		// after every fourth frame and after the last one.
		for i, step := 0, 0; i+2 < len(script) || i == 0; i += 3 {
			if i+2 < len(script) {
				k, v, dst := script[i], script[i+1], script[i+2]
				in := a
				if b != nil && topo%4 != 3 && k%7 == 4 && dst%2 == 1 {
					in = b // IPv6 arriving on the native side
				}
				off := rxOffset
				if v&0x80 != 0 {
					off = 30 // no room for an encap in front
				}
				if in.deliver(conservationFrame(k, v, dst), off, v&0x40 != 0 && v&0x20 != 0) {
					received++
				}
			}
			if i%12 == 9 || i+5 >= len(script) {
				a.txLimit = int(knobs>>(step%4)) % (BatchSize + 1)
				if b != nil {
					b.txLimit = int(knobs>>((step+1)%4)) % 3
				}
				w.Step()
				step++
				check(step)
				if knobs&(1<<(step%8)) != 0 {
					la.completeAll()
					if b != nil {
						b.l.completeAll()
					}
				}
			}
			if len(script) < 3 {
				break
			}
		}
	})
}
