package server

// Verdict is what Handler.Handle and Handler.HandleDatagram decided about one
// datagram.
type Verdict uint8

const (
	// Drop: nothing is sent and the frame may be reused at once. Exactly one
	// DropReason counter was incremented.
	Drop Verdict = iota
	// ToIPv4: the result is a UDP datagram for the IPv4 side (an RA, or a
	// bubble or ICMPv6 packet encapsulated towards a Teredo client), sent
	// from the server address the handler chose and port 3544.
	ToIPv4
	// ToIPv6: the result is an IPv6 packet for the native IPv6 side (a
	// client's ICMPv6 message, e.g. the echo of the direct connectivity test).
	ToIPv6
	// Relay: the datagram is not server business; it arrived on the address
	// the co-located relay shares with the server (Config.RelayAddr) and is
	// handed over unchanged: the caller gives the same bytes to the relay
	// (relay.Worker.Decap or relay.Engine.HandleUDP), which applies its own
	// checks and counters. Nothing was written into the frame.
	Relay
)

var verdictNames = [...]string{
	Drop:   "drop",
	ToIPv4: "to_ipv4",
	ToIPv6: "to_ipv6",
	Relay:  "relay",
}

// String returns the snake_case name of v.
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "unknown"
}
