/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared definitions of the benchmark's XDP programs (gen.c, sink.c) and
 * the Go side (probe.go mirrors struct bench_probe and the constants).
 * Only the subset of the Linux UAPI the programs use, as in bpf/include/uapi.h,
 * so that the object does not depend on the build host's kernel headers.
 */
#ifndef BENCH_H
#define BENCH_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef signed int __s32;
typedef unsigned long long __u64;
typedef signed long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u16 __sum16;
typedef __u32 __wsum;

enum bpf_map_type {
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
};

enum xdp_action {
	XDP_ABORTED = 0,
	XDP_DROP,
	XDP_PASS,
	XDP_TX,
	XDP_REDIRECT,
};

struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_UDP 17
#define TEREDO_PORT 3544

struct ethhdr {
	__u8 h_dest[6];
	__u8 h_source[6];
	__be16 h_proto;
};

struct iphdr {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__sum16 check;
	__be32 saddr;
	__be32 daddr;
};

struct ipv6hdr {
	__u8 ver_tc;
	__u8 tc_flow_lbl[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__be32 saddr[4];
	__be32 daddr[4];
};

struct udphdr {
	__be16 source;
	__be16 dest;
	__be16 len;
	__sum16 check;
};

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
