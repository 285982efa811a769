//go:build ignore
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Live-frames load generator (BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES).
 * The kernel runs this program once per frame; every run that transmits
 * writes the header of slot seq % nslots over the frame (so packets cycle
 * through N clients or destinations), fills in the probe record, and returns
 * XDP_TX, which the live-frames mode turns into a transmission out of the
 * ingress device, or (slots marked GEN_EGRESS_REDIRECT) XDP_REDIRECT to a
 * second device, so one generator thread can interleave both directions of
 * a relay's traffic. Pacing happens here: a run that comes before the frame's
 * slot in the schedule (one frame every interval_ps), or after the count or
 * time bound, returns XDP_DROP, which costs far less than a transmission; so
 * a paced generator spins its core but sends a smooth stream.
 *
 * Varying slots (GEN_VARY_*) stand for many peers: the few words that name
 * the peer are rewritten per frame and the checksums fixed incrementally
 * (RFC 1624). The inner UDP checksum also covers the probe record, so every
 * generated frame carries correct checksums. loadgen's Traffic.writeFrame
 * is the Go twin of this program (the AF_XDP generator uses it); a test
 * compares the two byte for byte.
 */
#include "bench.h"
#include "bpf/bpf_helpers.h"
#include "bpf/bpf_endian.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GEN_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct gen_slot);
} gen_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_cfg);
} gen_config SEC(".maps");

/* One generator thread runs the program at a time, so plain increments. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_state);
} gen_state SEC(".maps");

/*
 * One's-complement arithmetic on 16-bit words as loaded from the packet
 * (byte order does not matter for the sum, RFC 1071 §2(B)).
 */
static __always_inline __u32 put16(void *p, __u16 v, __u32 acc)
{
	__u16 *w = p;
	acc += (__u16)~*w;
	*w = v;
	return acc + v;
}

/* csum_fix applies the accumulated changes to the checksum at p (RFC 1624 eq. 3). */
static __always_inline void csum_fix(void *p, __u32 acc, int udp)
{
	__u16 *c = p;
	__u32 sum = (__u16)~*c + acc;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	__u16 v = ~sum;
	if (udp && v == 0)
		v = 0xffff;
	*c = v;
}

static __always_inline void vary_decap(void *data, __u32 peer, __u32 nhosts)
{
	__u16 lo = bpf_htons((BENCH_PEER_NET_HI << 8) | (1 + peer % BENCH_PEER_ADDRS));
	__u16 port = bpf_htons(BENCH_PEER_PORT0 + peer / BENCH_PEER_ADDRS);
	__u32 ip = put16(data + GEN_DECAP_IP4_SRC_LO, lo, 0);
	csum_fix(data + GEN_DECAP_IP4_CSUM, ip, 0);
	/* The outer UDP checksum is 0 (not used), so the port needs no fix. */
	*(__u16 *)(data + GEN_DECAP_UDP_SPORT) = port;
	__u32 udp = put16(data + GEN_DECAP_V6_SRC_PORT, ~port, 0);
	udp = put16(data + GEN_DECAP_V6_SRC_ADDR_LO, ~lo, udp);
	udp = put16(data + GEN_DECAP_V6_DST_LO, bpf_htons(1 + peer % nhosts), udp);
	csum_fix(data + GEN_DECAP_UDP_CSUM, udp, 1);
}

static __always_inline void vary_encap(void *data, __u32 peer, __u32 nhosts)
{
	__u16 lo = bpf_htons((BENCH_PEER_NET_HI << 8) | (1 + peer % BENCH_PEER_ADDRS));
	__u16 port = bpf_htons(BENCH_PEER_PORT0 + peer / BENCH_PEER_ADDRS);
	__u32 udp = put16(data + GEN_ENCAP_V6_SRC_LO, bpf_htons(1 + peer % nhosts), 0);
	udp = put16(data + GEN_ENCAP_V6_DST_PORT, ~port, udp);
	udp = put16(data + GEN_ENCAP_V6_DST_ADDR_LO, ~lo, udp);
	csum_fix(data + GEN_ENCAP_UDP_CSUM, udp, 1);
}

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;

	struct gen_cfg *cfg = bpf_map_lookup_elem(&gen_config, &zero);
	struct gen_state *st = bpf_map_lookup_elem(&gen_state, &zero);
	if (!cfg || !st || cfg->nslots == 0)
		return XDP_ABORTED;
	__u64 seq = st->seq;
	if (cfg->max_seq && seq >= cfg->max_seq)
		goto idle;
	__u64 now = 0;
	if (cfg->interval_ps || cfg->stop_ns) {
		now = bpf_ktime_get_ns();
		if (cfg->stop_ns && now >= cfg->stop_ns)
			goto idle;
	}
	if (cfg->interval_ps) {
		__u64 now_ps = now * 1000;
		if (now_ps < st->next_ps)
			goto idle;
		__u64 floor = now_ps - cfg->burst_ps;
		if (st->next_ps < floor)
			st->next_ps = floor;
		st->next_ps += cfg->interval_ps;
	}
	st->seq = seq + 1;
	__u32 key = seq % cfg->nslots;
	struct gen_slot *slot = bpf_map_lookup_elem(&gen_slots, &key);
	if (!slot)
		return XDP_ABORTED;
	if (data + GEN_SLOT_HDR > end)
		return XDP_ABORTED;
	__builtin_memcpy(data, slot->hdr, GEN_SLOT_HDR);
	/*
	 * Live frames reuse page-pool pages without re-copying the data, so a
	 * page may still hold the probe record another slot wrote past the
	 * header (mixed traffic: a decap probe ends 26 bytes into an encap
	 * frame's payload). The template is zero there (loadgen checks it), so
	 * clearing it restores the template.
	 */
	if (data + GEN_SLOT_HDR + sizeof(struct bench_probe) <= end)
		__builtin_memset(data + GEN_SLOT_HDR, 0, sizeof(struct bench_probe));

	__u32 peer = slot->peer;
	if (slot->vary != GEN_VARY_NONE) {
		__u32 npeers = cfg->npeers ? cfg->npeers : 1;
		__u32 nhosts = cfg->nhosts ? cfg->nhosts : 1;
		peer += (__u32)((seq / cfg->nslots) % npeers);
		if (slot->vary == GEN_VARY_DECAP)
			vary_decap(data, peer, nhosts);
		else if (slot->vary == GEN_VARY_ENCAP)
			vary_encap(data, peer, nhosts);
	}

	__u32 off = slot->probe_off;
	if (off > GEN_MAX_PROBE_OFF)
		return XDP_ABORTED;
	struct bench_probe *p = data + off;
	if ((void *)(p + 1) > end)
		return XDP_ABORTED;
	p->magic = BENCH_MAGIC;
	p->seq = seq;
	p->peer = peer;
	p->pad = 0;
	if ((seq & cfg->probe_mask) == 0) {
		p->flags = slot->flags | BENCH_FLAG_PROBE;
		p->ts = bpf_ktime_get_ns();
		st->probes++;
	} else {
		p->flags = slot->flags;
		p->ts = 0;
	}
	/*
	 * The template's payload under the probe record is zero, so the probe's
	 * words are added to the checksum as they are.
	 */
	__u16 *w = (__u16 *)p;
	__u32 acc = 0;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(*p) / 2); i++)
		acc += w[i];
	/*
	 * Constant offsets only: the verifier cannot bound a variable one here
	 * (the compiler drops the range check it deems implied by the slot
	 * header check above).
	 */
	if (slot->csum_off == GEN_DECAP_UDP_CSUM)
		csum_fix(data + GEN_DECAP_UDP_CSUM, acc, 1);
	else if (slot->csum_off == GEN_ENCAP_UDP_CSUM)
		csum_fix(data + GEN_ENCAP_UDP_CSUM, acc, 1);
	if (slot->egress == GEN_EGRESS_REDIRECT)
		return bpf_redirect(cfg->redirect_ifindex, 0);
	return XDP_TX;
idle:
	st->idle++;
	return XDP_DROP;
}

char __license[] SEC("license") = "GPL";
