// Package bpf holds the relay's XDP steering program (steer.c) and its Go
// loader.
//
// # What is steered
//
// The program runs on every frame an interface receives and redirects into
// the AF_XDP socket registered for the receiving RX queue (XSKMAP slot
// rx_queue_index, through bpf_redirect_map with XDP_PASS as fallback):
//
//   - IPv4 UDP to one of the relay addresses (up to MaxAddrs, a hash map
//     that SetAddrs replaces) and the relay port (load-time constant,
//     DefaultPort 3544), not fragmented, with sane IPv4 and UDP lengths;
//     IPv4 options (IHL > 5) are skipped;
//   - IPv6 whose destination is in 2001::/32, whatever the source.
//
// Everything else is XDP_PASS: ARP, Neighbor Discovery, ICMP, BGP, SSH, other
// UDP, IPv6 to other destinations, IPv4 fragments of relay traffic (the
// kernel reassembles them), malformed or truncated headers, and steerable
// frames while no socket is registered for the queue. The program never
// rewrites a frame. It drops, and only while a socket serves the queue (with
// none, everything passes):
//
//   - relay-bound UDP (to a relay address and port, sane lengths) whose
//     payload is not a Teredo packet: not [auth indicator] [origin
//     indication] IPv6 header, or an IPv6 payload length beyond the
//     datagram, exactly what teredo.Packet.Decode rejects, which the relay,
//     the server role and the kernel-socket path all drop. Such garbage then
//     costs no AF_XDP copy, ring slot or worker time;
//   - a steerable frame sent to another host's unicast MAC (Config.MACs: the
//     interface's and its VLAN sub-interfaces', which SetMACs follows), an
//     unknown-unicast flood on an IX LAN meant for another relay, which
//     Linux forwarding would drop too. A steerable frame to a broadcast or
//     multicast MAC is passed: the kernel handles it as it would without the
//     relay;
//   - a steerable frame longer than an AF_XDP frame takes
//     (Config.MaxFrameLen). Native XDP never sees one; generic XDP runs
//     after GRO and on GSO super-frames, which the socket would drop
//     uncounted (the daemon warns at start-up).
//
// Up to two VLAN tags (802.1Q 0x8100, 802.1ad 0x88A8) are skipped; steered
// frames keep their tags, so the consumer parses them too. The socket in a slot must be bound to the same
// interface and queue, otherwise the kernel drops what it cannot deliver;
// hence one Program per interface, and Attach refuses a second interface.
//
// Two load-time switches select the families per attachment: a relay with one
// interface enables both; a two-armed relay loads one Program per interface,
// with SteerIPv4 on the IPv4 (Teredo) side and SteerIPv6 on the native side.
// The server role steers IPv4 only, with its two addresses.
//
// # Counters
//
// Every exit of the program increments exactly one per-CPU counter, keyed by
// enum reason (steer.h, mirrored by Reason); Counters sums them over CPUs, so
// their total is the number of frames seen. Labels (Reason.String):
//
//	steer_ipv4_udp            redirected: UDP to relay address and port
//	steer_ipv6_teredo         redirected: IPv6 to 2001::/32
//	pass_no_socket            steerable, no socket registered for the queue
//	pass_truncated_l2         frame ends inside Ethernet header or VLAN tag
//	pass_vlan_too_deep        more than two VLAN tags
//	pass_arp                  ARP
//	pass_not_ip               other EtherType
//	pass_ipv4_disabled        IPv4 steering off on this attachment
//	pass_ipv4_malformed       truncated header, version != 4, IHL < 5,
//	                          header/total length beyond frame, total < header
//	pass_ipv4_other           IPv4 not UDP (ICMP, TCP: BGP, SSH, ...)
//	pass_ipv4_not_relay_addr  UDP to another address (also multicast)
//	pass_ipv4_fragment        UDP fragment to a relay address (MF or offset)
//	pass_ipv4_not_relay_port  UDP to a relay address, other destination port
//	pass_udp_malformed        relay-bound, UDP header truncated or UDP length
//	                          < 8 or beyond the IPv4 payload
//	pass_ipv6_disabled        IPv6 steering off on this attachment
//	pass_ipv6_malformed       truncated header, version != 6, payload beyond frame
//	pass_ipv6_nd              ICMPv6 Neighbor Discovery (133-137), not to 2001::/32
//	pass_ipv6_other           other IPv6 not to 2001::/32
//	drop_teredo_malformed     relay-bound UDP whose payload is not Teredo (XDP_DROP)
//	pass_l2_group             steerable, to a broadcast or multicast MAC
//	drop_not_our_mac          steerable, to another host's unicast MAC (XDP_DROP)
//	drop_oversize             steerable, longer than an AF_XDP frame (XDP_DROP)
//
// Values are append-only. TestReasonTableMatchesBTF fails when steer.h and
// the Go table drift (names and values, read from the object's BTF), and a
// compile-time check in loader_linux.go compares NumReasons with the
// generated REASON_LEN.
//
// # Objects, constants and limits
//
// Maps: xsks (XSKMAP, MaxQueues = 1024 slots), relay_addrs (hash, MaxAddrs = 8
// IPv4 keys in network byte order), counters (per-CPU array, NumReasons
// entries), own_macs (one struct own_macs: a count and up to MaxMACs = 8
// addresses; count 0 turns the check off). Load-time constants (volatile
// const, set through CollectionSpec.Variables before loading so the verifier
// prunes disabled branches): relay_port, steer_ipv4, steer_ipv6,
// max_frame_len. reason_len only anchors
// enum reason in BTF; reason_keys (static, in .rodata) holds the counters
// map's keys, so counting needs no stack slot (see Privileges).
//
// # Privileges
//
// Load needs Linux 5.18 (the helpers bpf_xdp_get_buff_len and
// bpf_xdp_load_bytes; Load probes them and names a missing one) and CAP_BPF
// and CAP_NET_ADMIN, or CAP_SYS_ADMIN. CAP_PERFMON is not needed: without it
// the verifier refuses variable offsets added to packet pointers, pointer
// subtraction and variable stack offsets, so steer.c reads the frame at
// constant offsets, compares scalar offsets with the frame length, and copies
// bytes at variable offsets (after IPv4 options, inside the Teredo payload)
// with bpf_xdp_load_bytes. Without CAP_PERFMON the kernel also adds its
// Spectre mitigations (a speculation barrier after each register spill to
// the stack); steer.c keeps them off the common paths. An EPERM names the
// missing capability. Attach needs CAP_NET_ADMIN and uses a bpf_link, so the
// kernel detaches the program when the process exits, even on a crash.
//
// # Regenerating
//
// steer_bpfel.go and steer_bpfel.o are generated and committed, so building
// and testing need no clang. After changing steer.c, steer.h or include/:
//
//	make generate         # go generate with clang-19 and llvm-strip-19; bpf2go pinned in go.mod (tool)
//	make check-generated  # scripts/check-generated.sh: regenerates in a scratch copy, fails if a committed file differs
//
// Output is byte-for-byte reproducible with the same clang version, in any
// directory. include/ holds libbpf's bpf_helpers.h, bpf_helper_defs.h and
// bpf_endian.h (libbpf 1.1.2 as packaged by Debian 12, LGPL-2.1 OR
// BSD-2-Clause) and uapi.h, a hand-written subset of the kernel UAPI
// (xdp_md, Ethernet/VLAN/IPv4/IPv6/UDP headers, map types), so the object
// does not change with the host's kernel headers.
//
// # Tests
//
// Tests that load the program need root (internal/testenv.RequireRoot). They
// run frames through BPF_PROG_TEST_RUN and check the action, the output bytes
// and the exact counter deltas; a copy-mode AF_XDP socket bound in a private
// network namespace makes redirects succeed. FuzzSteer compares the program
// with a Go reference model; the miredo captures in the repository's testdata/ are
// replayed frame by frame. TestLoadWithoutPerfmon re-runs the test binary
// through setpriv as nobody with only CAP_BPF and CAP_NET_ADMIN and loads
// every switch combination, so a construct the verifier reserves for
// CAP_PERFMON fails the tests.
package bpf
