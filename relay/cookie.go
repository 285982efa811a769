package relay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"net/netip"
	"time"
)

// Bubble cookies expire: a cookie is valid for CookieValidity after the
// epoch it was made in, so a bubble (or a capture of one) seen once cannot
// be replayed later to point a peer at another mapping. Miredo's relay puts
// a timestamp in its HMAC and accepts 30 s; so do we, in epochs.
const (
	// CookieEpoch is the length of a cookie epoch.
	CookieEpoch = 10 * time.Second
	// CookieValidity: a cookie is accepted while its epoch is at most this
	// old, so for CookieValidity to CookieValidity + CookieEpoch after it
	// was sent (30 to 40 s): longer than a bubble round trip through the
	// client's server, shorter than a NAT mapping is worth replaying.
	CookieValidity = 3 * CookieEpoch
	// cookieEpochBits of the epoch travel in the cookie, so the receiver
	// knows which epoch to check without trying several.
	cookieEpochBits = 6
	cookieEpochMask = 1<<cookieEpochBits - 1
	cookieMaxAge    = int64(CookieValidity / CookieEpoch)
)

// cookie computes the source address of the bubbles the relay sends to a
// peer, and checks the destination of the peer's direct bubble against it:
// fe80::/64 with an interface identifier of
//
//	byte 8:     the epoch's low 6 bits, then the universal/local and group bits (0)
//	bytes 9-15: HMAC-SHA256(key, epoch (8 bytes, big-endian) ‖ peer's Teredo address)[:7]
//
// The epoch counts CookieEpoch periods of wall-clock time, so cookies made
// before a restart (the key is kept) are still recognised after it and no
// epoch is ever reused; the 56-bit MAC covers the whole epoch, so a cookie
// from 64 epochs ago does not pass for a current one. The peer's address
// embeds its mapping, so a direct bubble to a fresh cookie proves the sender
// received a bubble the relay sent to that Teredo address lately, whatever
// port its NAT gave it (RFC 6081 symmetric NATs).
//
// A cookie is not safe for concurrent use: each owner (worker, HandleUDP
// path, slow path) has its own. It does not allocate after newCookie.
type cookie struct {
	mac hash.Hash
	sum [sha256.Size]byte
	msg [8 + 16]byte
}

func newCookie(key []byte) *cookie {
	return &cookie{mac: hmac.New(sha256.New, key)}
}

// put writes the cookie address of epoch for peer into out.
func (c *cookie) put(peer *[16]byte, epoch int64, out *[16]byte) {
	binary.BigEndian.PutUint64(c.msg[:8], uint64(epoch))
	copy(c.msg[8:], peer[:])
	c.mac.Reset()
	c.mac.Write(c.msg[:])
	s := c.mac.Sum(c.sum[:0])
	*out = [16]byte{0: 0xfe, 1: 0x80}
	out[8] = byte(epoch&cookieEpochMask) << 2 // U (0x02) and G (0x01) bits clear
	copy(out[9:16], s[:7])
}

// addr returns the cookie address of epoch for peer.
func (c *cookie) addr(peer *[16]byte, epoch int64) netip.Addr {
	var a [16]byte
	c.put(peer, epoch, &a)
	return netip.AddrFrom16(a)
}

// matches reports whether dst is a cookie for peer made in the epoch now or
// in one of the cookieMaxAge before it.
func (c *cookie) matches(peer, dst *[16]byte, now int64) bool {
	if dst[0] != 0xfe || dst[1] != 0x80 || dst[8]&0x03 != 0 {
		return false
	}
	age := (now - int64(dst[8]>>2)) & cookieEpochMask
	if age > cookieMaxAge {
		return false
	}
	var a [16]byte
	c.put(peer, now-age, &a)
	return hmac.Equal(a[:], dst[:])
}

// cookieEpoch returns the cookie epoch of monotonic time now (nanoseconds,
// Config.Now) given wallOffset, the wall clock minus the monotonic clock.
func cookieEpoch(now, wallOffset int64) int64 {
	return (now + wallOffset) / int64(CookieEpoch)
}
