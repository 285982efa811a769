package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"net/netip"
)

// cookie computes the source address of the bubbles the relay sends to a
// peer: fe80::/64 with an interface identifier taken from
// HMAC-SHA256(key, peer's Teredo address) truncated to 64 bits, with the
// universal/local and group bits cleared (RFC 4291 modified EUI-64 with
// "local" scope). The peer's address embeds its mapping, so a direct bubble
// addressed to this cookie proves the sender received the bubble sent to
// that Teredo address, whatever port its NAT gave it.
//
// A cookie is not safe for concurrent use: each owner (worker, HandleUDP
// path, slow path) has its own. It does not allocate after newCookie.
type cookie struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

func newCookie(key []byte) *cookie {
	return &cookie{mac: hmac.New(sha256.New, key)}
}

// put writes the cookie address for peer into out.
func (c *cookie) put(peer *[16]byte, out *[16]byte) {
	c.mac.Reset()
	c.mac.Write(peer[:])
	s := c.mac.Sum(c.sum[:0])
	*out = [16]byte{0: 0xfe, 1: 0x80}
	copy(out[8:16], s[:8])
	out[8] &^= 0x03 // U (0x02) and G (0x01) bits
}

// addr returns the cookie address for peer.
func (c *cookie) addr(peer *[16]byte) netip.Addr {
	var a [16]byte
	c.put(peer, &a)
	return netip.AddrFrom16(a)
}

// matches reports whether dst is the cookie for peer.
func (c *cookie) matches(peer, dst *[16]byte) bool {
	var a [16]byte
	c.put(peer, &a)
	return hmac.Equal(a[:], dst[:])
}
