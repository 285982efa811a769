package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/teredorelay/teredorelay/bench/internal/benchbpf"
	"github.com/teredorelay/teredorelay/teredo"
)

// Kind is what a generated packet is; it travels in the probe record, so the
// sink counts each kind separately. Values are part of the probe format.
type Kind uint8

// Traffic kinds.
const (
	KindDecap     Kind = 0 // Teredo client → native host (legitimate)
	KindEncap     Kind = 1 // native host → Teredo client (legitimate)
	KindSpoofed   Kind = 2 // well-formed Teredo whose mapping is not the UDP source, or from a client that never did a handshake: must be dropped
	KindMalformed Kind = 3 // not a valid Teredo packet: must be dropped
	KindBubble    Kind = 4 // direct bubble from a known client: consumed by the relay
)

func (k Kind) String() string {
	switch k {
	case KindDecap:
		return "decap"
	case KindEncap:
		return "encap"
	case KindSpoofed:
		return "spoofed"
	case KindMalformed:
		return "malformed"
	case KindBubble:
		return "bubble"
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// Legit reports whether the relay must forward packets of kind k.
func (k Kind) Legit() bool { return k == KindDecap || k == KindEncap }

// DefaultIPv6Len is the size of the inner IPv6 packet of decap and encap
// traffic (reliability.md §4 reports 100-byte and 1280-byte packets).
const DefaultIPv6Len = 100

// Inner UDP ports of generated IPv6 packets.
const (
	innerSrcPort = 40000
	innerDstPort = 9 // discard
	ipv6HdrLen   = 40
	udpHdrLen    = 8
	ethHdrLen    = 14
	encapHdrLen  = 28 // IPv4 + UDP
	minIPv6Len   = ipv6HdrLen + udpHdrLen + benchbpf.ProbeLen
)

// Client is an emulated Teredo client: its NAT mapping and Teredo address.
type Client struct {
	Mapped netip.AddrPort
	Addr   netip.Addr
}

// Clients returns n clients of server with mappings in 203.0.113.0/24:
// addresses .1 to .250 in turn, port 20000 + index. The same n always gives
// the same clients.
func Clients(n int, server netip.Addr) []Client {
	cs := make([]Client, n)
	for i := range cs {
		mapped := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + i%250)}), uint16(20000+i))
		cs[i] = Client{Mapped: mapped, Addr: teredo.Addr{Server: server, Mapped: mapped}.IP()}
	}
	return cs
}

// NativeHost returns the i-th emulated native IPv6 host, 2001:db8:1::(i+1).
func NativeHost(i int) netip.Addr {
	b := netip.MustParseAddr("2001:db8:1::").As16()
	binary.BigEndian.PutUint16(b[14:], uint16(i+1))
	return netip.AddrFrom16(b)
}

// Endpoints are the addresses and link-layer addresses frames are built for.
type Endpoints struct {
	Relay  netip.AddrPort // the relay's Teredo address and port
	Server netip.Addr     // the clients' Teredo server
	// GenMAC → RelayV4MAC: the Teredo-side link; NativeMAC → RelayV6MAC: the native-side link.
	GenMAC, RelayV4MAC, RelayV6MAC, NativeMAC net.HardwareAddr
	// NativeHosts is how many native hosts traffic is spread over (default 16).
	NativeHosts int
}

// Traffic is what a Generator sends: a template frame (its length is the
// length of every frame) and the slots cycled over it. Slots marked
// Redirect leave through the generator's second (native-side) device.
type Traffic struct {
	Name  string
	Frame []byte
	Slots []benchbpf.GenSlot
	// Kinds counts slots per kind: with Generator statistics it gives the
	// packets sent of each kind.
	Kinds map[Kind]int
}

// writeFrame writes the frame with sequence number seq into b (at least
// len(t.Frame) bytes) exactly as the live-frames program writes it over the
// template: the template's bytes, the header of slot seq % len(Slots), and
// the probe record, a send timestamp when ts is not 0. It returns the slot's
// egress (egressTX or egressRedirect).
func (t *Traffic) writeFrame(b []byte, seq, ts uint64) uint16 {
	s := &t.Slots[seq%uint64(len(t.Slots))]
	copy(b[benchbpf.SlotHdr:len(t.Frame)], t.Frame[benchbpf.SlotHdr:])
	copy(b, s.Hdr[:])
	flags := s.Flags
	if ts != 0 {
		flags |= benchbpf.FlagProbe
	}
	p := b[s.ProbeOff : int(s.ProbeOff)+benchbpf.ProbeLen]
	binary.LittleEndian.PutUint32(p[0:4], benchbpf.Magic)
	binary.LittleEndian.PutUint32(p[4:8], flags)
	binary.LittleEndian.PutUint64(p[8:16], seq)
	binary.LittleEndian.PutUint64(p[16:24], ts)
	return s.Egress
}

// SentIn returns how many of the n frames with sequence numbers first,
// first+1, … were of kind k (slot seq % len(Slots) gives a frame's kind).
func (t *Traffic) SentIn(k Kind, first, n uint64) uint64 {
	ns := uint64(len(t.Slots))
	if ns == 0 || n == 0 {
		return 0
	}
	full, rest := n/ns, n%ns
	c := full * uint64(t.Kinds[k])
	for i := range rest {
		if Kind(t.Slots[(first+i)%ns].Flags>>benchbpf.KindShift) == k {
			c++
		}
	}
	return c
}

// Redirect reports whether any slot leaves through the second device.
func (t *Traffic) Redirect() bool {
	for i := range t.Slots {
		if t.Slots[i].Egress == egressRedirect {
			return true
		}
	}
	return false
}

const (
	egressTX       = 0 // GEN_EGRESS_TX
	egressRedirect = 1 // GEN_EGRESS_REDIRECT
)

func (t *Traffic) add(frame []byte, k Kind, probeOff int, egress uint16) {
	if t.Frame == nil {
		t.Frame = frame
	}
	var s benchbpf.GenSlot
	copy(s.Hdr[:], frame)
	s.Flags = uint32(k) << benchbpf.KindShift
	s.ProbeOff = uint16(probeOff)
	s.Egress = egress
	t.Slots = append(t.Slots, s)
	if t.Kinds == nil {
		t.Kinds = map[Kind]int{}
	}
	t.Kinds[k]++
}

func (t *Traffic) check() error {
	switch {
	case len(t.Slots) == 0:
		return errors.New("traffic has no slots")
	case len(t.Slots) > benchbpf.MaxSlots:
		return fmt.Errorf("traffic has %d slots, at most %d", len(t.Slots), benchbpf.MaxSlots)
	case len(t.Frame) < benchbpf.SlotHdr:
		return fmt.Errorf("frame of %d bytes, need at least %d", len(t.Frame), benchbpf.SlotHdr)
	}
	for i := range t.Slots {
		if off := int(t.Slots[i].ProbeOff); off+benchbpf.ProbeLen > len(t.Frame) || off > benchbpf.MaxProbeOff {
			return fmt.Errorf("slot %d: probe at %d does not fit a %d-byte frame", i, off, len(t.Frame))
		}
	}
	return nil
}

func (ep *Endpoints) hosts() int {
	if ep.NativeHosts <= 0 {
		return 16
	}
	return ep.NativeHosts
}

func putEth(b []byte, dst, src net.HardwareAddr, typ uint16) {
	copy(b[0:6], dst)
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:14], typ)
}

// putIPv6UDP writes an IPv6 header and a UDP header for an IPv6 packet of
// ipv6Len bytes, with a UDP checksum over the (zero) payload; the probe
// record written per packet later makes the checksum stale, which no hop on
// the path verifies.
func putIPv6UDP(b []byte, ipv6Len int, src, dst netip.Addr) {
	s, d := src.As16(), dst.As16()
	b[0], b[1], b[2], b[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(b[4:6], uint16(ipv6Len-ipv6HdrLen))
	b[6], b[7] = teredo.ProtoUDP, 64
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	u := b[ipv6HdrLen:ipv6Len]
	binary.BigEndian.PutUint16(u[0:2], innerSrcPort)
	binary.BigEndian.PutUint16(u[2:4], innerDstPort)
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	u[6], u[7] = 0, 0
	var sum uint32
	for i := 0; i < 16; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(s[i:])) + uint32(binary.BigEndian.Uint16(d[i:]))
	}
	sum += uint32(len(u)) + teredo.ProtoUDP
	for i := 0; i+1 < len(u); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(u[i:]))
	}
	if len(u)%2 == 1 {
		sum += uint32(u[len(u)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	c := ^uint16(sum)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:8], c)
}

// decapFrame builds Eth + IPv4/UDP from the client's mapping to the relay +
// IPv6/UDP from the client's Teredo address to dst.
func decapFrame(ep *Endpoints, from netip.AddrPort, src, dst netip.Addr, ipv6Len int, id uint16) []byte {
	b := make([]byte, ethHdrLen+encapHdrLen+ipv6Len)
	putEth(b, ep.RelayV4MAC, ep.GenMAC, 0x0800)
	teredo.PutIPv4UDP(b[ethHdrLen:], from, ep.Relay, ipv6Len, id, 64)
	putIPv6UDP(b[ethHdrLen+encapHdrLen:], ipv6Len, src, dst)
	return b
}

// Decap is Teredo traffic from every client, round robin, to the native hosts.
func Decap(ep Endpoints, clients []Client, ipv6Len int) (Traffic, error) {
	if ipv6Len == 0 {
		ipv6Len = DefaultIPv6Len
	}
	if ipv6Len < minIPv6Len || ipv6Len > 1400 || len(clients) == 0 {
		return Traffic{}, fmt.Errorf("decap traffic: %d clients, IPv6 length %d (want ≥ 1 client, %d–1400 bytes)", len(clients), ipv6Len, minIPv6Len)
	}
	t := Traffic{Name: "decap"}
	for i, c := range clients {
		t.add(legitFrame(&ep, c, i, ipv6Len), KindDecap, decapProbeOff, egressTX)
	}
	return t, t.check()
}

// Encap is native IPv6 traffic from the native hosts to every client's
// Teredo address, round robin.
func Encap(ep Endpoints, clients []Client, ipv6Len int) (Traffic, error) {
	if ipv6Len == 0 {
		ipv6Len = DefaultIPv6Len
	}
	if minLen := max(minIPv6Len, benchbpf.SlotHdr-ethHdrLen); ipv6Len < minLen || ipv6Len > 1400 || len(clients) == 0 {
		return Traffic{}, fmt.Errorf("encap traffic: %d clients, IPv6 length %d (want ≥ 1 client, %d–1400 bytes)", len(clients), ipv6Len, minLen)
	}
	t := Traffic{Name: "encap"}
	for i, c := range clients {
		t.add(encapFrame(&ep, c, i, ipv6Len), KindEncap, encapProbeOff, egressRedirect)
	}
	return t, t.check()
}

func encapFrame(ep *Endpoints, c Client, i, ipv6Len int) []byte {
	f := make([]byte, ethHdrLen+ipv6Len)
	putEth(f, ep.RelayV6MAC, ep.NativeMAC, 0x86DD)
	putIPv6UDP(f[ethHdrLen:], ipv6Len, NativeHost(i%ep.hosts()), c.Addr)
	return f
}

// Probe record offsets: after the inner UDP header.
const (
	decapProbeOff = ethHdrLen + encapHdrLen + ipv6HdrLen + udpHdrLen
	encapProbeOff = ethHdrLen + ipv6HdrLen + udpHdrLen
)

// Mixed interleaves decap traffic from every client (IPv6 packets of
// ipv6Len bytes) with encap traffic to every client: one frame each way in
// turn. All frames of a Traffic have one length, so the encap packets are 28
// bytes (the IPv4+UDP encapsulation) longer than the decap ones.
func Mixed(ep Endpoints, clients []Client, ipv6Len int) (Traffic, error) {
	if ipv6Len == 0 {
		ipv6Len = DefaultIPv6Len
	}
	if ipv6Len < minIPv6Len || ipv6Len+encapHdrLen > 1400 || len(clients) == 0 {
		return Traffic{}, fmt.Errorf("mixed traffic: %d clients, IPv6 length %d (want ≥ 1 client, %d–%d bytes)", len(clients), ipv6Len, minIPv6Len, 1400-encapHdrLen)
	}
	if 2*len(clients) > benchbpf.MaxSlots {
		return Traffic{}, fmt.Errorf("mixed traffic: %d clients, at most %d", len(clients), benchbpf.MaxSlots/2)
	}
	t := Traffic{Name: "mixed"}
	for i, c := range clients {
		t.add(legitFrame(&ep, c, i, ipv6Len), KindDecap, decapProbeOff, egressTX)
		t.add(encapFrame(&ep, c, i, ipv6Len+encapHdrLen), KindEncap, encapProbeOff, egressRedirect)
	}
	return t, t.check()
}

// bubbleFrameLen pads a bubble (82 bytes of Eth+IPv4+UDP+IPv6) with Ethernet
// trailer bytes past the IPv4 total length, room for the slot header and the
// probe record the generator writes (the relay must honour the IP length).
const bubbleFrameLen = benchbpf.SlotHdr + benchbpf.ProbeLen

// Bubbles are direct bubbles from every client (from its mapping, Teredo
// source, destination the relay's link-local nonce-less address fe80::1).
func Bubbles(ep Endpoints, clients []Client) (Traffic, error) {
	if len(clients) == 0 {
		return Traffic{}, errors.New("bubble traffic: no clients")
	}
	t := Traffic{Name: "bubbles"}
	dst := netip.MustParseAddr("fe80::1")
	for i, c := range clients {
		f := make([]byte, bubbleFrameLen)
		putEth(f, ep.RelayV4MAC, ep.GenMAC, 0x0800)
		teredo.PutIPv4UDP(f[ethHdrLen:], c.Mapped, ep.Relay, ipv6HdrLen, uint16(i), 64)
		teredo.PutBubble(f[ethHdrLen+encapHdrLen:], c.Addr, dst)
		t.add(f, KindBubble, benchbpf.SlotHdr, egressTX)
	}
	return t, t.check()
}

// Garbage is legitimate decap traffic from the clients mixed with ratio
// times as many bad packets (ratio ≥ 1): for every legitimate slot, ratio
// slots cycling through the malformed and spoofed variants below. All frames
// have the decap frame's length.
func Garbage(ep Endpoints, clients []Client, ipv6Len, ratio int) (Traffic, error) {
	if ipv6Len == 0 {
		ipv6Len = DefaultIPv6Len
	}
	if _, err := Decap(ep, clients, ipv6Len); err != nil {
		return Traffic{}, err
	}
	if ratio < 1 || len(clients)*(ratio+1) > benchbpf.MaxSlots {
		return Traffic{}, fmt.Errorf("garbage traffic: ratio %d with %d clients (at most %d slots)", ratio, len(clients), benchbpf.MaxSlots)
	}
	t := Traffic{Name: fmt.Sprintf("garbage%dx", ratio)}
	v := 0
	for i, c := range clients {
		t.add(legitFrame(&ep, c, i, ipv6Len), KindDecap, decapProbeOff, egressTX)
		for range ratio {
			f, k := garbageFrame(&ep, clients, i, v, ipv6Len)
			t.add(f, k, decapProbeOff, egressTX)
			v++
		}
	}
	return t, t.check()
}

func legitFrame(ep *Endpoints, c Client, i, ipv6Len int) []byte {
	return decapFrame(ep, c.Mapped, c.Addr, NativeHost(i%ep.hosts()), ipv6Len, uint16(i))
}

// GarbageVariants is the number of distinct bad packets garbageFrame cycles through.
const GarbageVariants = 6

// garbageFrame returns bad packet variant v%GarbageVariants near client i.
func garbageFrame(ep *Endpoints, clients []Client, i, v, ipv6Len int) ([]byte, Kind) {
	c := clients[i]
	dst := NativeHost(i % ep.hosts())
	inner := ethHdrLen + encapHdrLen
	switch v % GarbageVariants {
	case 0: // spoofed: Teredo source whose mapping is another client's, sent from this client's mapping
		other := clients[(i+1)%len(clients)]
		if len(clients) == 1 {
			other = Client{Addr: teredo.Addr{Server: ep.Server, Mapped: netip.AddrPortFrom(c.Mapped.Addr(), c.Mapped.Port()^0x5555)}.IP()}
		}
		return decapFrame(ep, c.Mapped, other.Addr, dst, ipv6Len, uint16(v)), KindSpoofed
	case 1: // spoofed: self-consistent mapping of a client that never did a handshake
		m := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, 251 + byte(v%4)}), uint16(1024+v%60000))
		src := teredo.Addr{Server: ep.Server, Mapped: m}.IP()
		return decapFrame(ep, m, src, dst, ipv6Len, uint16(v)), KindSpoofed
	case 2: // malformed: IPv6 version 4
		f := decapFrame(ep, c.Mapped, c.Addr, dst, ipv6Len, uint16(v))
		f[inner] = 0x40
		return f, KindMalformed
	case 3: // malformed: IPv6 payload length beyond the datagram
		f := decapFrame(ep, c.Mapped, c.Addr, dst, ipv6Len, uint16(v))
		binary.BigEndian.PutUint16(f[inner+4:], uint16(ipv6Len))
		return f, KindMalformed
	case 4: // malformed: truncated authentication header (indicator 00 01, lengths past the end)
		f := decapFrame(ep, c.Mapped, c.Addr, dst, ipv6Len, uint16(v))
		f[inner], f[inner+1], f[inner+2], f[inner+3] = 0, 1, 0xff, 0xff
		return f, KindMalformed
	default: // spoofed: non-Teredo IPv6 source (2001:db8::/32) from the client's mapping
		return decapFrame(ep, c.Mapped, NativeHost(1000+v%100), dst, ipv6Len, uint16(v)), KindSpoofed
	}
}
