package teredo

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"
)

// A tiny reader for classic libpcap files (not pcapng), enough to replay the
// testbed captures in testdata/. Supported link types: Ethernet (1, with
// 802.1Q tags), raw IP (101), Linux cooked v1 (113) and v2 (276).

const (
	linktypeEthernet = 1
	linktypeRaw      = 101
	linktypeSLL      = 113
	linktypeSLL2     = 276

	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	etherTypeVLAN = 0x8100
)

type pcapFrame struct {
	Index     int    // 1-based, as tcpdump/wireshark number frames
	EtherType uint16 // network protocol of L3
	L3        []byte // the IP packet
}

// readPcap returns the frames of a classic pcap file whose network layer is
// IPv4 or IPv6; other frames (ARP) are skipped but keep their index.
func readPcap(tb testing.TB, path string) []pcapFrame {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read pcap: %v", err)
	}
	frames, err := parsePcap(data)
	if err != nil {
		tb.Fatalf("parse pcap %s: %v", path, err)
	}
	return frames
}

func parsePcap(data []byte) ([]pcapFrame, error) {
	if len(data) < 24 {
		return nil, fmt.Errorf("global header: short file (%d bytes)", len(data))
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(data[0:4]) {
	case 0xa1b2c3d4, 0xa1b23c4d: // microsecond / nanosecond, little endian
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("global header: bad magic %x (pcapng is not supported)", data[0:4])
	}
	linktype := bo.Uint32(data[20:24]) & 0x0fffffff
	var frames []pcapFrame
	off := 24
	for index := 1; off < len(data); index++ {
		if len(data)-off < 16 {
			return nil, fmt.Errorf("frame %d: truncated record header", index)
		}
		incl := int(bo.Uint32(data[off+8 : off+12]))
		off += 16
		if incl > len(data)-off {
			return nil, fmt.Errorf("frame %d: truncated record (%d > %d)", index, incl, len(data)-off)
		}
		rec := data[off : off+incl]
		off += incl
		et, l3, err := linkPayload(linktype, rec)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", index, err)
		}
		if et == etherTypeIPv4 || et == etherTypeIPv6 {
			frames = append(frames, pcapFrame{Index: index, EtherType: et, L3: l3})
		}
	}
	return frames, nil
}

func linkPayload(linktype uint32, rec []byte) (uint16, []byte, error) {
	switch linktype {
	case linktypeEthernet:
		if len(rec) < 14 {
			return 0, nil, fmt.Errorf("ethernet: short frame")
		}
		et, p := binary.BigEndian.Uint16(rec[12:14]), rec[14:]
		for et == etherTypeVLAN {
			if len(p) < 4 {
				return 0, nil, fmt.Errorf("ethernet: short vlan tag")
			}
			et, p = binary.BigEndian.Uint16(p[2:4]), p[4:]
		}
		return et, p, nil
	case linktypeSLL:
		if len(rec) < 16 {
			return 0, nil, fmt.Errorf("sll: short frame")
		}
		return binary.BigEndian.Uint16(rec[14:16]), rec[16:], nil
	case linktypeSLL2:
		if len(rec) < 20 {
			return 0, nil, fmt.Errorf("sll2: short frame")
		}
		return binary.BigEndian.Uint16(rec[0:2]), rec[20:], nil
	case linktypeRaw:
		if len(rec) < 1 {
			return 0, nil, fmt.Errorf("raw: empty frame")
		}
		switch rec[0] >> 4 {
		case 4:
			return etherTypeIPv4, rec, nil
		case 6:
			return etherTypeIPv6, rec, nil
		}
		return 0, rec, nil
	}
	return 0, nil, fmt.Errorf("unsupported link type %d", linktype)
}

// udpFrame is a UDP datagram carried in a pcap frame, split with this
// package's own IPv4/UDP decoders.
type udpFrame struct {
	Index   int
	Packet  []byte // whole IPv4 packet
	IP      IPv4Header
	UDP     UDPHeader
	Payload []byte
}

func pcapUDP(tb testing.TB, path string) []udpFrame {
	tb.Helper()
	var out []udpFrame
	for _, f := range readPcap(tb, path) {
		if f.EtherType != etherTypeIPv4 {
			continue
		}
		var u udpFrame
		u.Index = f.Index
		if err := u.IP.Decode(f.L3); err != nil {
			tb.Fatalf("%s frame %d: ipv4: %v", path, f.Index, err)
		}
		if u.IP.Protocol != ProtoUDP {
			continue
		}
		u.Packet = f.L3[:u.IP.TotalLen]
		seg := u.Packet[u.IP.HeaderLen:]
		if err := u.UDP.Decode(seg); err != nil {
			tb.Fatalf("%s frame %d: udp: %v", path, f.Index, err)
		}
		u.Payload = seg[UDPHeaderLen:u.UDP.Length]
		out = append(out, u)
	}
	return out
}

func TestParsePcapErrors(t *testing.T) {
	hdr := func(magic uint32, linktype uint32) []byte {
		b := make([]byte, 24)
		binary.LittleEndian.PutUint32(b[0:4], magic)
		binary.LittleEndian.PutUint32(b[20:24], linktype)
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"short file", []byte{1, 2, 3}},
		{"pcapng magic", hdr(0x0a0d0d0a, 1)},
		{"unknown link type", append(hdr(0xa1b2c3d4, 999), make([]byte, 16)...)},
		{"truncated record header", append(hdr(0xa1b2c3d4, 1), 1, 2, 3)},
		{"truncated record", append(hdr(0xa1b2c3d4, 1), 0, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 50, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parsePcap(tt.data); err == nil {
				t.Fatal("parsePcap succeeded, want error")
			}
		})
	}
}

func TestPcapLinkTypes(t *testing.T) {
	ip := []byte{0x45, 0, 0, 20}
	tests := []struct {
		name     string
		linktype uint32
		rec      []byte
		wantET   uint16
	}{
		{"ethernet", linktypeEthernet, append(append(make([]byte, 12), 0x08, 0x00), ip...), etherTypeIPv4},
		{"ethernet vlan", linktypeEthernet, append(append(make([]byte, 12), 0x81, 0x00, 0, 5, 0x86, 0xdd), ip...), etherTypeIPv6},
		{"sll", linktypeSLL, append(append(make([]byte, 14), 0x08, 0x00), ip...), etherTypeIPv4},
		{"sll2", linktypeSLL2, append(append([]byte{0x86, 0xdd}, make([]byte, 18)...), ip...), etherTypeIPv6},
		{"raw", linktypeRaw, ip, etherTypeIPv4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			et, l3, err := linkPayload(tt.linktype, tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			if et != tt.wantET || string(l3) != string(ip) {
				t.Fatalf("linkPayload = %#x % x, want %#x % x", et, l3, tt.wantET, ip)
			}
		})
	}
}
