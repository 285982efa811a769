//go:build linux

package xsk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/teredorelay/teredorelay/internal/netnsutil"
	"github.com/teredorelay/teredorelay/internal/testenv"
)

// Root tests: two network namespaces joined by veth pairs. "Our" namespace
// holds the AF_XDP sockets and a three-instruction redirect program; the peer
// namespace sends and receives plain UDP through the kernel stack. Names carry
// the tag "xk<pid>" and everything is deleted in t.Cleanup.

type vethPair struct {
	ourNS, peerNS   string
	ourIf, peerIf   string
	ourIndex        int
	ourMAC, peerMAC net.HardwareAddr
	ourIP, peerIP   netip.Addr
}

type vethEnv struct {
	ourNS, peerNS string
	pairs         []*vethPair
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// newVethEnv creates the namespaces and one veth pair per subnet (our side .1,
// peer side .2), with IPv6 off (no ND/MLD noise) and a permanent neighbour
// entry on the peer, since our side answers no ARP: the program redirects
// everything to the socket.
func newVethEnv(t *testing.T, subnets ...string) *vethEnv {
	t.Helper()
	testenv.RequireRoot(t)
	tag := fmt.Sprintf("xk%d", os.Getpid()%100000)
	env := &vethEnv{ourNS: tag + "-our", peerNS: tag + "-peer"}
	netnsutil.AddForTest(t, env.ourNS)
	netnsutil.AddForTest(t, env.peerNS)
	for i, subnet := range subnets {
		p := &vethPair{
			ourNS: env.ourNS, peerNS: env.peerNS,
			ourIf: fmt.Sprintf("%so%d", tag, i), peerIf: fmt.Sprintf("%sp%d", tag, i),
			ourIP:  netip.MustParseAddr(subnet + ".1"),
			peerIP: netip.MustParseAddr(subnet + ".2"),
		}
		ipCmd(t, "link", "add", p.ourIf, "netns", env.ourNS, "type", "veth", "peer", "name", p.peerIf, "netns", env.peerNS)
		for _, side := range []struct{ ns, ifn string }{{env.ourNS, p.ourIf}, {env.peerNS, p.peerIf}} {
			out, err := exec.Command("ip", "netns", "exec", side.ns, "sysctl", "-qw", "net.ipv6.conf."+side.ifn+".disable_ipv6=1").CombinedOutput()
			if err != nil {
				t.Fatalf("disable ipv6 on %s: %v: %s", side.ifn, err, out)
			}
		}
		ipCmd(t, "-n", env.ourNS, "addr", "add", p.ourIP.String()+"/24", "dev", p.ourIf)
		ipCmd(t, "-n", env.peerNS, "addr", "add", p.peerIP.String()+"/24", "dev", p.peerIf)
		ipCmd(t, "-n", env.ourNS, "link", "set", p.ourIf, "up")
		ipCmd(t, "-n", env.peerNS, "link", "set", p.peerIf, "up")
		inNetns(t, env.ourNS, func() {
			ifc, err := net.InterfaceByName(p.ourIf)
			if err != nil {
				t.Fatal(err)
			}
			p.ourIndex, p.ourMAC = ifc.Index, ifc.HardwareAddr
		})
		inNetns(t, env.peerNS, func() {
			ifc, err := net.InterfaceByName(p.peerIf)
			if err != nil {
				t.Fatal(err)
			}
			p.peerMAC = ifc.HardwareAddr
		})
		ipCmd(t, "-n", env.peerNS, "neigh", "replace", p.ourIP.String(), "lladdr", p.ourMAC.String(), "dev", p.peerIf, "nud", "permanent")
		env.pairs = append(env.pairs, p)
	}
	return env
}

// inNetns runs fn on a thread switched into the named namespace. Sockets and
// links created by fn stay in that namespace.
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("get netns: %v", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("netns %s: %v", name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("enter netns %s: %v", name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(fmt.Sprintf("cannot return to the original netns: %v", err)) // thread stays locked and dies
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// redirectProgram returns an XSKMAP and an XDP program that redirects every
// frame to XSKMAP[rx_queue_index] (XDP_PASS when the slot is empty), attached
// natively to ifindex inside ns.
func redirectProgram(t *testing.T, ns string, ifindex int) *ebpf.Map {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	if err != nil {
		t.Fatalf("xskmap: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.XDP,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 16, asm.Word), // ctx->rx_queue_index
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Imm(asm.R3, 2), // XDP_PASS when the slot is empty
			asm.FnRedirectMap.Call(),
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatalf("load redirect program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	inNetns(t, ns, func() {
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: link.XDPDriverMode})
		if err != nil {
			t.Fatalf("attach xdp: %v", err)
		}
		t.Cleanup(func() { l.Close() })
	})
	return m
}

func openIn(t *testing.T, ns string, ifindex, queue int, u *Umem, cfg SocketConfig) (s *Socket, err error) {
	t.Helper()
	inNetns(t, ns, func() { s, err = Open(ifindex, queue, u, cfg) })
	return s, err
}

func peerUDP(t *testing.T, p *vethPair, port int) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	inNetns(t, p.peerNS, func() {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: p.peerIP.AsSlice(), Port: port})
		if err != nil {
			t.Fatalf("peer udp: %v", err)
		}
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func sendTo(t *testing.T, c *net.UDPConn, ip netip.Addr, port int, payload []byte) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(payload, netip.AddrPortFrom(ip, uint16(port))); err != nil {
		t.Fatalf("peer send: %v", err)
	}
}

func readFrom(t *testing.T, c *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("peer receive: %v", err)
	}
	return buf[:n], from
}

// receiveUDP keeps the fill ring topped up and returns the first received
// IPv4/UDP frame to dstPort; other frames are freed.
func receiveUDP(t *testing.T, rx, filler *Socket, dstPort uint16) Desc {
	t.Helper()
	var descs [16]Desc
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		filler.Fill(int(filler.q.fill.size))
		if err := rx.Poll(50 * time.Millisecond); err != nil {
			t.Fatalf("poll: %v", err)
		}
		n := rx.Receive(descs[:])
		var found *Desc
		for i := range descs[:n] {
			buf, off := rx.Frame(descs[i])
			pkt := buf[off : off+int(descs[i].Len)]
			if found == nil && len(pkt) >= 42 && binary.BigEndian.Uint16(pkt[12:]) == 0x0800 &&
				pkt[23] == unix.IPPROTO_UDP && binary.BigEndian.Uint16(pkt[36:]) == dstPort {
				found = &descs[i]
				continue
			}
			rx.Free(descs[i])
		}
		if found != nil {
			return *found
		}
	}
	st, _ := rx.Stats()
	t.Fatalf("no UDP frame to port %d within 3s (stats %+v)", dstPort, st)
	return Desc{}
}

// completeAll reclaims completions until every transmitted frame is back.
func completeAll(t *testing.T, s *Socket) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		s.Complete()
		rs := s.RingStats()
		if rs.Completed >= rs.Transmitted {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("completions missing: %+v", rs)
		}
		time.Sleep(time.Millisecond)
	}
}

func putEth(b []byte, dst, src net.HardwareAddr) {
	copy(b[0:6], dst)
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
}

// putIPv4UDP writes a 20-byte IPv4 header (checksummed) and an 8-byte UDP
// header with checksum 0 (legal for IPv4) for payloadLen bytes of payload.
func putIPv4UDP(b []byte, src, dst netip.Addr, sport, dport uint16, payloadLen int) {
	h := b[:20]
	clear(h)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(28+payloadLen))
	h[8] = 64
	h[9] = unix.IPPROTO_UDP
	s4, d4 := src.As4(), dst.As4()
	copy(h[12:16], s4[:])
	copy(h[16:20], d4[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(h[10:], ^uint16(sum))
	u := b[20:28]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+payloadLen))
	binary.BigEndian.PutUint16(u[6:], 0)
}

const (
	ourPort  = 50000
	peerPort = 40000
)

// TestVethEchoEncapDecap receives IPv4/UDP sent from the peer namespace and
// transmits it back three ways: in place, encapsulated into the headroom (the
// descriptor starts 28 bytes before the received one) and decapsulated (the
// descriptor starts 42 bytes after it). It checks where the kernel puts a
// received packet in its chunk, that the headroom is untouched, that the
// bytes arrive at the peer, and that every chunk returns to the stack.
func TestVethEchoEncapDecap(t *testing.T) {
	env := newVethEnv(t, "192.0.2")
	p := env.pairs[0]
	xskmap := redirectProgram(t, env.ourNS, p.ourIndex)
	const headroom = 64
	u, err := NewUmem(UmemConfig{NumFrames: 64, FrameSize: 2048, Headroom: headroom, FillSize: 32, CompSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	for i := range u.area {
		u.area[i] = 0x5A
	}
	s, err := openIn(t, env.ourNS, p.ourIndex, 0, u, SocketConfig{RxSize: 32, TxSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	if s.ZeroCopy() {
		t.Fatal("veth reported zero-copy; it only supports copy mode")
	}
	if err := xskmap.Put(uint32(0), uint32(s.FD())); err != nil {
		t.Fatalf("xskmap put: %v", err)
	}
	s.Fill(32)
	conn := peerUDP(t, p, peerPort)

	// 1. In place: swap addresses and ports, same descriptor.
	payload := []byte("teredorelay xsk echo 1")
	sendTo(t, conn, p.ourIP, ourPort, payload)
	d := receiveUDP(t, s, s, ourPort)
	buf, off := s.Frame(d)
	if off != headroom+KernelHeadroom || off != u.RxOffset() {
		t.Fatalf("packet at offset %d in its chunk, want UMEM headroom %d + XDP_PACKET_HEADROOM %d", off, headroom, KernelHeadroom)
	}
	if d.Addr%2048 != uint64(off) {
		t.Fatalf("desc addr %#x is not chunk + %d", d.Addr, off)
	}
	if want := 14 + 28 + len(payload); int(d.Len) != want {
		t.Fatalf("len %d, want %d", d.Len, want)
	}
	if !bytes.Equal(buf[:off], bytes.Repeat([]byte{0x5A}, off)) {
		t.Fatal("the kernel wrote into the headroom in front of the packet")
	}
	pkt := buf[off : off+int(d.Len)]
	if !bytes.Equal(pkt[42:], payload) || !bytes.Equal(pkt[0:6], p.ourMAC) {
		t.Fatalf("received frame % x", pkt)
	}
	putEth(pkt, p.peerMAC, p.ourMAC)
	putIPv4UDP(pkt[14:], p.ourIP, p.peerIP, ourPort, peerPort, len(payload))
	if n := s.Transmit([]Desc{d}); n != 1 {
		t.Fatalf("Transmit = %d", n)
	}
	got, from := readFrom(t, conn)
	if !bytes.Equal(got, payload) || from != netip.AddrPortFrom(p.ourIP, ourPort) {
		t.Fatalf("peer got %q from %v", got, from)
	}
	completeAll(t, s)

	// 2. Encap: a new Ethernet+IPv4+UDP header 28 bytes before the received
	// frame; the original IPv4 packet becomes the UDP payload, unmoved.
	payload = []byte("teredorelay xsk encap 2")
	sendTo(t, conn, p.ourIP, ourPort, payload)
	d = receiveUDP(t, s, s, ourPort)
	buf, off = s.Frame(d)
	inner := bytes.Clone(buf[off+14 : off+int(d.Len)])
	enc := Desc{Addr: d.Addr - 28, Len: d.Len + 28}
	ebuf, eoff := s.Frame(enc)
	if eoff != off-28 {
		t.Fatalf("encap offset %d", eoff)
	}
	putEth(ebuf[eoff:], p.peerMAC, p.ourMAC)
	putIPv4UDP(ebuf[eoff+14:], p.ourIP, p.peerIP, ourPort+1, peerPort, len(inner))
	if n := s.Transmit([]Desc{enc}); n != 1 {
		t.Fatalf("Transmit encap = %d", n)
	}
	got, from = readFrom(t, conn)
	if !bytes.Equal(got, inner) || from.Port() != ourPort+1 {
		t.Fatalf("peer got % x from %v, want the original IPv4 packet % x", got, from, inner)
	}
	completeAll(t, s)

	// 3. Decap: the peer sends a whole Ethernet frame as UDP payload; we
	// transmit from 42 bytes into the received frame.
	innerPayload := []byte("teredorelay xsk decap 3")
	frame := make([]byte, 42+len(innerPayload))
	putEth(frame, p.peerMAC, p.ourMAC)
	putIPv4UDP(frame[14:], p.ourIP, p.peerIP, ourPort+2, peerPort, len(innerPayload))
	copy(frame[42:], innerPayload)
	sendTo(t, conn, p.ourIP, ourPort, frame)
	d = receiveUDP(t, s, s, ourPort)
	if n := s.Transmit([]Desc{{Addr: d.Addr + 42, Len: d.Len - 42}}); n != 1 {
		t.Fatalf("Transmit decap = %d", n)
	}
	got, from = readFrom(t, conn)
	if !bytes.Equal(got, innerPayload) || from.Port() != ourPort+2 {
		t.Fatalf("peer got %q from %v", got, from)
	}
	completeAll(t, s)

	// Every chunk is either free or on the fill ring, exactly once.
	rs := s.RingStats()
	inFill := int(rs.Filled - rs.Received)
	if u.FreeFrames()+inFill != u.NumFrames() {
		t.Fatalf("free %d + in fill ring %d != %d frames (stats %+v)", u.FreeFrames(), inFill, u.NumFrames(), rs)
	}
	seen := map[uint64]bool{}
	for _, a := range u.stack.addrs[:u.stack.n] {
		if a%2048 != 0 || seen[a] {
			t.Fatalf("frame stack holds %#x twice or unaligned", a)
		}
		seen[a] = true
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Ring.Transmitted != 3 || st.Ring.Completed != 3 || st.Ring.TxKicks == 0 || st.TxInvalidDescs != 0 || st.RxInvalidDescs != 0 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("copy mode on veth: packet at chunk+%d (UMEM headroom %d + XDP_PACKET_HEADROOM %d); stats %+v", off, headroom, KernelHeadroom, st)
}

// TestVethReopenAfterClose: Close releases the socket and its UMEM
// registration so the same queue can be bound again at once, by a new UMEM
// and by the same UMEM; a forced zero-copy bind on veth fails cleanly.
func TestVethReopenAfterClose(t *testing.T) {
	env := newVethEnv(t, "192.0.2")
	p := env.pairs[0]
	xskmap := redirectProgram(t, env.ourNS, p.ourIndex)
	conn := peerUDP(t, p, peerPort)

	u1, err := NewUmem(UmemConfig{NumFrames: 64, Headroom: 128, FillSize: 32, CompSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openIn(t, env.ourNS, p.ourIndex, 0, u1, SocketConfig{ForceZeroCopy: true}); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("forced zero-copy on veth: %v, want EOPNOTSUPP", err)
	}
	s1, err := openIn(t, env.ourNS, p.ourIndex, 0, u1, SocketConfig{RxSize: 32, TxSize: 32})
	if err != nil {
		t.Fatalf("open after a failed zero-copy open: %v", err)
	}
	if err := xskmap.Put(uint32(0), uint32(s1.FD())); err != nil {
		t.Fatal(err)
	}
	s1.Fill(32)
	sendTo(t, conn, p.ourIP, ourPort, []byte("one"))
	receiveUDP(t, s1, s1, ourPort) // kept, not freed: Close must still account for it
	if err := s1.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if u1.FreeFrames() != u1.NumFrames() {
		t.Fatalf("after the last close %d of %d frames are free", u1.FreeFrames(), u1.NumFrames())
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := s1.Stats(); !errors.Is(err, ErrClosed) {
		t.Fatalf("stats after close: %v", err)
	}
	if err := u1.Close(); err != nil {
		t.Fatal(err)
	}

	// A new UMEM (no headroom) on the same queue.
	u2, err := NewUmem(UmemConfig{NumFrames: 64, FillSize: 32, CompSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u2.Close() })
	for round := range 3 {
		s, err := openIn(t, env.ourNS, p.ourIndex, 0, u2, SocketConfig{RxSize: 32, TxSize: 32})
		if err != nil {
			t.Fatalf("re-open %d: %v", round, err)
		}
		if err := xskmap.Put(uint32(0), uint32(s.FD())); err != nil {
			t.Fatal(err)
		}
		s.Fill(32)
		msg := fmt.Appendf(nil, "round %d", round)
		sendTo(t, conn, p.ourIP, ourPort, msg)
		d := receiveUDP(t, s, s, ourPort)
		buf, off := s.Frame(d)
		if off != KernelHeadroom {
			t.Fatalf("without UMEM headroom the packet is at chunk+%d, want %d", off, KernelHeadroom)
		}
		if !bytes.Equal(buf[off+42:off+int(d.Len)], msg) {
			t.Fatalf("round %d: payload % x", round, buf[off+42:off+int(d.Len)])
		}
		s.Free(d)
		if err := s.Close(); err != nil {
			t.Fatalf("close %d: %v", round, err)
		}
	}
}

// TestVethSharedUmem shares one UMEM between a socket on each of two veth
// devices (each gets its own fill/completion rings) and a second socket on
// the first device's queue (sharing that queue's rings). A frame received on
// one device is transmitted on the other without a copy.
func TestVethSharedUmem(t *testing.T) {
	env := newVethEnv(t, "192.0.2", "198.51.100")
	p1, p2 := env.pairs[0], env.pairs[1]
	xskmap := redirectProgram(t, env.ourNS, p1.ourIndex)
	u, err := NewUmem(UmemConfig{NumFrames: 128, FillSize: 32, CompSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	cfg := SocketConfig{RxSize: 32, TxSize: 32}
	s1, err := openIn(t, env.ourNS, p1.ourIndex, 0, u, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := openIn(t, env.ourNS, p2.ourIndex, 0, u, cfg)
	if err != nil {
		t.Fatalf("shared umem on a second device: %v", err)
	}
	s3, err := openIn(t, env.ourNS, p1.ourIndex, 0, u, cfg)
	if err != nil {
		t.Fatalf("shared umem on the same queue: %v", err)
	}
	if s2.q == s1.q || s3.q != s1.q || len(u.queues) != 2 {
		t.Fatalf("ring pairs: s1 %p s2 %p s3 %p, %d queues", s1.q, s2.q, s3.q, len(u.queues))
	}
	if err := xskmap.Put(uint32(0), uint32(s1.FD())); err != nil {
		t.Fatal(err)
	}
	s1.Fill(32)
	c1 := peerUDP(t, p1, peerPort)
	c2 := peerUDP(t, p2, peerPort+1)

	// Device 1 -> device 2: rewrite in place, transmit on s2.
	payload := []byte("cross-device")
	sendTo(t, c1, p1.ourIP, ourPort, payload)
	d := receiveUDP(t, s1, s1, ourPort)
	buf, off := s1.Frame(d)
	putEth(buf[off:], p2.peerMAC, p2.ourMAC)
	putIPv4UDP(buf[off+14:], p2.ourIP, p2.peerIP, ourPort, peerPort+1, len(payload))
	if n := s2.Transmit([]Desc{d}); n != 1 {
		t.Fatalf("transmit on s2 = %d", n)
	}
	got, _ := readFrom(t, c2)
	if !bytes.Equal(got, payload) {
		t.Fatalf("peer on device 2 got %q", got)
	}
	completeAll(t, s2)

	// Same queue, second socket: packets now go to s3, filled through s1's
	// (shared) fill ring, echoed on s3.
	if err := xskmap.Put(uint32(0), uint32(s3.FD())); err != nil {
		t.Fatal(err)
	}
	payload = []byte("same-queue share")
	sendTo(t, c1, p1.ourIP, ourPort, payload)
	d = receiveUDP(t, s3, s1, ourPort)
	buf, off = s3.Frame(d)
	putEth(buf[off:], p1.peerMAC, p1.ourMAC)
	putIPv4UDP(buf[off+14:], p1.ourIP, p1.peerIP, ourPort, peerPort, len(payload))
	if n := s3.Transmit([]Desc{d}); n != 1 {
		t.Fatalf("transmit on s3 = %d", n)
	}
	if got, _ = readFrom(t, c1); !bytes.Equal(got, payload) {
		t.Fatalf("peer on device 1 got %q", got)
	}
	completeAll(t, s3)

	// Closing the queue's first socket keeps the shared rings for s3.
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if len(u.queues) != 2 || s3.q.refs != 1 {
		t.Fatalf("after closing s1: %d queues, refs %d", len(u.queues), s3.q.refs)
	}
	sendTo(t, c1, p1.ourIP, ourPort, []byte("after s1 closed"))
	d = receiveUDP(t, s3, s3, ourPort)
	s3.Free(d)
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestVethOversizeDropped: a packet longer than FrameSize-RxOffset does not
// fit its chunk; the kernel drops it and counts it in RxDropped.
func TestVethOversizeDropped(t *testing.T) {
	env := newVethEnv(t, "192.0.2")
	p := env.pairs[0]
	xskmap := redirectProgram(t, env.ourNS, p.ourIndex)
	conn := peerUDP(t, p, peerPort)
	u, err := NewUmem(UmemConfig{NumFrames: 64, FrameSize: 2048, Headroom: 1024, FillSize: 32, CompSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	s, err := openIn(t, env.ourNS, p.ourIndex, 0, u, SocketConfig{RxSize: 32, TxSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	if err := xskmap.Put(uint32(0), uint32(s.FD())); err != nil {
		t.Fatal(err)
	}
	s.Fill(32)
	room := u.FrameSize() - u.RxOffset() // 768
	sendTo(t, conn, p.ourIP, ourPort, make([]byte, room-42+1))
	sendTo(t, conn, p.ourIP, ourPort, make([]byte, room-42))
	d := receiveUDP(t, s, s, ourPort)
	if int(d.Len) != room {
		t.Fatalf("received a %d-byte frame, want the one of exactly %d bytes", d.Len, room)
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.RxDropped != 1 || st.Ring.Received != 1 {
		t.Fatalf("stats %+v: want the oversize frame dropped and counted", st)
	}
}
