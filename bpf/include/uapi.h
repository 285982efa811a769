/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * The few kernel UAPI definitions steer.c and the benchmark's XDP programs
 * (bench/internal/benchbpf) need, written out by hand so that
 * the generated object does not depend on the linux-libc-dev version of the
 * machine that runs `go generate` (BTF would otherwise change with it).
 * Layouts and values follow include/uapi/linux/{bpf,if_ether,ip,ipv6,udp}.h;
 * they are kernel ABI and do not change. Header structs carry no bitfields:
 * version/IHL nibbles are extracted explicitly, so the layout is the same on
 * either byte order.
 */
#ifndef STEER_UAPI_H
#define STEER_UAPI_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef signed short __s16;
typedef unsigned short __u16;
typedef signed int __s32;
typedef unsigned int __u32;
typedef signed long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u16 __sum16;
typedef __u32 __wsum;

/* include/uapi/linux/bpf.h */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_XSKMAP = 17,
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

/* include/uapi/linux/if_ether.h */
#define ETH_ALEN 6
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021AD 0x88A8

struct ethhdr {
	__u8 h_dest[ETH_ALEN];
	__u8 h_source[ETH_ALEN];
	__be16 h_proto;
} __attribute__((packed));

/* include/linux/if_vlan.h (struct vlan_hdr, kernel-internal but wire format) */
struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

/* include/uapi/linux/in.h, in6.h */
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58

/* include/uapi/linux/ip.h; ver_ihl = version << 4 | IHL */
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

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

/* include/uapi/linux/ipv6.h; version is the high nibble of ver_tc */
struct ipv6hdr {
	__u8 ver_tc;
	__u8 tc_flow_lbl[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__be32 saddr[4];
	__be32 daddr[4];
};

/* include/uapi/linux/udp.h */
struct udphdr {
	__be16 source;
	__be16 dest;
	__be16 len;
	__sum16 check;
};

/* include/uapi/linux/icmpv6.h: Neighbor Discovery message types (RFC 4861) */
#define NDISC_ROUTER_SOLICITATION 133
#define NDISC_REDIRECT 137

#endif /* STEER_UAPI_H */
