// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * netattr: per-cgroup traffic accounting.
 *
 * Every program and map lives in this file. The tc classifiers attribute each packet to the
 * cgroup of the socket that sent it (accounting.md, tc rules 2 and 3):
 *   - the skb carries a socket: at tc it is always the sender's, so its cgroup gets tx;
 *   - no socket: the unresolved bucket (key 0), egress as tx, ingress as rx.
 * Packets count wire segments (gso_segs, 1 when 0); bytes are skb->len (L2 at tc).
 *
 * The programs never drop or change traffic: they return TC_ACT_UNSPEC, which lets the
 * packet continue to the next filter on the hook (TC_ACT_OK would end classification and
 * hide the packet from filters placed after netattr's).
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "netattr.h"

#define EEXIST 17

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240 + 2); /* `load --max-entries` overrides; +2 reserved keys */
	__type(key, __u64);
	__type(value, struct counters);
} stats_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct health);
} health SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct meta);
} meta SEC(".maps");

/* Written and read by userspace only: which interfaces netattr attached to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* ifindex */
	__type(value, struct attachment);
} attachments SEC(".maps");

static __always_inline struct health *health_slot(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&health, &zero);
}

/* Slow path: the first packet of a cgroup id. Inserts the key (BPF_NOEXIST, so a racing
 * CPU's insert is kept), announces it on the ring buffer, and falls back to the overflow
 * bucket when the map is full. */
static __noinline struct counters *insert_key(void *map, __u64 cgid, __u32 ifindex, __u32 hook)
{
	struct counters zero = {};
	struct health *h;
	long err;

	err = bpf_map_update_elem(map, &cgid, &zero, BPF_NOEXIST);
	if (err == 0) {
		struct first_seen ev = {
			.cgroup_id = cgid,
			.ts_ns = bpf_ktime_get_boot_ns(),
			.ifindex = ifindex,
			.hook = hook,
		};
		if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0) != 0) {
			h = health_slot();
			if (h)
				h->ringbuf_drops++;
		}
	} else if (err != -EEXIST) {
		h = health_slot();
		if (h)
			h->insert_failures++;
		cgid = CGID_OVERFLOW;
	}
	return bpf_map_lookup_elem(map, &cgid);
}

static __always_inline void account(void *map, __u64 cgid, __u64 bytes, __u64 packets, bool tx,
				    __u32 ifindex, __u32 hook)
{
	struct counters *c = bpf_map_lookup_elem(map, &cgid);

	if (!c) {
		c = insert_key(map, cgid, ifindex, hook);
		if (!c)
			return; /* the reserved keys are removed only by cleanup */
	}
	/* Per-CPU value: plain adds, no atomics needed. */
	if (tx) {
		c->tx_bytes += bytes;
		c->tx_packets += packets;
	} else {
		c->rx_bytes += bytes;
		c->rx_packets += packets;
	}
}

static __always_inline void count_tc(struct __sk_buff *skb, bool egress, __u32 hook)
{
	__u64 cgid = bpf_skb_cgroup_id(skb); /* 0 when the skb has no full socket */
	__u32 segs = skb->gso_segs;

	/* A socket at tc is always the sender's, whatever the direction. */
	account(&stats_map, cgid, skb->len, segs ? segs : 1, cgid ? true : egress, skb->ifindex,
		hook);
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	count_tc(skb, false, HOOK_TC_INGRESS);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	count_tc(skb, true, HOOK_TC_EGRESS);
	return TC_ACT_UNSPEC;
}
