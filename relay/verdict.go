package relay

// Verdict is what Worker.Decap and Worker.Encap decided about one frame.
type Verdict uint8

const (
	// Drop: the frame is not forwarded and may be reused at once. Exactly one
	// drop-reason counter, or the consumed-bubble counter, was incremented.
	Drop Verdict = iota
	// ToIPv4: the result is an IPv4/UDP datagram for the IPv4 side
	// (encapsulated towards a Teredo client).
	ToIPv4
	// ToIPv6: the result is an IPv6 packet for the native IPv6 side.
	ToIPv6
	// SlowPath: the slow path got what it needs, a copy of the packet (to
	// queue it or answer it with an ICMPv6 error) or a notice about it (a
	// consumed bubble that makes its peer trusted); the frame is not
	// forwarded and may be reused at once.
	SlowPath
)

var verdictNames = [...]string{
	Drop:     "drop",
	ToIPv4:   "to_ipv4",
	ToIPv6:   "to_ipv6",
	SlowPath: "slow_path",
}

// String returns the snake_case name of v.
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "unknown"
}
