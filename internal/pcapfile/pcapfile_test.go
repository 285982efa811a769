package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"
)

// The testbed captures, shared by every package's tests.
const (
	relayPcap  = "../../testdata/miredo-relay.pcap"
	serverPcap = "../../testdata/miredo-server.pcap"
)

// frameWant is one frame as tcpdump -nn -tt -e -r prints it.
type frameWant struct {
	index     int
	time      string // seconds.microseconds
	etherType uint16
	length    int
	src       string // network-layer source ("" for ARP)
}

// TestCaptures checks both testbed captures against tcpdump's reading of
// them: header fields, frame count per EtherType, the byte total implied by
// the file size (24 + 16 per record + data), and selected frames.
func TestCaptures(t *testing.T) {
	tests := []struct {
		name            string
		path            string
		frames          int
		ipv4, ipv6, arp int
		dataBytes       int
		first, last     string
		spot            []frameWant
	}{
		{
			name: "miredo-relay", path: relayPcap,
			frames: 35, ipv4: 13, ipv6: 18, arp: 4,
			dataBytes: 4134 - 24 - 35*16,
			first:     "1795836422.285820", last: "1795836433.517780",
			spot: []frameWant{
				{1, "1795836422.285820", EtherTypeIPv6, 128, "2001:db8:1::fe"},
				{2, "1795836422.286036", EtherTypeIPv4, 82, "198.51.100.1"},
				{3, "1795836422.286523", EtherTypeIPv4, 82, "203.0.113.1"},
				{13, "1795836423.277452", EtherTypeIPv6, 118, "2001:0:c000:201:3cc4:4b5f:34ff:8efe"},
				{24, "1795836427.373766", EtherTypeARP, 42, ""},
				{35, "1795836433.517780", EtherTypeIPv6, 78, "fe80::b47b:e9ff:fe04:3fb"},
			},
		},
		{
			name: "miredo-server", path: serverPcap,
			frames: 22, ipv4: 8, ipv6: 10, arp: 4,
			dataBytes: 2222 - 24 - 22*16,
			first:     "1795836419.229526", last: "1795836434.541750",
			spot: []frameWant{
				{1, "1795836419.229526", EtherTypeIPv4, 108, "203.0.113.1"},
				{9, "1795836422.969797", EtherTypeIPv4, 103, "203.0.113.1"},
				{10, "1795836422.969967", EtherTypeIPv4, 159, "192.0.2.1"},
				{15, "1795836424.302452", EtherTypeARP, 42, ""},
				{16, "1795836424.302438", EtherTypeIPv6, 78, "2001:db8:1::fe"}, // earlier than frame 15
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ReadFile(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if f.ByteOrder != binary.LittleEndian || f.Nanosecond || f.SnapLen != 262144 || f.LinkType != LinkTypeEthernet {
				t.Errorf("header: %v nano=%v snaplen %d link %d, want little endian, µs, 262144, Ethernet",
					f.ByteOrder, f.Nanosecond, f.SnapLen, f.LinkType)
			}
			if len(f.Frames) != tt.frames {
				t.Fatalf("%d frames, want %d", len(f.Frames), tt.frames)
			}
			count := map[uint16]int{}
			data := 0
			for i, fr := range f.Frames {
				count[fr.EtherType]++
				data += len(fr.Data)
				if fr.Index != i+1 || fr.LinkType != LinkTypeEthernet || fr.L3Offset != 14 || fr.OrigLen != len(fr.Data) {
					t.Errorf("frame %d: index %d link %d offset %d origlen %d/%d", i+1, fr.Index, fr.LinkType, fr.L3Offset, fr.OrigLen, len(fr.Data))
				}
			}
			if count[EtherTypeIPv4] != tt.ipv4 || count[EtherTypeIPv6] != tt.ipv6 || count[EtherTypeARP] != tt.arp {
				t.Errorf("EtherTypes %v, want %d IPv4, %d IPv6, %d ARP", count, tt.ipv4, tt.ipv6, tt.arp)
			}
			if data != tt.dataBytes {
				t.Errorf("%d data bytes, want %d", data, tt.dataBytes)
			}
			if got := stamp(f.Frames[0].Time); got != tt.first {
				t.Errorf("first frame at %s, want %s", got, tt.first)
			}
			if got := stamp(f.Frames[len(f.Frames)-1].Time); got != tt.last {
				t.Errorf("last frame at %s, want %s", got, tt.last)
			}
			for _, w := range tt.spot {
				checkFrame(t, &f.Frames[w.index-1], w)
			}
		})
	}
}

// stamp formats a timestamp as tcpdump -tt does.
func stamp(ts time.Time) string { return fmt.Sprintf("%d.%06d", ts.Unix(), ts.Nanosecond()/1000) }

func checkFrame(t *testing.T, fr *Frame, w frameWant) {
	t.Helper()
	if fr.Index != w.index || fr.EtherType != w.etherType || len(fr.Data) != w.length || stamp(fr.Time) != w.time {
		t.Errorf("frame %d: index %d EtherType %#04x %d bytes at %s, want %#04x %d bytes at %s",
			w.index, fr.Index, fr.EtherType, len(fr.Data), stamp(fr.Time), w.etherType, w.length, w.time)
	}
	ip := fr.IP()
	switch fr.EtherType {
	case EtherTypeIPv4:
		if src := netip.AddrFrom4([4]byte(ip[12:16])); len(ip) != w.length-14 || ip[0]>>4 != 4 || src.String() != w.src {
			t.Errorf("frame %d: IPv4 packet of %d bytes from %v, want %d bytes from %s", w.index, len(ip), src, w.length-14, w.src)
		}
	case EtherTypeIPv6:
		if src := netip.AddrFrom16([16]byte(ip[8:24])); len(ip) != w.length-14 || ip[0]>>4 != 6 || src.String() != w.src {
			t.Errorf("frame %d: IPv6 packet of %d bytes from %v, want %d bytes from %s", w.index, len(ip), src, w.length-14, w.src)
		}
	default:
		if ip != nil || len(fr.Network()) != w.length-14 {
			t.Errorf("frame %d: IP() = %x, Network() %d bytes", w.index, ip, len(fr.Network()))
		}
	}
}

// rewrap returns rec's network-layer packet under the link header of lt
// (built independently of NetworkOffset from the header layouts).
func rewrap(lt LinkType, etherType uint16, l3 []byte) []byte {
	switch lt {
	case LinkTypeRaw:
		return slices.Clone(l3)
	case LinkTypeLinuxSLL: // packet type, ARPHRD, address length, 8-byte address, protocol
		h := []byte{0, 0, 0, 1, 0, 6, 0xb6, 0x7b, 0xe9, 0x04, 0x03, 0xfb, 0, 0, 0, 0}
		return slices.Concat(binary.BigEndian.AppendUint16(h[:14], etherType), l3)
	case LinkTypeLinuxSLL2: // protocol, reserved, ifindex, ARPHRD, packet type, address length, address
		h := binary.BigEndian.AppendUint16(nil, etherType)
		h = append(h, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 0xb6, 0x7b, 0xe9, 0x04, 0x03, 0xfb, 0, 0)
		return slices.Concat(h, l3)
	}
	panic("rewrap: link type")
}

// TestEncodings re-encodes the relay capture in the other byte order, with
// nanosecond timestamps, and under each other link type, and checks that
// Parse recovers the same times and network-layer packets.
func TestEncodings(t *testing.T) {
	orig, err := ReadFile(relayPcap)
	if err != nil {
		t.Fatal(err)
	}
	// Give the timestamps a sub-microsecond part the nanosecond files keep.
	withNanos := slices.Clone(orig.Frames)
	for i := range withNanos {
		withNanos[i].Time = withNanos[i].Time.Add(time.Duration(i+1) * 7 * time.Nanosecond)
	}
	relink := func(lt LinkType, ipOnly bool) []Frame {
		var out []Frame
		for _, f := range orig.Frames {
			if ipOnly && f.IP() == nil {
				continue // raw IP carries no ARP
			}
			out = append(out, Frame{Time: f.Time, Data: rewrap(lt, f.EtherType, f.Network())})
		}
		return out
	}
	tests := []struct {
		name   string
		bo     binary.ByteOrder
		nano   bool
		lt     LinkType
		frames []Frame
		offset int
		ipOnly bool
	}{
		{"big endian microseconds", binary.BigEndian, false, LinkTypeEthernet, orig.Frames, 14, false},
		{"little endian nanoseconds", binary.LittleEndian, true, LinkTypeEthernet, withNanos, 14, false},
		{"big endian nanoseconds", binary.BigEndian, true, LinkTypeEthernet, withNanos, 14, false},
		{"raw ip", binary.LittleEndian, false, LinkTypeRaw, relink(LinkTypeRaw, true), 0, true},
		{"linux cooked v1", binary.BigEndian, false, LinkTypeLinuxSLL, relink(LinkTypeLinuxSLL, false), 16, false},
		{"linux cooked v2", binary.LittleEndian, true, LinkTypeLinuxSLL2, relink(LinkTypeLinuxSLL2, false), 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(Encode(tt.bo, tt.nano, tt.lt, tt.frames...))
			if err != nil {
				t.Fatal(err)
			}
			if f.ByteOrder != tt.bo || f.Nanosecond != tt.nano || f.LinkType != tt.lt {
				t.Fatalf("header %v nano=%v link %d", f.ByteOrder, f.Nanosecond, f.LinkType)
			}
			var want []Frame
			for _, o := range orig.Frames {
				if !tt.ipOnly || o.IP() != nil {
					want = append(want, o)
				}
			}
			if len(f.Frames) != len(want) {
				t.Fatalf("%d frames, want %d", len(f.Frames), len(want))
			}
			for i, got := range f.Frames {
				w := want[i]
				if got.Index != i+1 || !got.Time.Equal(tt.frames[i].Time) || got.LinkType != tt.lt {
					t.Errorf("frame %d: index %d time %v link %d, want time %v", i+1, got.Index, got.Time, got.LinkType, tt.frames[i].Time)
				}
				if got.EtherType != w.EtherType || got.L3Offset != tt.offset || !bytes.Equal(got.Network(), w.Network()) {
					t.Errorf("frame %d: EtherType %#04x at %d: % x, want %#04x at %d: % x",
						i+1, got.EtherType, got.L3Offset, got.Network(), w.EtherType, tt.offset, w.Network())
				}
			}
		})
	}
}

func TestNetworkOffset(t *testing.T) {
	ip4 := []byte{0x45, 0, 0, 20}
	ip6 := []byte{0x60, 0, 0, 0}
	eth := func(types ...uint16) []byte {
		b := make([]byte, 12)
		for _, et := range types {
			b = binary.BigEndian.AppendUint16(b, et)
			if et == EtherTypeVLAN || et == EtherTypeQinQ {
				b = append(b, 0, 5) // VID 5
			}
		}
		return b
	}
	tests := []struct {
		name   string
		lt     LinkType
		rec    []byte
		wantET uint16
		wantAt int
	}{
		{"ethernet ipv4", LinkTypeEthernet, slices.Concat(eth(EtherTypeIPv4), ip4), EtherTypeIPv4, 14},
		{"ethernet 802.1q ipv6", LinkTypeEthernet, slices.Concat(eth(EtherTypeVLAN, EtherTypeIPv6), ip6), EtherTypeIPv6, 18},
		{"ethernet 802.1ad+802.1q ipv4", LinkTypeEthernet, slices.Concat(eth(EtherTypeQinQ, EtherTypeVLAN, EtherTypeIPv4), ip4), EtherTypeIPv4, 22},
		{"ethernet arp", LinkTypeEthernet, slices.Concat(eth(EtherTypeARP), make([]byte, 28)), EtherTypeARP, 14},
		{"ethernet header only", LinkTypeEthernet, eth(EtherTypeIPv4), EtherTypeIPv4, 14},
		{"ethernet short", LinkTypeEthernet, make([]byte, 13), 0, 13},
		{"ethernet truncated tag", LinkTypeEthernet, append(eth(EtherTypeVLAN)[:14], 0, 5, 0x08), 0, 17},
		{"sll ipv4", LinkTypeLinuxSLL, rewrap(LinkTypeLinuxSLL, EtherTypeIPv4, ip4), EtherTypeIPv4, 16},
		{"sll short", LinkTypeLinuxSLL, make([]byte, 15), 0, 15},
		{"sll2 ipv6", LinkTypeLinuxSLL2, rewrap(LinkTypeLinuxSLL2, EtherTypeIPv6, ip6), EtherTypeIPv6, 20},
		{"sll2 short", LinkTypeLinuxSLL2, make([]byte, 19), 0, 19},
		{"raw ipv4", LinkTypeRaw, ip4, EtherTypeIPv4, 0},
		{"raw ipv6", LinkTypeRaw, ip6, EtherTypeIPv6, 0},
		{"raw version 5", LinkTypeRaw, []byte{0x50}, 0, 0},
		{"raw empty", LinkTypeRaw, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			et, at := NetworkOffset(tt.lt, tt.rec)
			if et != tt.wantET || at != tt.wantAt {
				t.Fatalf("NetworkOffset = %#04x, %d; want %#04x, %d", et, at, tt.wantET, tt.wantAt)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	bubble := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1}
	frame := Frame{Time: time.Unix(1700000000, 500000), Data: bubble}
	good := Encode(binary.LittleEndian, false, LinkTypeRaw, frame, frame)
	tests := []struct {
		name   string
		data   []byte
		err    error
		frames int // complete frames returned with the error
	}{
		{"empty", nil, ErrShortFile, -1},
		{"short header", good[:23], ErrShortFile, -1},
		{"pcapng", append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, good[4:]...), ErrMagic, -1},
		{"swapped nanosecond magic bytes", append([]byte{0x3c, 0x4d, 0xa1, 0xb2}, good[4:]...), ErrMagic, -1},
		{"unknown link type", Encode(binary.LittleEndian, false, 105, frame), ErrLinkType, -1},
		{"cut in the second record", good[:len(good)-1], ErrTruncated, 1},
		{"cut in the second record header", good[:24+16+20+15], ErrTruncated, 1},
		{"cut in the first record header", good[:25], ErrTruncated, 0},
		{"oversized record", func() []byte {
			b := slices.Clone(good)
			binary.LittleEndian.PutUint32(b[24+16+20+8:], MaxRecordLen+1)
			return b
		}(), ErrRecordLen, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.data)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			switch {
			case tt.frames < 0 && f != nil:
				t.Fatalf("returned a file with %d frames", len(f.Frames))
			case tt.frames >= 0 && (f == nil || len(f.Frames) != tt.frames):
				t.Fatalf("returned %v, want %d complete frames", f, tt.frames)
			case tt.frames > 0 && !bytes.Equal(f.Frames[0].Data, bubble):
				t.Fatalf("frame 1 = % x", f.Frames[0].Data)
			}
		})
	}
	if f, err := Parse(good); err != nil || len(f.Frames) != 2 {
		t.Fatalf("the uncut file: %v", err)
	}
}

// TestEncodeOrigLen checks that a snapped frame keeps its wire length.
func TestEncodeOrigLen(t *testing.T) {
	f, err := Parse(Encode(binary.BigEndian, false, LinkTypeEthernet, Frame{Time: time.Unix(1, 0), Data: make([]byte, 14), OrigLen: 1514}))
	if err != nil {
		t.Fatal(err)
	}
	if fr := f.Frames[0]; fr.OrigLen != 1514 || len(fr.Data) != 14 || fr.EtherType != 0 {
		t.Fatalf("frame: origlen %d, %d bytes, EtherType %#04x", fr.OrigLen, len(fr.Data), fr.EtherType)
	}
}

func FuzzParse(f *testing.F) {
	for _, path := range []string{relayPcap, serverPcap} {
		file, err := ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(Encode(binary.LittleEndian, false, LinkTypeEthernet, file.Frames[:4]...))
		f.Add(Encode(binary.BigEndian, true, LinkTypeLinuxSLL2, file.Frames[8:10]...))
	}
	f.Add(Encode(binary.LittleEndian, false, LinkTypeRaw, Frame{Data: []byte{0x60}}))
	f.Add(Encode(binary.BigEndian, false, LinkTypeLinuxSLL, Frame{Data: make([]byte, 15)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if file == nil {
			if err == nil {
				t.Fatal("nil file without an error")
			}
			return
		}
		used := fileHeaderLen
		for i, fr := range file.Frames {
			used += recordHeaderLen + len(fr.Data)
			if fr.Index != i+1 || fr.L3Offset < 0 || fr.L3Offset > len(fr.Data) || len(fr.Data) > MaxRecordLen {
				t.Fatalf("frame %d: index %d offset %d of %d bytes", i+1, fr.Index, fr.L3Offset, len(fr.Data))
			}
			if ip := fr.IP(); ip != nil && (fr.EtherType != EtherTypeIPv4 && fr.EtherType != EtherTypeIPv6) {
				t.Fatalf("frame %d: IP() for EtherType %#04x", i+1, fr.EtherType)
			}
		}
		if used > len(data) || (err == nil && used != len(data)) {
			t.Fatalf("frames span %d bytes of %d (err %v)", used, len(data), err)
		}
		// Encoding the frames again gives the same frames.
		again, err2 := Parse(Encode(file.ByteOrder, file.Nanosecond, file.LinkType, file.Frames...))
		if err2 != nil || len(again.Frames) != len(file.Frames) {
			t.Fatalf("re-encoded: %v", err2)
		}
		for i := range again.Frames {
			a, b := again.Frames[i], file.Frames[i]
			// A fraction field of a second or more carries into the
			// seconds, which may then not fit the 32-bit field again.
			sameTime := a.Time.Equal(b.Time) || b.Time.Unix() > math.MaxUint32
			if !sameTime || !bytes.Equal(a.Data, b.Data) || a.EtherType != b.EtherType || a.L3Offset != b.L3Offset {
				t.Fatalf("frame %d differs after re-encoding", i+1)
			}
		}
	})
}

func TestReadTestFile(t *testing.T) {
	if frames := ReadTestFile(t, serverPcap, LinkTypeEthernet); len(frames) != 22 || frames[21].Index != 22 {
		t.Fatalf("%d frames", len(frames))
	}
	// A wrong link type or a missing file fails the test it is given.
	for _, tc := range []struct {
		name string
		path string
		lt   LinkType
	}{
		{"wrong link type", serverPcap, LinkTypeRaw},
		{"missing file", "testdata/none.pcap", LinkTypeEthernet},
	} {
		ft := &fatalRecorder{TB: t}
		done := make(chan struct{})
		go func() { // Fatal ends the goroutine it runs on
			defer close(done)
			ReadTestFile(ft, tc.path, tc.lt)
		}()
		<-done
		if !ft.failed {
			t.Errorf("%s: ReadTestFile did not fail the test", tc.name)
		}
	}
}

// fatalRecorder records a Fatal/Fatalf call instead of failing the real test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (r *fatalRecorder) Helper()               {}
func (r *fatalRecorder) Fatal(...any)          { r.failed = true; runtime.Goexit() }
func (r *fatalRecorder) Fatalf(string, ...any) { r.failed = true; runtime.Goexit() }
