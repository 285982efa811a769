/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Contract between steer.c and the Go loader. Go mirrors every name here in
 * reason.go (labels) and config.go (limits); TestReasonTableMatchesBTF
 * and TestLimitsMatchObject fail when the two sides drift.
 */
#ifndef STEER_H
#define STEER_H

/* Entries of relay_addrs: IPv4 destination addresses that are steered. */
#define STEER_MAX_ADDRS 8
/* Entries of xsks: highest RX queue index that can own a socket, plus one. */
#define STEER_MAX_QUEUES 1024
/* MAC addresses of own_macs: the port's and those of its VLAN sub-interfaces. */
#define STEER_MAX_MACS 8

/*
 * The value of own_macs (one entry, key 0): the unicast MAC addresses frames
 * must be sent to for the program to steer them. n == 0 turns the check off.
 */
struct own_macs {
	__u32 n;
	__u8 addr[STEER_MAX_MACS][6];
};

/*
 * Verdict reasons, the key of the per-CPU counters map. Every exit of the
 * program increments exactly one of them, so their sum is the number of
 * frames the program saw. Append only; never reuse a value (metric labels).
 */
enum reason {
	/* Redirected into the AF_XDP socket of the receiving queue. */
	REASON_STEER_IPV4_UDP = 0,	/* unfragmented UDP to a relay address and the relay port */
	REASON_STEER_IPV6_TEREDO,	/* IPv6 with destination in 2001::/32 */
	/* Passed to the kernel. */
	REASON_PASS_NO_SOCKET,		/* steerable, but no socket is registered for the queue */
	REASON_PASS_TRUNCATED_L2,	/* frame ends inside the Ethernet header or a VLAN tag */
	REASON_PASS_VLAN_TOO_DEEP,	/* more than two stacked 802.1Q/802.1ad tags */
	REASON_PASS_ARP,		/* ARP */
	REASON_PASS_NOT_IP,		/* any other EtherType (LLDP, LACP, MPLS, ...) */
	REASON_PASS_IPV4_DISABLED,	/* IPv4 steering is off for this attachment */
	REASON_PASS_IPV4_MALFORMED,	/* truncated header, version != 4, IHL < 5, bad total length */
	REASON_PASS_IPV4_OTHER,		/* not UDP: ICMP, TCP (BGP, SSH), ... */
	REASON_PASS_IPV4_NOT_RELAY_ADDR, /* UDP to an address that is not a relay address */
	REASON_PASS_IPV4_FRAGMENT,	/* UDP fragment (MF set or offset != 0) to a relay address */
	REASON_PASS_IPV4_NOT_RELAY_PORT, /* UDP to a relay address, other port */
	REASON_PASS_UDP_MALFORMED,	/* relay-bound, UDP header truncated or UDP length inconsistent */
	REASON_PASS_IPV6_DISABLED,	/* IPv6 steering is off for this attachment */
	REASON_PASS_IPV6_MALFORMED,	/* truncated header, version != 6, payload beyond the frame */
	REASON_PASS_IPV6_ND,		/* ICMPv6 Neighbor Discovery (types 133-137) */
	REASON_PASS_IPV6_OTHER,		/* any other IPv6 not to 2001::/32 */
	/* Dropped. */
	REASON_DROP_TEREDO_MALFORMED,	/* relay-bound UDP whose payload is not a Teredo packet */
	/* Appended (values above are stable). */
	REASON_PASS_L2_GROUP,		/* steerable, to a broadcast or multicast MAC: the kernel decides */
	REASON_DROP_NOT_OUR_MAC,	/* steerable, to another host's unicast MAC (unknown-unicast flood) */
	REASON_DROP_OVERSIZE,		/* steerable, longer than an AF_XDP frame (GRO/GSO in generic mode) */
	REASON_LEN			/* sentinel: number of reasons */
};

#endif /* STEER_H */
