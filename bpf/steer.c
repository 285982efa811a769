//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * XDP steering program of the Teredo relay.
 *
 * Redirects into the AF_XDP socket of the receiving RX queue (XSKMAP slot
 * ctx->rx_queue_index):
 *   - unfragmented IPv4 UDP to one of the relay addresses (relay_addrs) and
 *     the relay port (relay_port), when steer_ipv4 is set;
 *   - IPv6 whose destination is in 2001::/32, when steer_ipv6 is set.
 * Everything else, and anything steerable while no socket is registered for
 * the queue, is XDP_PASS. A steerable frame sent to a broadcast or multicast
 * MAC is passed too: the kernel treats it as it would without the relay (it
 * forwards no such IPv6, and a UDP datagram to a local address reaches the
 * daemon's kernel socket). The drops, only while a socket serves the queue:
 * relay-bound UDP whose payload can never be a Teredo packet
 * (teredo_malformed), which every consumer (relay, server, kernel-socket
 * path) would drop anyway; a steerable frame sent to another host's unicast
 * MAC (an unknown-unicast flood on an IX LAN, meant for another relay: Linux
 * forwarding drops those too); and a steerable frame longer than an AF_XDP
 * frame holds (max_frame_len), which only generic XDP can see: it runs after
 * GRO and takes GSO super-frames. Up to two VLAN tags
 * (802.1Q, 802.1ad) are skipped. Each exit counts exactly one enum reason in
 * the per-CPU counters map. See doc.go for the Go side.
 */
#include "uapi.h"
#include "bpf/bpf_helpers.h"
#include "bpf/bpf_endian.h"
#include "steer.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, STEER_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* Key: IPv4 address in network byte order. Value: unused (1). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_MAX_ADDRS);
	__type(key, __u32);
	__type(value, __u8);
} relay_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_LEN);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* One entry (key 0): the interface's own MAC addresses, set by the loader
 * and updated by the daemon when a MAC changes (a bond failing over). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct own_macs);
} own_macs SEC(".maps");

/* Load-time constants, set by the loader through CollectionSpec.Variables. */
volatile const __u16 relay_port = 3544;
volatile const __u8 steer_ipv4 = 1;
volatile const __u8 steer_ipv6 = 1;
/* The longest frame the AF_XDP sockets take (UMEM frame size minus the
 * headrooms); longer steerable frames are dropped as drop_oversize. */
volatile const __u32 max_frame_len = 0xffffffff;

/*
 * Not used by the program: keeps enum reason in BTF (bpf2go -type reason)
 * without a .bss map, and lets the loader check REASON_LEN.
 */
volatile const enum reason reason_len = REASON_LEN;

/*
 * Keys of the counters map, key == reason. finish passes &reason_keys[reason],
 * a constant offset into .rodata, rather than the address of a stack slot:
 * without CAP_PERFMON the verifier follows every store to a fresh stack slot
 * with a speculation barrier (nospec, an lfence on x86; Spectre v4), which
 * would cost every frame several nanoseconds. A reason missing here would
 * count as reason 0; the tests assert the exact counter of every reason.
 */
static const __u32 reason_keys[REASON_LEN] = {
	[REASON_STEER_IPV4_UDP] = REASON_STEER_IPV4_UDP,
	[REASON_STEER_IPV6_TEREDO] = REASON_STEER_IPV6_TEREDO,
	[REASON_PASS_NO_SOCKET] = REASON_PASS_NO_SOCKET,
	[REASON_PASS_TRUNCATED_L2] = REASON_PASS_TRUNCATED_L2,
	[REASON_PASS_VLAN_TOO_DEEP] = REASON_PASS_VLAN_TOO_DEEP,
	[REASON_PASS_ARP] = REASON_PASS_ARP,
	[REASON_PASS_NOT_IP] = REASON_PASS_NOT_IP,
	[REASON_PASS_IPV4_DISABLED] = REASON_PASS_IPV4_DISABLED,
	[REASON_PASS_IPV4_MALFORMED] = REASON_PASS_IPV4_MALFORMED,
	[REASON_PASS_IPV4_OTHER] = REASON_PASS_IPV4_OTHER,
	[REASON_PASS_IPV4_NOT_RELAY_ADDR] = REASON_PASS_IPV4_NOT_RELAY_ADDR,
	[REASON_PASS_IPV4_FRAGMENT] = REASON_PASS_IPV4_FRAGMENT,
	[REASON_PASS_IPV4_NOT_RELAY_PORT] = REASON_PASS_IPV4_NOT_RELAY_PORT,
	[REASON_PASS_UDP_MALFORMED] = REASON_PASS_UDP_MALFORMED,
	[REASON_PASS_IPV6_DISABLED] = REASON_PASS_IPV6_DISABLED,
	[REASON_PASS_IPV6_MALFORMED] = REASON_PASS_IPV6_MALFORMED,
	[REASON_PASS_IPV6_ND] = REASON_PASS_IPV6_ND,
	[REASON_PASS_IPV6_OTHER] = REASON_PASS_IPV6_OTHER,
	[REASON_DROP_TEREDO_MALFORMED] = REASON_DROP_TEREDO_MALFORMED,
	[REASON_PASS_L2_GROUP] = REASON_PASS_L2_GROUP,
	[REASON_DROP_NOT_OUR_MAC] = REASON_DROP_NOT_OUR_MAC,
	[REASON_DROP_OVERSIZE] = REASON_DROP_OVERSIZE,
};
_Static_assert(REASON_DROP_OVERSIZE + 1 == REASON_LEN,
	       "a new reason needs its entry in reason_keys");

static __always_inline int finish(enum reason reason, int action)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &reason_keys[reason]);

	if (n)
		*n += 1;
	return action;
}

/* Where a frame's destination MAC points, for mac_class. */
enum mac_class {
	MAC_OURS,	/* one of own_macs, or the check is off */
	MAC_GROUP,	/* broadcast or multicast */
	MAC_OTHER,	/* another host's unicast address */
};

static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] &&
	       a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

static __always_inline enum mac_class mac_class(const struct ethhdr *eth)
{
	const struct own_macs *m = bpf_map_lookup_elem(&own_macs, &reason_keys[0]);
	__u32 n;

	if (eth->h_dest[0] & 1)
		return MAC_GROUP;
	if (!m)
		return MAC_OURS;
	n = m->n;
	if (n == 0)
		return MAC_OURS;
#pragma unroll
	for (int i = 0; i < STEER_MAX_MACS; i++) {
		if (i >= n)
			break;
		if (mac_equal(eth->h_dest, m->addr[i]))
			return MAC_OURS;
	}
	return MAC_OTHER;
}

/*
 * to_socket redirects a steerable frame to the socket of its queue, after
 * the checks that apply to every steered frame: its destination MAC and its
 * length. The Ethernet header is read again from ctx (a constant offset).
 */
static __always_inline int to_socket(struct xdp_md *ctx, enum reason reason)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	enum mac_class mac;
	__u32 queue;

	if ((void *)(eth + 1) > end)	/* checked by the caller; the verifier needs it again */
		return finish(REASON_PASS_TRUNCATED_L2, XDP_PASS);
	mac = mac_class(eth);
	if (mac == MAC_GROUP)
		return finish(REASON_PASS_L2_GROUP, XDP_PASS);
	if (mac == MAC_OTHER || bpf_xdp_get_buff_len(ctx) > max_frame_len) {
		/* Dropped only while a socket serves the queue, as teredo_malformed. */
		queue = ctx->rx_queue_index;
		if (!bpf_map_lookup_elem(&xsks, &queue))
			return finish(REASON_PASS_NO_SOCKET, XDP_PASS);
		if (mac == MAC_OTHER)
			return finish(REASON_DROP_NOT_OUR_MAC, XDP_DROP);
		return finish(REASON_DROP_OVERSIZE, XDP_DROP);
	}
	/* With no socket in the slot the helper returns the fallback XDP_PASS. */
	if (bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS) == XDP_REDIRECT)
		return finish(reason, XDP_REDIRECT);
	return finish(REASON_PASS_NO_SOCKET, XDP_PASS);
}

/*
 * Packet access without CAP_PERFMON. The daemon loads this program with
 * CAP_BPF and CAP_NET_ADMIN only, and then the verifier refuses three things
 * a straightforward parser does: adding a variable scalar to a packet
 * pointer ("pointer arithmetic with it prohibited for !root"; only constant
 * immediates are allowed), subtracting two pointers (end - data), and
 * variable offsets into the stack. So the program reads packet bytes through
 * direct pointers only at offsets that are compile-time constants on every
 * path (Ethernet, VLAN tags, the fixed IPv4 and IPv6 headers), works with
 * positions as scalar offsets from ctx->data ("at"), compares them with
 * the frame length from bpf_xdp_get_buff_len (the program is not
 * frags-aware, so that is data_end - data), and copies bytes at variable
 * offsets (after IPv4 options, inside the Teredo payload) with
 * bpf_xdp_load_bytes into fixed stack buffers read at constant indices.
 * Both helpers need Linux 5.18. TestLoadWithoutPerfmon keeps it that way.
 */

/*
 * Leading bytes of a Teredo payload that teredo_malformed reads without a
 * further copy: the indicators and, for the common shapes (no indicator, or
 * origin indication only), the IPv6 version and payload length.
 */
#define TEREDO_HEAD 14

/*
 * teredo_malformed mirrors teredo.Packet.Decode: it returns 1 when the UDP
 * payload of len bytes at frame offset at, whose first TEREDO_HEAD bytes
 * (when len allows) are in head, is not a Teredo packet, i.e. not
 * [authentication indicator] [origin indication] IPv6 packet (RFC 4380
 * §5.1.1), with the IPv6 header inside the payload and its payload length not
 * beyond it (trailers after the packet are allowed, RFC 6081). The caller
 * guarantees at + len <= frame length, so every copy below is inside the
 * frame.
 *
 * Every accepted payload holds an IPv6 header after the indicators, so
 * len < 40 is malformed whatever the bytes; checking it first makes head
 * complete. After an origin indication the next byte is the IPv6 version
 * nibble, so another indicator there (a 0 byte) fails the version check.
 */
static __always_inline int teredo_malformed(struct xdp_md *ctx, __u32 at, __u32 len,
					    const __u8 *head)
{
	__u8 ind[2], ip6[6];
	__u32 off;

	if (len < 40)
		return 1;
	if (head[0] != 0) {
		/* No indicator: the IPv6 header starts the payload. */
		if ((head[0] >> 4) != 6)
			return 1;
		return 40 + (((__u32)head[4] << 8) | head[5]) > len;
	}
	if (head[1] == 0) {
		/* Origin indication (8 bytes), then the IPv6 header. */
		if (len < 8 + 40)
			return 1;
		if ((head[8] >> 4) != 6)
			return 1;
		return 40 + (((__u32)head[12] << 8) | head[13]) > len - 8;
	}
	if (head[1] != 1)
		return 1;	/* 00 xx: no such indicator */

	/* Authentication: 00 01, ID length, auth length, ID, auth, nonce(8), confirmation(1). */
	off = 13 + (__u32)head[2] + (__u32)head[3];
	if (len < off + 2)
		return 1;
	if (bpf_xdp_load_bytes(ctx, at + off, ind, sizeof(ind)))
		return 1;
	if (ind[0] == 0) {
		/* Origin indication; only 00 00 may follow authentication. */
		if (ind[1] != 0)
			return 1;
		off += 8;
	}
	if (len < off + 40)
		return 1;
	if (bpf_xdp_load_bytes(ctx, at + off, ip6, sizeof(ip6)))
		return 1;
	if ((ip6[0] >> 4) != 6)
		return 1;
	return 40 + (((__u32)ip6[4] << 8) | ip6[5]) > len - off;
}

/* The UDP header and the leading bytes of its payload, copied in one go. */
struct udp_head {
	struct udphdr udp;
	__u8 payload[TEREDO_HEAD];
};

static __always_inline __u32 ipv4_hlen(const struct iphdr *ip)
{
	return (ip->ver_ihl & 0x0f) * 4;
}

static __always_inline int steer_ipv4_packet(struct xdp_md *ctx, void *l3, __u32 l3_at, void *end)
{
	struct iphdr *ip = l3;
	struct udp_head copy, *h;
	__u32 frame_len, hlen, tot_len, udp_at, udp_len;

	if (!steer_ipv4)
		return finish(REASON_PASS_IPV4_DISABLED, XDP_PASS);
	/* First, while few values are live: fewer register spills. */
	frame_len = bpf_xdp_get_buff_len(ctx);
	if ((void *)(ip + 1) > end)
		return finish(REASON_PASS_IPV4_MALFORMED, XDP_PASS);
	if ((ip->ver_ihl >> 4) != 4)
		return finish(REASON_PASS_IPV4_MALFORMED, XDP_PASS);
	hlen = ipv4_hlen(ip);
	tot_len = bpf_ntohs(ip->tot_len);
	if (hlen < sizeof(*ip) || tot_len < hlen || l3_at + tot_len > frame_len)
		return finish(REASON_PASS_IPV4_MALFORMED, XDP_PASS);

	if (ip->protocol != IPPROTO_UDP)
		return finish(REASON_PASS_IPV4_OTHER, XDP_PASS);
	if (!bpf_map_lookup_elem(&relay_addrs, &ip->daddr))
		return finish(REASON_PASS_IPV4_NOT_RELAY_ADDR, XDP_PASS);
	/* Non-first fragments carry no UDP header; the kernel reassembles. */
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return finish(REASON_PASS_IPV4_FRAGMENT, XDP_PASS);

	/*
	 * Read again from the frame (the values are those checked above) rather
	 * than kept across the helper call: without CAP_PERFMON every register
	 * spill to the stack is followed by a speculation barrier.
	 */
	hlen = ipv4_hlen(ip);
	tot_len = bpf_ntohs(ip->tot_len);

	/*
	 * The UDP header and the payload's head: read in place when the header
	 * has no options (a constant offset, the common case), copied in one go
	 * otherwise. When the frame ends before the whole head, the UDP length
	 * check below fails or the payload is shorter than TEREDO_HEAD, hence
	 * not Teredo, and teredo_malformed returns before reading the head
	 * (zeroed only because the verifier forbids reading uninitialised stack).
	 */
	udp_at = l3_at + hlen;
	if (hlen == sizeof(*ip) && (void *)(ip + 1) + sizeof(*h) <= end) {
		h = (struct udp_head *)(ip + 1);
	} else {
		h = &copy;
		frame_len = bpf_xdp_get_buff_len(ctx);
		if (udp_at + sizeof(*h) <= frame_len) {
			if (bpf_xdp_load_bytes(ctx, udp_at, h, sizeof(*h)))
				return finish(REASON_PASS_UDP_MALFORMED, XDP_PASS);
		} else {
			if (udp_at + sizeof(h->udp) > frame_len)
				return finish(REASON_PASS_UDP_MALFORMED, XDP_PASS);
			if (bpf_xdp_load_bytes(ctx, udp_at, h, sizeof(h->udp)))
				return finish(REASON_PASS_UDP_MALFORMED, XDP_PASS);
			__builtin_memset(h->payload, 0, sizeof(h->payload));
		}
	}
	if (h->udp.dest != bpf_htons(relay_port))
		return finish(REASON_PASS_IPV4_NOT_RELAY_PORT, XDP_PASS);
	udp_len = bpf_ntohs(h->udp.len);
	if (udp_len < sizeof(h->udp) || udp_len > tot_len - hlen)
		return finish(REASON_PASS_UDP_MALFORMED, XDP_PASS);
	if (teredo_malformed(ctx, udp_at + sizeof(h->udp), udp_len - sizeof(h->udp), h->payload)) {
		/* Dropped only while a relay socket serves this queue: with none,
		 * the kernel gets the datagram like everything else (never a drop). */
		__u32 queue = ctx->rx_queue_index;

		if (!bpf_map_lookup_elem(&xsks, &queue))
			return finish(REASON_PASS_NO_SOCKET, XDP_PASS);
		return finish(REASON_DROP_TEREDO_MALFORMED, XDP_DROP);
	}

	return to_socket(ctx, REASON_STEER_IPV4_UDP);
}

static __always_inline int steer_ipv6_packet(struct xdp_md *ctx, void *l3, __u32 l3_at, void *end)
{
	struct ipv6hdr *ip6 = l3;
	__u8 *icmp_type;
	__u32 frame_len;

	if (!steer_ipv6)
		return finish(REASON_PASS_IPV6_DISABLED, XDP_PASS);
	/* First, while few values are live: fewer register spills. */
	frame_len = bpf_xdp_get_buff_len(ctx);
	if ((void *)(ip6 + 1) > end)
		return finish(REASON_PASS_IPV6_MALFORMED, XDP_PASS);
	if ((ip6->ver_tc >> 4) != 6)
		return finish(REASON_PASS_IPV6_MALFORMED, XDP_PASS);
	if (l3_at + sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > frame_len)
		return finish(REASON_PASS_IPV6_MALFORMED, XDP_PASS);

	if (ip6->daddr[0] == bpf_htonl(0x20010000))
		return to_socket(ctx, REASON_STEER_IPV6_TEREDO);

	if (ip6->nexthdr == IPPROTO_ICMPV6) {
		icmp_type = (__u8 *)(ip6 + 1);
		if ((void *)(icmp_type + 1) <= end &&
		    *icmp_type >= NDISC_ROUTER_SOLICITATION && *icmp_type <= NDISC_REDIRECT)
			return finish(REASON_PASS_IPV6_ND, XDP_PASS);
	}
	return finish(REASON_PASS_IPV6_OTHER, XDP_PASS);
}

SEC("xdp")
int steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct vlan_hdr *vlan;
	void *l3;
	__u32 l3_at = sizeof(*eth);
	__be16 proto;

	if ((void *)(eth + 1) > end)
		return finish(REASON_PASS_TRUNCATED_L2, XDP_PASS);
	proto = eth->h_proto;
	l3 = eth + 1;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = l3;
		if ((void *)(vlan + 1) > end)
			return finish(REASON_PASS_TRUNCATED_L2, XDP_PASS);
		proto = vlan->h_vlan_encapsulated_proto;
		l3 = vlan + 1;
		l3_at += sizeof(*vlan);
	}

	switch (proto) {
	case bpf_htons(ETH_P_IP):
		return steer_ipv4_packet(ctx, l3, l3_at, end);
	case bpf_htons(ETH_P_IPV6):
		return steer_ipv6_packet(ctx, l3, l3_at, end);
	case bpf_htons(ETH_P_ARP):
		return finish(REASON_PASS_ARP, XDP_PASS);
	case bpf_htons(ETH_P_8021Q):
	case bpf_htons(ETH_P_8021AD):
		return finish(REASON_PASS_VLAN_TOO_DEEP, XDP_PASS);
	default:
		return finish(REASON_PASS_NOT_IP, XDP_PASS);
	}
}

char _license[] SEC("license") = "Dual BSD/GPL";
