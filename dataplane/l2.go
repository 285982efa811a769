package dataplane

import "encoding/binary"

// EtherTypes the data plane handles.
const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86DD
	etherTypeVLAN = 0x8100 // 802.1Q
	etherTypeQinQ = 0x88A8 // 802.1ad (service tag, outer of two)

	ethLen     = 14
	ethVLANLen = 18
	// maxVLANTags matches steer.c, which skips up to two tags (802.1Q or
	// 802.1ad) before it decides to steer a frame: the worker must parse
	// every frame the program steers.
	maxVLANTags = 2
	vlanTagLen  = 4
)

// l2Frame is the parsed link layer of a received frame.
type l2Frame struct {
	etherType uint16 // of the payload (after the VLAN tags)
	vlan      uint16 // VLAN id of the outer tag, 0 when untagged
	hdrLen    int    // 14, 18 or 22
}

// parseL2 parses an Ethernet header with up to two VLAN tags (802.1Q or
// 802.1ad, as steer.c skips them; a third tag is reported as the EtherType).
// The ingress tags only locate the packet: the egress header comes from the
// next hop. It returns false when the frame is too short for its header.
func parseL2(frame []byte) (l2Frame, bool) {
	if len(frame) < ethLen {
		return l2Frame{}, false
	}
	l := l2Frame{etherType: binary.BigEndian.Uint16(frame[12:14]), hdrLen: ethLen}
	for i := 0; i < maxVLANTags && (l.etherType == etherTypeVLAN || l.etherType == etherTypeQinQ); i++ {
		if len(frame) < l.hdrLen+vlanTagLen {
			return l2Frame{}, false
		}
		if i == 0 {
			l.vlan = binary.BigEndian.Uint16(frame[ethLen:]) & 0x0fff
		}
		l.etherType = binary.BigEndian.Uint16(frame[l.hdrLen+2:])
		l.hdrLen += vlanTagLen
	}
	return l, true
}

// l2Len is the length of the Ethernet header putL2 writes for vlan.
func l2Len(vlan uint16) int {
	if vlan != 0 {
		return ethVLANLen
	}
	return ethLen
}

// putL2 writes an Ethernet header (with an 802.1Q tag when vlan != 0, PCP 0)
// into b, which is exactly l2Len(vlan) bytes long.
func putL2(b []byte, dst, src *[6]byte, vlan, etherType uint16) {
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	if vlan != 0 {
		binary.BigEndian.PutUint16(b[12:14], etherTypeVLAN)
		binary.BigEndian.PutUint16(b[14:16], vlan&0x0fff)
		binary.BigEndian.PutUint16(b[16:18], etherType)
		return
	}
	binary.BigEndian.PutUint16(b[12:14], etherType)
}
