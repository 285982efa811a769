/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared definitions of the benchmark's XDP programs (gen.c, sink.c) and
 * the Go side (probe.go mirrors struct bench_probe and the constants).
 * The kernel UAPI definitions come from bpf/include/uapi.h (the same subset
 * steer.c uses), so that the objects do not depend on the build host's
 * kernel headers.
 */
#ifndef BENCH_H
#define BENCH_H

#include "uapi.h" /* bpf/include: kernel UAPI subset shared with steer.c */

#define TEREDO_PORT 3544

/*
 * The probe record sits at the start of the inner UDP payload of every
 * generated packet. Fields are little-endian (host order on both ends).
 */
#define BENCH_MAGIC 0x7e4eb3c4u
#define BENCH_FLAG_PROBE 0x1u /* ts is a send timestamp (bpf_ktime_get_ns) */
#define BENCH_KIND_SHIFT 8
#define BENCH_KIND_MASK 0xfu

struct bench_probe {
	__u32 magic;
	__u32 flags; /* BENCH_FLAG_PROBE | kind << BENCH_KIND_SHIFT */
	__u64 seq;
	__u64 ts;
};

/* Generator: each slot is the first GEN_SLOT_HDR bytes of one packet variant. */
#define GEN_SLOT_HDR 96
#define GEN_MAX_SLOTS 65536
#define GEN_MAX_PROBE_OFF 256

#define GEN_EGRESS_TX 0       /* XDP_TX: out of the ingress device */
#define GEN_EGRESS_REDIRECT 1 /* bpf_redirect to gen_cfg.redirect_ifindex */

struct gen_slot {
	__u8 hdr[GEN_SLOT_HDR];
	__u32 flags;     /* kind << BENCH_KIND_SHIFT */
	__u16 probe_off; /* offset of struct bench_probe in the frame */
	__u16 egress;    /* GEN_EGRESS_* */
};

struct gen_cfg {
	__u32 nslots;
	__u32 redirect_ifindex; /* second egress device, same namespace */
	__u64 probe_mask;  /* seq & probe_mask == 0 marks a probe */
	__u64 interval_ps; /* pacing: picoseconds between frames; 0 = as fast as possible */
	__u64 burst_ps;    /* pacing: how far the schedule may lag behind (burst allowance) */
	__u64 max_seq;     /* stop transmitting once seq reaches it; 0 = no bound */
	__u64 stop_ns;     /* stop transmitting at this bpf_ktime_get_ns(); 0 = no bound */
};

struct gen_state {
	__u64 seq;     /* frames transmitted (XDP_TX) */
	__u64 probes;  /* of which timestamped */
	__u64 idle;    /* runs that transmitted nothing (pacing or bounds) */
	__u64 next_ps; /* pacing schedule: earliest time of the next frame */
};

/* Sink: per-CPU counters, indexed by kind, then the latency histograms. */
#define SINK_KINDS 16
#define SINK_CTR_PKTS(k) ((k) * 2)
#define SINK_CTR_BYTES(k) ((k) * 2 + 1)
#define SINK_CTR_PASSED (SINK_KINDS * 2)     /* handed to the kernel (bubbles to the server, ARP, ND) */
#define SINK_CTR_OTHER (SINK_KINDS * 2 + 1)  /* not a generated packet: dropped */
#define SINK_CTR_PROBES (SINK_KINDS * 2 + 2) /* probes with a timestamp */
#define SINK_NCTR (SINK_KINDS * 2 + 3)
#define SINK_HIST_KINDS 4 /* latency is recorded for kinds 0..3 */
#define SINK_HIST_BUCKETS 512

#endif
