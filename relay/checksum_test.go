package relay

import (
	"encoding/binary"
	"testing"

	"github.com/teredorelay/teredorelay/cache"
	"github.com/teredorelay/teredorelay/relay/relaytest"
	"github.com/teredorelay/teredorelay/teredo"
)

// innerL4Valid reports whether the TCP, UDP or ICMPv6 checksum of the IPv6
// packet ip (after hop-by-hop and destination options headers) verifies.
func innerL4Valid(ip []byte) bool {
	valid, _ := innerL4Check(ip)
	return valid
}

// innerL4Check reports whether ip carries a TCP, UDP or ICMPv6 segment after
// hop-by-hop and destination options headers (l4), and whether its
// checksum verifies.
func innerL4Check(ip []byte) (valid, l4 bool) {
	off, nh := teredo.IPv6HeaderLen, ip[6]
	for nh == teredo.ProtoHopByHop || nh == teredo.ProtoDestOpts {
		if off+2 > len(ip) {
			return false, false
		}
		nh, off = ip[off], off+(int(ip[off+1])+1)*8
	}
	if off > len(ip) || (nh != teredo.ProtoTCP && nh != teredo.ProtoUDP && nh != teredo.ProtoICMPv6) {
		return false, false
	}
	seg := ip[off:]
	ph := make([]byte, 40)
	copy(ph, ip[8:40])
	binary.BigEndian.PutUint32(ph[32:36], uint32(len(seg)))
	ph[39] = nh
	return teredo.Checksum(seg, uint32(^teredo.Checksum(ph, 0))) == 0, true
}

// outerUDPValid reports whether the UDP checksum of the IPv4/UDP datagram d
// is present and verifies.
func outerUDPValid(d []byte) bool {
	return binary.BigEndian.Uint16(d[26:28]) != 0 &&
		teredo.UDPChecksum([4]byte(d[12:16]), [4]byte(d[16:20]), d[teredo.IPv4HeaderLen:]) == 0
}

// TestEncapChecksums (issue 10, section 1): encapsulated packets leave with
// a complete inner checksum (a partial one, as a Linux sender on a veth
// with checksum offload leaves it, is completed) and a UDP checksum that
// verifies; DisableEncapUDPChecksum sends a zero UDP checksum and still
// completes the inner one.
func TestEncapChecksums(t *testing.T) {
	cases := []struct {
		name       string
		pkt        []byte
		noOuter    bool
		completed  bool
		innerCheck bool // the inner packet carries a checksum to verify
	}{
		{"tcp complete", relaytest.TCPSegment(nativeHost, clientAddr, 64, 1180, false), false, false, true},
		{"tcp partial", relaytest.TCPSegment(nativeHost, clientAddr, 64, 1180, true), false, true, true},
		{"tcp partial, small", relaytest.TCPSegment(nativeHost, clientAddr, 64, 0, true), false, true, true},
		{"tcp partial, no outer checksum", relaytest.TCPSegment(nativeHost, clientAddr, 64, 1180, true), true, true, true},
		{"icmpv6 echo", relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, []byte("payload")), false, false, true},
		{"udp without checksum (full sum)", relaytest.UDPPayload(nativeHost, clientAddr, 64, 600), false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *Config, _ *cache.Config) { cfg.DisableEncapUDPChecksum = c.noOuter })
			h.trustClient(clientMap)
			v, out := h.encap(c.pkt)
			if v != ToIPv4 {
				t.Fatalf("verdict %v", v)
			}
			checkIPv4UDP(t, out, clientMap, len(c.pkt))
			inner := out[teredo.EncapLen:]
			if c.innerCheck && !innerL4Valid(inner) {
				t.Errorf("inner checksum does not verify: % x", inner[40:60])
			}
			if !c.completed && string(inner[8:]) != string(c.pkt[8:]) {
				t.Error("a packet with a complete checksum was changed beyond its hop limit")
			}
			if c.noOuter {
				if binary.BigEndian.Uint16(out[26:28]) != 0 {
					t.Errorf("UDP checksum %#x with DisableEncapUDPChecksum", binary.BigEndian.Uint16(out[26:28]))
				}
			} else if !outerUDPValid(out) {
				t.Errorf("UDP checksum %#x does not verify", binary.BigEndian.Uint16(out[26:28]))
			}
			want := uint64(0)
			if c.completed {
				want = 1
			}
			if got := h.counters().EncapChecksumsCompleted; got != want {
				t.Errorf("EncapChecksumsCompleted %d, want %d", got, want)
			}
		})
	}
}

// TestEncapChecksumQueued: a partial-checksum packet for a peer being
// verified is completed before it is queued, so the copy the slow path
// releases through the kernel socket is complete too.
func TestEncapChecksumQueued(t *testing.T) {
	h := newHarness(t, nil)
	pkt := relaytest.TCPSegment(nativeHost, clientAddr, 64, 1000, true)
	if v, _ := h.encap(pkt); v != SlowPath {
		t.Fatalf("verdict %v, want slow_path", v)
	}
	h.drain()
	h.out.Take() // the indirect bubble
	if v, _ := h.decap(fromClient(relaytest.Bubble(clientAddr, h.e.Cookie(clientAddr)))); v != SlowPath {
		t.Fatalf("client bubble: %v", v)
	}
	h.drain()
	sent := h.out.Take()
	if len(sent) != 1 || sent[0].Dst != clientMap {
		t.Fatalf("released %+v, want the queued packet", sent)
	}
	if !innerL4Valid(sent[0].Data) {
		t.Fatal("released packet's checksum is still partial")
	}
	if got := h.counters().EncapChecksumsCompleted; got != 1 {
		t.Fatalf("EncapChecksumsCompleted %d, want 1", got)
	}
}

// TestIPv4IDRandomStart (issue 10, section 6): every worker starts its IPv4
// IDs at a random value (they used to start at 0 in each), then counts up.
func TestIPv4IDRandomStart(t *testing.T) {
	h := newHarness(t, nil)
	h.trustClient(clientMap)
	pkt := relaytest.Echo(nativeHost, clientAddr, 64, 1, 1, nil)
	id := func(w *Worker) uint16 {
		buf, off := relaytest.Frame(pkt)
		v, o, _ := w.Encap(buf, off, len(pkt))
		if v != ToIPv4 {
			t.Fatalf("verdict %v", v)
		}
		return binary.BigEndian.Uint16(buf[o+4 : o+6])
	}
	firsts := map[uint16]bool{}
	for range 16 {
		w := h.e.NewWorker()
		first := id(w)
		if next := id(w); next != first+1 {
			t.Fatalf("IDs %d then %d: want consecutive", first, next)
		}
		firsts[first] = true
	}
	if len(firsts) < 2 || firsts[0] && len(firsts) == 1 {
		t.Fatalf("16 workers started their IPv4 IDs at %v", firsts)
	}
}
