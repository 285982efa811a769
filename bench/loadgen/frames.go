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

// MaxPeers is the number of distinct emulated clients ClientAt can name
// (ports 20000 to 65535 on 250 addresses).
const MaxPeers = (65535 - benchbpf.PeerPort0 + 1) * benchbpf.PeerAddrs

// ClientAt returns emulated client p of server (0 ≤ p < MaxPeers): mapping
// 203.0.113.(1 + p%250):(20000 + p/250), the formula the generator program
// uses to vary a slot's peer (bench.h).
func ClientAt(p int, server netip.Addr) Client {
	mapped := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, benchbpf.PeerNetHi, byte(1 + p%benchbpf.PeerAddrs)}),
		uint16(benchbpf.PeerPort0+p/benchbpf.PeerAddrs))
	return Client{Mapped: mapped, Addr: teredo.Addr{Server: server, Mapped: mapped}.IP()}
}

// Clients returns clients 0 … n-1 of server (ClientAt).
func Clients(n int, server netip.Addr) []Client {
	cs := make([]Client, n)
	for i := range cs {
		cs[i] = ClientAt(i, server)
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
// Frame seq uses slot seq % len(Slots); a varying slot (Vary) is rewritten
// for peer Slot.Peer + (seq / len(Slots)) % Peers.
type Traffic struct {
	Name  string
	Frame []byte
	Slots []benchbpf.GenSlot
	// Kinds counts slots per kind: with Generator statistics it gives the
	// packets sent of each kind.
	Kinds map[Kind]int
	// Peers is how many peers a varying slot cycles over (1: no variation).
	Peers int
	// Hosts is the number of native hosts (Endpoints.NativeHosts).
	Hosts int
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
	_, peer := t.PeerOf(seq)
	if s.Vary != benchbpf.VaryNone {
		hosts := uint32(max(t.Hosts, 1))
		switch s.Vary {
		case benchbpf.VaryDecap:
			varyDecap(b, peer, hosts)
		case benchbpf.VaryEncap:
			varyEncap(b, peer, hosts)
		}
	}
	flags := s.Flags
	if ts != 0 {
		flags |= benchbpf.FlagProbe
	}
	p := b[s.ProbeOff : int(s.ProbeOff)+benchbpf.ProbeLen]
	binary.LittleEndian.PutUint32(p[0:4], benchbpf.Magic)
	binary.LittleEndian.PutUint32(p[4:8], flags)
	binary.LittleEndian.PutUint64(p[8:16], seq)
	binary.LittleEndian.PutUint64(p[16:24], ts)
	binary.LittleEndian.PutUint32(p[24:28], peer)
	binary.LittleEndian.PutUint32(p[28:32], 0)
	if s.CsumOff != 0 {
		// The template's payload under the probe record is zero.
		var acc uint32
		for i := 0; i < len(p); i += 2 {
			acc += uint32(binary.BigEndian.Uint16(p[i:]))
		}
		csumFix(b[s.CsumOff:], acc, true)
	}
	return s.Egress
}

// PeerOf returns the kind of frame seq and the peer it belongs to.
func (t *Traffic) PeerOf(seq uint64) (Kind, uint32) {
	ns := uint64(len(t.Slots))
	s := &t.Slots[seq%ns]
	peer := s.Peer
	if s.Vary != benchbpf.VaryNone {
		peer += uint32((seq / ns) % uint64(max(t.Peers, 1)))
	}
	return Kind(s.Flags >> benchbpf.KindShift), peer
}

// peerWords returns the last two bytes of peer p's mapped IPv4 address and
// its mapped port (ClientAt).
func peerWords(p uint32) (lo, port uint16) {
	return benchbpf.PeerNetHi<<8 | uint16(1+p%benchbpf.PeerAddrs), uint16(benchbpf.PeerPort0 + p/benchbpf.PeerAddrs)
}

// varyDecap rewrites a decap frame (Ethernet, IPv4 without options, UDP,
// IPv6) for peer p, as gen.c's vary_decap does.
func varyDecap(b []byte, p, hosts uint32) {
	lo, port := peerWords(p)
	csumFix(b[benchbpf.DecapIP4Csum:], put16(b[benchbpf.DecapIP4SrcLo:], lo, 0), false)
	binary.BigEndian.PutUint16(b[benchbpf.DecapUDPSport:], port) // outer UDP checksum 0: nothing to fix
	acc := put16(b[benchbpf.DecapV6SrcPort:], ^port, 0)
	acc = put16(b[benchbpf.DecapV6SrcAddrLo:], ^lo, acc)
	acc = put16(b[benchbpf.DecapV6DstLo:], uint16(1+p%hosts), acc)
	csumFix(b[benchbpf.DecapUDPCsum:], acc, true)
}

// varyEncap rewrites an encap frame (Ethernet, IPv6) for peer p, as gen.c's
// vary_encap does.
func varyEncap(b []byte, p, hosts uint32) {
	lo, port := peerWords(p)
	acc := put16(b[benchbpf.EncapV6SrcLo:], uint16(1+p%hosts), 0)
	acc = put16(b[benchbpf.EncapV6DstPort:], ^port, acc)
	acc = put16(b[benchbpf.EncapV6DstAddrLo:], ^lo, acc)
	csumFix(b[benchbpf.EncapUDPCsum:], acc, true)
}

// put16 stores v at b[0:2] and returns acc plus the one's-complement
// difference (RFC 1624: ~old + new).
func put16(b []byte, v uint16, acc uint32) uint32 {
	old := binary.BigEndian.Uint16(b)
	binary.BigEndian.PutUint16(b, v)
	return acc + uint32(^old) + uint32(v)
}

// csumFix applies accumulated differences to the checksum at b[0:2] (RFC
// 1624 eq. 3: HC' = ~(~HC + Σ(~m + m'))); a UDP checksum of 0 is sent as
// 0xffff.
func csumFix(b []byte, acc uint32, udp bool) {
	sum := uint32(^binary.BigEndian.Uint16(b)) + acc
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	v := ^uint16(sum)
	if udp && v == 0 {
		v = 0xffff
	}
	binary.BigEndian.PutUint16(b, v)
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

// slotSpec is what a slot says besides its header.
type slotSpec struct {
	kind     Kind
	probeOff int
	egress   uint16
	peer     int
	vary     uint16
	csumOff  int // 0: the probe record is not covered by a checksum
}

func (t *Traffic) add(frame []byte, sp slotSpec) {
	if t.Frame == nil {
		t.Frame = frame
	}
	k := sp.kind
	var s benchbpf.GenSlot
	copy(s.Hdr[:], frame)
	s.Flags = uint32(k) << benchbpf.KindShift
	s.ProbeOff = uint16(sp.probeOff)
	s.Egress = sp.egress
	s.Peer = uint32(sp.peer)
	s.Vary = sp.vary
	s.CsumOff = uint16(sp.csumOff)
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
	if t.Peers < 1 || t.Hosts < 1 {
		return fmt.Errorf("traffic over %d peers and %d native hosts (want ≥ 1 each)", t.Peers, t.Hosts)
	}
	// gen.c clears the probe-sized area after the slot header (where another
	// slot's probe may have spilled on a reused page): the template must be
	// zero there, and long enough for a probe spilling there to be cleared.
	spill := t.Frame[benchbpf.SlotHdr:min(len(t.Frame), benchbpf.SlotHdr+benchbpf.ProbeLen)]
	for _, b := range spill {
		if b != 0 {
			return errors.New("template frame is not zero after the slot header")
		}
	}
	// Slots with one probe offset overwrite each other's probes whole; with
	// several, a probe past the header must lie where gen.c clears.
	for i := range t.Slots {
		s := &t.Slots[i]
		if s.ProbeOff != t.Slots[0].ProbeOff && len(t.Frame) < benchbpf.SlotHdr+benchbpf.ProbeLen &&
			max(int(s.ProbeOff), int(t.Slots[0].ProbeOff))+benchbpf.ProbeLen > benchbpf.SlotHdr {
			return fmt.Errorf("slot %d: probes at %d and %d in a %d-byte frame: one spills past the slot header where the other does not clear it (frames need %d bytes)",
				i, s.ProbeOff, t.Slots[0].ProbeOff, len(t.Frame), benchbpf.SlotHdr+benchbpf.ProbeLen)
		}
	}
	for i := range t.Slots {
		s := &t.Slots[i]
		if off := int(s.ProbeOff); off+benchbpf.ProbeLen > len(t.Frame) || off > benchbpf.MaxProbeOff {
			return fmt.Errorf("slot %d: probe at %d does not fit a %d-byte frame", i, off, len(t.Frame))
		}
		if s.CsumOff != 0 && s.CsumOff != benchbpf.DecapUDPCsum && s.CsumOff != benchbpf.EncapUDPCsum {
			return fmt.Errorf("slot %d: checksum at %d, not where a decap or encap frame has it", i, s.CsumOff)
		}
		if s.Vary > benchbpf.VaryEncap {
			return fmt.Errorf("slot %d: unknown variation %d", i, s.Vary)
		}
		if last := int(s.Peer) + t.Peers - 1; s.Vary != benchbpf.VaryNone && last >= MaxPeers {
			return fmt.Errorf("slot %d: peers up to %d, at most %d", i, last, MaxPeers-1)
		}
	}
	return nil
}

// newTraffic starts a Traffic of ep without variation.
func newTraffic(name string, ep *Endpoints) Traffic {
	return Traffic{Name: name, Peers: 1, Hosts: ep.hosts()}
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
	t := newTraffic("decap", &ep)
	for i, c := range clients {
		t.add(legitFrame(&ep, c, i, ipv6Len), decapSlot(i))
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
	t := newTraffic("encap", &ep)
	for i, c := range clients {
		t.add(encapFrame(&ep, c, i, ipv6Len), encapSlot(i))
	}
	return t, t.check()
}

func encapFrame(ep *Endpoints, c Client, i, ipv6Len int) []byte {
	f := make([]byte, ethHdrLen+ipv6Len)
	putEth(f, ep.RelayV6MAC, ep.NativeMAC, 0x86DD)
	putIPv6UDP(f[ethHdrLen:], ipv6Len, NativeHost(i%ep.hosts()), c.Addr)
	return f
}

// decapSlot is the slot of client i's decap frame.
func decapSlot(i int) slotSpec {
	return slotSpec{kind: KindDecap, probeOff: decapProbeOff, egress: egressTX, peer: i, csumOff: benchbpf.DecapUDPCsum}
}

// encapSlot is the slot of an encap frame to client i.
func encapSlot(i int) slotSpec {
	return slotSpec{kind: KindEncap, probeOff: encapProbeOff, egress: egressRedirect, peer: i, csumOff: benchbpf.EncapUDPCsum}
}

// DecapPeers is decap traffic from peers clients of ep.Server (ClientAt(0)
// … ClientAt(peers-1)), one after the other, each to native host
// 1 + p % NativeHosts: one slot whose client the generator rewrites per
// frame, so the number of peers costs no memory.
func DecapPeers(ep Endpoints, peers, ipv6Len int) (Traffic, error) {
	if ipv6Len == 0 {
		ipv6Len = DefaultIPv6Len
	}
	if ipv6Len < minIPv6Len || ipv6Len > 1400 || peers < 1 {
		return Traffic{}, fmt.Errorf("decap traffic: %d peers, IPv6 length %d (want ≥ 1 peer, %d–1400 bytes)", peers, ipv6Len, minIPv6Len)
	}
	return oneSlot("decap", &ep, peers, legitFrame(&ep, ClientAt(0, ep.Server), 0, ipv6Len), decapSlot(0), benchbpf.VaryDecap)
}

// EncapPeers is encap traffic to the Teredo addresses of peers clients of
// ep.Server, one after the other, each from native host 1 + p % NativeHosts
// (one varying slot, like DecapPeers).
func EncapPeers(ep Endpoints, peers, ipv6Len int) (Traffic, error) {
	if ipv6Len == 0 {
		ipv6Len = DefaultIPv6Len
	}
	if minLen := max(minIPv6Len, benchbpf.SlotHdr-ethHdrLen); ipv6Len < minLen || ipv6Len > 1400 || peers < 1 {
		return Traffic{}, fmt.Errorf("encap traffic: %d peers, IPv6 length %d (want ≥ 1 peer, %d–1400 bytes)", peers, ipv6Len, minLen)
	}
	return oneSlot("encap", &ep, peers, encapFrame(&ep, ClientAt(0, ep.Server), 0, ipv6Len), encapSlot(0), benchbpf.VaryEncap)
}

// oneSlot is a traffic of one slot (frame, sp) varied over peers.
func oneSlot(dir string, ep *Endpoints, peers int, frame []byte, sp slotSpec, vary uint16) (Traffic, error) {
	t := newTraffic(fmt.Sprintf("%s%dpeers", dir, peers), ep)
	t.Peers = peers
	sp.vary = vary
	t.add(frame, sp)
	return t, t.check()
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
	t := newTraffic("mixed", &ep)
	for i, c := range clients {
		t.add(legitFrame(&ep, c, i, ipv6Len), decapSlot(i))
		t.add(encapFrame(&ep, c, i, ipv6Len+encapHdrLen), encapSlot(i))
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
	t := newTraffic("bubbles", &ep)
	dst := netip.MustParseAddr("fe80::1")
	for i, c := range clients {
		f := make([]byte, bubbleFrameLen)
		putEth(f, ep.RelayV4MAC, ep.GenMAC, 0x0800)
		teredo.PutIPv4UDP(f[ethHdrLen:], c.Mapped, ep.Relay, ipv6HdrLen, uint16(i), 64)
		teredo.PutBubble(f[ethHdrLen+encapHdrLen:], c.Addr, dst)
		// The probe record is in the Ethernet trailer, outside the UDP checksum.
		t.add(f, slotSpec{kind: KindBubble, probeOff: benchbpf.SlotHdr, egress: egressTX, peer: i})
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
	t := newTraffic(fmt.Sprintf("garbage%dx", ratio), &ep)
	v := 0
	for i, c := range clients {
		t.add(legitFrame(&ep, c, i, ipv6Len), decapSlot(i))
		for range ratio {
			f, k := garbageFrame(&ep, clients, i, v, ipv6Len)
			sp := decapSlot(i)
			sp.kind = k
			if k == KindMalformed {
				sp.csumOff = 0 // no well-formed UDP header to keep right
			}
			t.add(f, sp)
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
