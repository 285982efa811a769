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

#ifndef BPF_F_MMAPABLE
#define BPF_F_MMAPABLE (1U << 10) /* linux/bpf.h: map_flags, not in the shared uapi.h subset */
#endif

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
	__u32 peer; /* index of the emulated peer (client) the packet belongs to */
	__u32 pad;
};

/*
 * Emulated peers. Peer p is the Teredo client whose NAT mapping is
 * 203.0.113.(1 + p % 250):(20000 + p / 250), behind the server in the
 * slot's Teredo address, talking to native host 2001:db8:1::(1 + p % nhosts).
 * The Go side (loadgen.ClientAt, NativeHost) uses the same formulas.
 */
#define BENCH_PEER_ADDRS 250
#define BENCH_PEER_NET_HI 113 /* third byte of 203.0.113.0/24 */
#define BENCH_PEER_PORT0 20000
#define BENCH_MAX_PEERS (1u << 24) /* the sink's per-peer bitmaps; the mapping formula allows 11.38 M */

/* Generator: each slot is the first GEN_SLOT_HDR bytes of one packet variant. */
#define GEN_SLOT_HDR 96
#define GEN_MAX_SLOTS 65536
#define GEN_MAX_PROBE_OFF 256

#define GEN_EGRESS_TX 0       /* XDP_TX: out of the ingress device */
#define GEN_EGRESS_REDIRECT 1 /* bpf_redirect to gen_cfg.redirect_ifindex */

/*
 * Per-packet peer variation: frame seq uses slot seq % nslots and peer
 * slot.peer + (seq / nslots) % npeers; a varying slot's header is rewritten
 * for that peer (a few 16-bit words, checksums fixed incrementally), so one
 * slot stands for up to BENCH_MAX_PEERS peers. Offsets assume the layouts
 * loadgen builds: Ethernet, IPv4 without options, UDP, IPv6 (decap);
 * Ethernet, IPv6 (encap).
 */
#define GEN_VARY_NONE 0
#define GEN_VARY_DECAP 1 /* outer IPv4 source, UDP source port, Teredo source, native destination */
#define GEN_VARY_ENCAP 2 /* native source, Teredo destination */

#define GEN_DECAP_IP4_CSUM 24
#define GEN_DECAP_IP4_SRC_LO 28 /* last two bytes of the outer IPv4 source */
#define GEN_DECAP_UDP_SPORT 34
#define GEN_DECAP_V6_SRC_PORT 60 /* Teredo source: obfuscated port */
#define GEN_DECAP_V6_SRC_ADDR_LO 64 /* Teredo source: last two bytes of the obfuscated address */
#define GEN_DECAP_V6_DST_LO 80 /* native destination: last two bytes */
#define GEN_DECAP_UDP_CSUM 88 /* inner UDP checksum */
#define GEN_ENCAP_V6_SRC_LO 36
#define GEN_ENCAP_V6_DST_PORT 48
#define GEN_ENCAP_V6_DST_ADDR_LO 52
#define GEN_ENCAP_UDP_CSUM 60

struct gen_slot {
	__u8 hdr[GEN_SLOT_HDR];
	__u32 flags;     /* kind << BENCH_KIND_SHIFT */
	__u16 probe_off; /* offset of struct bench_probe in the frame */
	__u16 egress;    /* GEN_EGRESS_* */
	__u32 peer;      /* peer of the slot's header (the first of its variations) */
	__u16 vary;      /* GEN_VARY_* */
	__u16 csum_off;  /* inner UDP checksum covering the probe record: GEN_DECAP_UDP_CSUM, GEN_ENCAP_UDP_CSUM, or 0 (none) */
};

struct gen_cfg {
	__u32 nslots;
	__u32 redirect_ifindex; /* second egress device, same namespace */
	__u32 npeers;           /* peers a varying slot cycles over (>= 1) */
	__u32 nhosts;           /* native hosts (>= 1) */
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
/* Per-peer bitmaps of delivered legitimate packets: kind 0 (decap), kind 1 (encap). */
#define SINK_PEER_KINDS 2
#define SINK_PEER_WORDS (BENCH_MAX_PEERS / 64)

#endif
