//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Benchmark sink, attached natively to the far end of each veth. It counts
 * every generated packet that comes out of the system under test, by kind,
 * in per-CPU counters, records the one-way latency of probes in a log-linear
 * histogram (bpf_ktime_get_ns at the sink minus the generator's timestamp:
 * one clock, one machine), and drops them. It finds the probe record after
 * IPv6+UDP (decapsulated output, or a bare forwarder's IPv6) or after
 * IPv4+UDP+IPv6+UDP (Teredo output). Packets without a probe record to the
 * Teredo port (the relay's bubbles to the server), ARP, neighbour discovery
 * and anything not UDP go to the kernel; other packets are counted as
 * "other" and dropped. Delivered legitimate packets also set their peer's
 * bit in a per-kind bitmap (memory-mapped by the Go side), which tells how
 * many distinct peers got traffic through.
 */
#include "bench.h"
#include "bpf/bpf_helpers.h"
#include "bpf/bpf_endian.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SINK_NCTR);
	__type(key, __u32);
	__type(value, __u64);
} sink_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SINK_HIST_KINDS * SINK_HIST_BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} sink_latency SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SINK_PEER_KINDS * SINK_PEER_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} sink_peers SEC(".maps");

static __always_inline void count(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&sink_counters, &idx);
	if (v)
		*v += n;
}

static __always_inline __u32 log2u64(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

/* Log-linear bucket: exact below 8 ns, then 8 sub-buckets per power of two. */
static __always_inline __u32 bucket(__u64 ns)
{
	if (ns < 8)
		return ns;
	__u32 e = log2u64(ns);
	__u32 sub = (ns >> (e - 3)) & 7;
	return (e - 2) * 8 + sub;
}

static __always_inline int has_probe(struct ipv6hdr *ip6, void *end)
{
	struct bench_probe *p = (void *)(ip6 + 1) + sizeof(struct udphdr);
	return (void *)(p + 1) <= end && p->magic == BENCH_MAGIC;
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6;

	if ((void *)(eth + 1) > end)
		goto pass;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			goto pass;
		if (ip->ver_ihl != 0x45 || ip->protocol != IPPROTO_UDP)
			goto pass;
		struct udphdr *udp = (void *)(ip + 1);
		if ((void *)(udp + 1) > end)
			goto pass;
		ip6 = (void *)(udp + 1);
		/* Bubbles to the server (no probe record) go to the kernel. */
		if (udp->dest == bpf_htons(TEREDO_PORT) && !has_probe(ip6, end))
			goto pass;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			goto pass;
		if (ip6->nexthdr != IPPROTO_UDP)
			goto pass;
	} else {
		goto pass;
	}
	if ((void *)(ip6 + 1) > end || (ip6->ver_tc >> 4) != 6 || ip6->nexthdr != IPPROTO_UDP)
		goto other;
	struct bench_probe *p = (void *)(ip6 + 1) + sizeof(struct udphdr);
	if ((void *)(p + 1) > end || p->magic != BENCH_MAGIC)
		goto other;

	__u32 kind = (p->flags >> BENCH_KIND_SHIFT) & BENCH_KIND_MASK;
	count(SINK_CTR_PKTS(kind), 1);
	count(SINK_CTR_BYTES(kind), end - data);
	__u32 peer = p->peer;
	if (kind < SINK_PEER_KINDS && peer < BENCH_MAX_PEERS) {
		__u32 idx = kind * SINK_PEER_WORDS + peer / 64;
		__u64 *bits = bpf_map_lookup_elem(&sink_peers, &idx);
		if (bits)
			__sync_fetch_and_or(bits, 1ULL << (peer % 64));
	}
	if ((p->flags & BENCH_FLAG_PROBE) && p->ts != 0 && kind < SINK_HIST_KINDS) {
		__u64 now = bpf_ktime_get_ns();
		__u64 d = now > p->ts ? now - p->ts : 0;
		__u32 idx = kind * SINK_HIST_BUCKETS + bucket(d);
		if (idx < SINK_HIST_KINDS * SINK_HIST_BUCKETS) {
			__u64 *v = bpf_map_lookup_elem(&sink_latency, &idx);
			if (v)
				*v += 1;
		}
		count(SINK_CTR_PROBES, 1);
	}
	return XDP_DROP;
other:
	count(SINK_CTR_OTHER, 1);
	return XDP_DROP;
pass:
	count(SINK_CTR_PASSED, 1);
	return XDP_PASS;
}

char __license[] SEC("license") = "GPL";
