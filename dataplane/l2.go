package dataplane

import "encoding/binary"

// EtherTypes the data plane handles.
const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86DD
	etherTypeVLAN = 0x8100 // 802.1Q
	etherTypeQinQ = 0x88A8 // 802.1ad: not handled (one tag only)

	ethLen     = 14
	ethVLANLen = 18
)

// l2Frame is the parsed link layer of a received frame.
type l2Frame struct {
	etherType uint16 // of the payload (after a VLAN tag)
	vlan      uint16 // VLAN id, 0 when untagged
	hdrLen    int    // 14 or 18
}

// parseL2 parses an Ethernet header with at most one 802.1Q tag. It returns
// false when the frame is too short for its header.
func parseL2(frame []byte) (l2Frame, bool) {
	if len(frame) < ethLen {
		return l2Frame{}, false
	}
	et := binary.BigEndian.Uint16(frame[12:14])
	if et != etherTypeVLAN {
		return l2Frame{etherType: et, hdrLen: ethLen}, true
	}
	if len(frame) < ethVLANLen {
		return l2Frame{}, false
	}
	return l2Frame{
		etherType: binary.BigEndian.Uint16(frame[16:18]),
		vlan:      binary.BigEndian.Uint16(frame[14:16]) & 0x0fff,
		hdrLen:    ethVLANLen,
	}, true
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
