// Package handshake emulates, in the generator namespace, the Teredo server
// and the clients' side of the bubble exchange a relay performs before it
// trusts a peer (RFC 4380 §5.4.1, miredo.md §2.5): a relay that has a packet
// for an unknown client sends an indirect bubble to the client's server
// (UDP to server:3544); the server would forward it with an origin
// indication and the client would answer with a direct bubble. The
// Responder receives those indirect bubbles on the server address and
// answers at once with the direct bubble the client would send: from the
// client's mapped address and port (decoded from the bubble's destination
// Teredo address) to the bubble's UDP source, IPv6 source the client's
// Teredo address, destination the bubble's IPv6 source. It sends through a
// raw IPv4 socket (IP_HDRINCL), since the mapped addresses are not local.
package handshake
