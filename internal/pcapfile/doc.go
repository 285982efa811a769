// Package pcapfile reads classic libpcap capture files (not pcapng), as
// tcpdump -w writes them: either byte order, microsecond or nanosecond
// timestamps, and the link types the project's captures use — Ethernet (with
// any number of 802.1Q / 802.1ad tags), raw IP, and Linux cooked capture v1
// and v2 (tcpdump -i any).
//
// Parse splits a whole file held in memory; each Frame aliases that memory
// and carries its 1-based index (as tcpdump -# and Wireshark number frames),
// timestamp, link type, and the EtherType and offset of its network-layer
// packet. Encode writes the same format, for tests and fuzz corpora.
//
// The reference captures of the testbed live in the repository's top-level
// testdata/ (miredo-relay.pcap, miredo-server.pcap); tests of other packages
// read them with a relative path such as ../testdata/miredo-relay.pcap.
package pcapfile
