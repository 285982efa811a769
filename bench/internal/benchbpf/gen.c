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
 */
#include "bench.h"
#include "bpf/bpf_helpers.h"

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

	__u32 off = slot->probe_off;
	if (off > GEN_MAX_PROBE_OFF)
		return XDP_ABORTED;
	struct bench_probe *p = data + off;
	if ((void *)(p + 1) > end)
		return XDP_ABORTED;
	p->magic = BENCH_MAGIC;
	p->seq = seq;
	if ((seq & cfg->probe_mask) == 0) {
		p->flags = slot->flags | BENCH_FLAG_PROBE;
		p->ts = bpf_ktime_get_ns();
		st->probes++;
	} else {
		p->flags = slot->flags;
		p->ts = 0;
	}
	if (slot->egress == GEN_EGRESS_REDIRECT)
		return bpf_redirect(cfg->redirect_ifindex, 0);
	return XDP_TX;
idle:
	st->idle++;
	return XDP_DROP;
}

char __license[] SEC("license") = "GPL";
