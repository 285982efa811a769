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
 * the queue, is XDP_PASS. The one drop: relay-bound UDP whose payload can
 * never be a Teredo packet (teredo_malformed), which every consumer (relay,
 * server, kernel-socket path) would drop anyway, and only while a socket
 * serves the queue. Up to two VLAN tags
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

/* Load-time constants, set by the loader through CollectionSpec.Variables. */
volatile const __u16 relay_port = 3544;
volatile const __u8 steer_ipv4 = 1;
volatile const __u8 steer_ipv6 = 1;

/*
 * Not used by the program: keeps enum reason in BTF (bpf2go -type reason)
 * without a .bss map, and lets the loader check REASON_LEN.
 */
volatile const enum reason reason_len = REASON_LEN;

static __always_inline int finish(enum reason reason, int action)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&counters, &key);

	if (n)
		*n += 1;
	return action;
}

static __always_inline int to_socket(struct xdp_md *ctx, enum reason reason)
{
	/* With no socket in the slot the helper returns the fallback XDP_PASS. */
	if (bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS) == XDP_REDIRECT)
		return finish(reason, XDP_REDIRECT);
	return finish(REASON_PASS_NO_SOCKET, XDP_PASS);
}

/*
 * teredo_malformed mirrors teredo.Packet.Decode: it returns 1 when the UDP
 * payload p[0:len] is not a Teredo packet, i.e. not [authentication
 * indicator] [origin indication] IPv6 packet (RFC 4380 §5.1.1), with the IPv6
 * header inside the payload and its payload length not beyond it (trailers
 * after the packet are allowed, RFC 6081). The caller guarantees p + len <=
 * end; the pointer checks against end are for the verifier.
 */
static __always_inline int teredo_malformed(__u8 *p, __u32 len, void *end)
{
	__u32 off = 0;
	__u8 *ip;

	if (len < 2 || (void *)(p + 2) > end)
		return 1;	/* a bare byte is not even an indicator */
	if (p[0] == 0) {
		if (p[1] == 1) {
			/* Authentication: 00 01, ID length, auth length, ID, auth, nonce(8), confirmation(1). */
			if (len < 13 || (void *)(p + 13) > end)
				return 1;
			off = 13 + (__u32)p[2] + (__u32)p[3];
			if (len <= off)
				return 1;
		}
		if ((void *)(p + off + 2) > end)
			return 1;
		if (p[off] == 0) {
			/* Origin indication: 00 00, port, address (8 bytes); only 00 00 may follow auth. */
			if (len < off + 8 || p[off + 1] != 0)
				return 1;
			off += 8;
			if (len > off) {
				if ((void *)(p + off + 1) > end)
					return 1;
				if (p[off] == 0)
					return 1;	/* another indicator: out of order */
			}
		}
	} else if ((p[0] >> 4) != 6) {
		return 1;
	}
	if (len < off + 40)
		return 1;
	ip = p + off;
	if ((void *)(ip + 40) > end)
		return 1;
	if ((ip[0] >> 4) != 6)
		return 1;
	if (40 + (((__u32)ip[4] << 8) | ip[5]) > len - off)
		return 1;
	return 0;
}

static __always_inline int steer_ipv4_packet(struct xdp_md *ctx, void *l3, void *end)
{
	struct iphdr *ip = l3;
	struct udphdr *udp;
	__u32 hlen, tot_len, udp_len;

	if (!steer_ipv4)
		return finish(REASON_PASS_IPV4_DISABLED, XDP_PASS);
	if ((void *)(ip + 1) > end)
		return finish(REASON_PASS_IPV4_MALFORMED, XDP_PASS);
	if ((ip->ver_ihl >> 4) != 4)
		return finish(REASON_PASS_IPV4_MALFORMED, XDP_PASS);
	hlen = (ip->ver_ihl & 0x0f) * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	if (hlen < sizeof(*ip) || tot_len < hlen || l3 + hlen > end || l3 + tot_len > end)
		return finish(REASON_PASS_IPV4_MALFORMED, XDP_PASS);

	if (ip->protocol != IPPROTO_UDP)
		return finish(REASON_PASS_IPV4_OTHER, XDP_PASS);
	if (!bpf_map_lookup_elem(&relay_addrs, &ip->daddr))
		return finish(REASON_PASS_IPV4_NOT_RELAY_ADDR, XDP_PASS);
	/* Non-first fragments carry no UDP header; the kernel reassembles. */
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return finish(REASON_PASS_IPV4_FRAGMENT, XDP_PASS);

	udp = l3 + hlen;
	if ((void *)(udp + 1) > end)
		return finish(REASON_PASS_UDP_MALFORMED, XDP_PASS);
	if (udp->dest != bpf_htons(relay_port))
		return finish(REASON_PASS_IPV4_NOT_RELAY_PORT, XDP_PASS);
	udp_len = bpf_ntohs(udp->len);
	if (udp_len < sizeof(*udp) || udp_len > tot_len - hlen)
		return finish(REASON_PASS_UDP_MALFORMED, XDP_PASS);
	if (teredo_malformed((__u8 *)(udp + 1), udp_len - sizeof(*udp), end)) {
		/* Dropped only while a relay socket serves this queue: with none,
		 * the kernel gets the datagram like everything else (never a drop). */
		__u32 queue = ctx->rx_queue_index;

		if (!bpf_map_lookup_elem(&xsks, &queue))
			return finish(REASON_PASS_NO_SOCKET, XDP_PASS);
		return finish(REASON_DROP_TEREDO_MALFORMED, XDP_DROP);
	}

	return to_socket(ctx, REASON_STEER_IPV4_UDP);
}

static __always_inline int steer_ipv6_packet(struct xdp_md *ctx, void *l3, void *end)
{
	struct ipv6hdr *ip6 = l3;
	__u8 *icmp_type;

	if (!steer_ipv6)
		return finish(REASON_PASS_IPV6_DISABLED, XDP_PASS);
	if ((void *)(ip6 + 1) > end)
		return finish(REASON_PASS_IPV6_MALFORMED, XDP_PASS);
	if ((ip6->ver_tc >> 4) != 6)
		return finish(REASON_PASS_IPV6_MALFORMED, XDP_PASS);
	if ((void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > end)
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
	}

	switch (proto) {
	case bpf_htons(ETH_P_IP):
		return steer_ipv4_packet(ctx, l3, end);
	case bpf_htons(ETH_P_IPV6):
		return steer_ipv6_packet(ctx, l3, end);
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
