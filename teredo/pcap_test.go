package teredo

import (
	"testing"

	"github.com/teredorelay/teredorelay/internal/pcapfile"
)

// readPcap returns the frames of a testbed capture (see internal/pcapfile).
func readPcap(tb testing.TB, path string) []pcapfile.Frame {
	tb.Helper()
	return pcapfile.ReadTestFile(tb, path, pcapfile.LinkTypeEthernet)
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
		if !f.IsIPv4() {
			continue
		}
		var u udpFrame
		u.Index = f.Index
		if err := u.IP.Decode(f.IP()); err != nil {
			tb.Fatalf("%s frame %d: ipv4: %v", path, f.Index, err)
		}
		if u.IP.Protocol != ProtoUDP {
			continue
		}
		u.Packet = f.IP()[:u.IP.TotalLen]
		seg := u.Packet[u.IP.HeaderLen:]
		if err := u.UDP.Decode(seg); err != nil {
			tb.Fatalf("%s frame %d: udp: %v", path, f.Index, err)
		}
		u.Payload = seg[UDPHeaderLen:u.UDP.Length]
		out = append(out, u)
	}
	return out
}
