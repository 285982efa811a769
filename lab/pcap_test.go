package lab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/teredorelay/teredorelay/internal/pcapfile"
)

// pcapFile builds a classic pcap file with the given byte order and timestamp
// unit; frame i is stamped 1700000000+i seconds and 500 units.
func pcapFile(bo binary.ByteOrder, unit time.Duration, linkType pcapfile.LinkType, frames ...[]byte) []byte {
	recs := make([]pcapfile.Frame, len(frames))
	for i, f := range frames {
		recs[i] = pcapfile.Frame{Time: time.Unix(1700000000+int64(i), int64(500*unit)), Data: f}
	}
	return pcapfile.Encode(bo, unit == time.Nanosecond, linkType, recs...)
}

func TestReadPcap(t *testing.T) {
	f1, f2 := unhex(t, frameRelayBubble), unhex(t, frameClientBubble)
	le := pcapFile(binary.LittleEndian, time.Microsecond, pcapfile.LinkTypeEthernet, f1, f2)
	for _, tc := range []struct {
		name   string
		file   []byte
		frames int
		unit   time.Duration
		err    error
	}{
		{"little-endian microseconds", le, 2, time.Microsecond, nil},
		{"big-endian nanoseconds", pcapFile(binary.BigEndian, time.Nanosecond, pcapfile.LinkTypeEthernet, f1, f2), 2, time.Nanosecond, nil},
		{"cut in the last record", le[:len(le)-5], 1, time.Microsecond, nil},
		{"cut in a record header", le[:24+16+len(f1)+7], 1, time.Microsecond, nil},
		{"header only", le[:24], 0, 0, nil},
		{"short header", le[:10], 0, 0, errAny},
		{"bad magic", append([]byte{1, 2, 3, 4}, le[4:]...), 0, 0, ErrPcapMagic},
		{"linux cooked capture", pcapFile(binary.LittleEndian, time.Microsecond, pcapfile.LinkTypeLinuxSLL, f1), 0, 0, ErrPcapLinkType},
		{"802.11 capture", pcapFile(binary.LittleEndian, time.Microsecond, 105, f1), 0, 0, ErrPcapLinkType},
		{"oversized record", func() []byte {
			b := append([]byte{}, le...)
			binary.LittleEndian.PutUint32(b[24+8:], 1<<30)
			return b
		}(), 0, 0, ErrPcapRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := ReadPcap(bytes.NewReader(tc.file))
			switch {
			case tc.err == errAny && err == nil:
				t.Fatal("no error")
			case tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if len(frames) != tc.frames {
				t.Fatalf("%d frames, want %d", len(frames), tc.frames)
			}
			if tc.frames > 0 {
				if !bytes.Equal(frames[0].Data, f1) {
					t.Errorf("frame 0 = %x", frames[0].Data)
				}
				if want := time.Unix(1700000000, int64(500*tc.unit)); !frames[0].Time.Equal(want) {
					t.Errorf("frame 0 time %v, want %v", frames[0].Time, want)
				}
			}
		})
	}
}

var errAny = errors.New("any error")

func TestDecodeUDP4(t *testing.T) {
	relayBubble := unhex(t, frameRelayBubble)
	vlan := append(append(append([]byte{}, relayBubble[:12]...), 0x81, 0x00, 0x00, 0x2a), relayBubble[12:]...)
	qinq := append(append(append([]byte{}, relayBubble[:12]...), 0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x2a), relayBubble[12:]...)
	frag := append([]byte{}, relayBubble...)
	frag[14+6] = 0x20 // MF
	badLen := append([]byte{}, relayBubble...)
	badLen[14+20+5] = 0xff // UDP length beyond the datagram
	for _, tc := range []struct {
		name string
		in   []byte
		err  error
	}{
		{"T11 frame", relayBubble, nil},
		{"802.1Q tagged", vlan, nil},
		{"802.1ad+802.1Q tagged", qinq, nil},
		{"truncated tag", vlan[:16], ErrNotUDP4},
		{"fragment", frag, ErrNotUDP4},
		{"bad UDP length", badLen, ErrNotUDP4},
		{"IPv6 frame", unhex(t, frameEcho), ErrNotUDP4},
		{"truncated IPv4", relayBubble[:30], ErrNotUDP4},
		{"short", relayBubble[:10], ErrNotUDP4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := DecodeUDP4(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if u.Src != netip.MustParseAddrPort("198.51.100.1:3544") || u.Dst != netip.MustParseAddrPort("192.0.2.1:3544") ||
				u.TTL != 64 || !bytes.Equal(u.Payload, Bubble(relayBubbleSrc, addrT8)) {
				t.Errorf("decoded %v -> %v ttl %d payload %x", u.Src, u.Dst, u.TTL, u.Payload)
			}
		})
	}
	p, ok := DecodeIPv6(unhex(t, frameEcho))
	if !ok || len(p) != 104 || IPv6Src(p) != addrT8 || IPv6Dst(p) != netip.MustParseAddr("2001:db8:3::7") {
		t.Errorf("DecodeIPv6(echo) = %x, %v", p, ok)
	}
	if _, ok := DecodeIPv6(relayBubble); ok {
		t.Error("DecodeIPv6 accepted an IPv4 frame")
	}
}

// TestReadTestbedCapture reads the original testbed's capture.
func TestReadTestbedCapture(t *testing.T) {
	file, err := os.Open("../testdata/miredo-relay.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	frames, err := ReadPcap(file)
	if err != nil {
		t.Fatal(err)
	}
	// tcpdump -r lists 35 packets, 13 of them UDP, 9 sent by the relay.
	var udp, fromRelay int
	for _, f := range frames {
		if u, err := DecodeUDP4(f.Data); err == nil {
			udp++
			if u.Src == netip.MustParseAddrPort("198.51.100.1:3544") {
				fromRelay++
			}
		}
	}
	if len(frames) != 35 || udp != 13 || fromRelay != 9 {
		t.Errorf("%d frames, %d UDP, %d from the relay; want 35, 13, 9", len(frames), udp, fromRelay)
	}
	if !bytes.Equal(frames[1].Data, unhex(t, frameRelayBubble)) {
		t.Errorf("frame 2 = %x, want the T11 frame", frames[1].Data)
	}
}

func FuzzReadPcap(f *testing.F) {
	f.Add(pcapFile(binary.LittleEndian, time.Microsecond, pcapfile.LinkTypeEthernet, unhex(f, frameRelayBubble)))
	f.Add(pcapFile(binary.BigEndian, time.Nanosecond, pcapfile.LinkTypeEthernet, unhex(f, frameEcho), unhex(f, frameClientBubble)))
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, _ := ReadPcap(bytes.NewReader(b))
		total := 0
		for _, fr := range frames {
			total += 16 + len(fr.Data)
		}
		if len(frames) > 0 && 24+total > len(b) {
			t.Fatalf("%d frames need %d bytes, input has %d", len(frames), 24+total, len(b))
		}
	})
}

func FuzzDecodeUDP4(f *testing.F) {
	f.Add(unhex(f, frameRelayBubble))
	f.Add(unhex(f, frameClientBubble))
	f.Add(unhex(f, frameEcho))
	f.Fuzz(func(t *testing.T, b []byte) {
		if u, err := DecodeUDP4(b); err == nil && len(u.Payload) > len(b)-14-28 {
			t.Fatalf("payload %d bytes from a %d-byte frame", len(u.Payload), len(b))
		}
		if p, ok := DecodeIPv6(b); ok && (len(p) < 40 || len(p) > len(b)-14) {
			t.Fatalf("IPv6 packet %d bytes from a %d-byte frame", len(p), len(b))
		}
	})
}
