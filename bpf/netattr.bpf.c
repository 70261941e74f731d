// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * netattr: per-cgroup traffic accounting. Every program and map lives in this file; the
 * contract is docs/accounting.md. Two sources, never added together:
 *
 * socket: cgroup_skb ingress/egress attached at a cgroup (the cgroup2 root by default).
 *   Each packet belongs to the cgroup of the local socket that receives (rx) or sends (tx)
 *   it. Bytes are L3 (skb->len at this hook). Map: sock_stats.
 *
 * tc: clsact classifiers on chosen interfaces. Bytes are L2 (skb->len). For each packet:
 *   1. the interface has an owner (iface_owner: a host-side veth whose peer is in a
 *      container's network namespace): egress on it is the owner's rx, ingress its tx;
 *   2. else the skb has a socket: at tc it is always the sender's, so its cgroup gets tx;
 *   3. else the unresolved bucket (cgroup id 0): egress as tx, ingress as rx.
 *   Maps: stats_map (per cgroup); with `load --breakdown iface`, iface_stats (per cgroup
 *   and interface) too.
 *
 * Per-cgroup counters take a fast path (see COUNTER_SLOTS in netattr.h): a cgroup that
 * holds its home slot is counted there, with no hash lookup; the others in the hash. Every
 * counted cgroup has its hash entry (inserted at its first packet), so capacity, overflow
 * and first-seen events are the hash's; a reader sums slot and hash row.
 *
 * With `load --breakdown port`, both sources also feed port_stats, keyed by (cgroup,
 * protocol, service port, source); with `load --breakdown class`, class_stats, keyed by
 * (cgroup, destination class of the packet's remote address, source). The breakdowns are opt-in because each costs a map
 * update per packet (measured in README.md, "Cost per packet").
 * Packets are wire packets: gso_segs, or 1. Counters are per-CPU and updated in place
 * (atomically where a program can interrupt itself on one CPU, see add());
 * a key is inserted once (BPF_NOEXIST); when a bounded map is full the packet goes to its
 * overflow key and health.insert_failures grows. Nothing is dropped or changed: tc
 * programs return TC_ACT_UNSPEC (continue with the next filter), cgroup programs allow.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netattr.h"

#define EEXIST 17

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by `netattr load --breakdown` before the programs are verified; off, the verifier
 * removes the breakdown's code from the per-packet path. */
const volatile bool count_ports = false;
const volatile bool count_ifaces = false;
const volatile bool count_classes = false;
const volatile bool count_peers = false; /* `--breakdown peer`: implies count_classes */
/* Set by `netattr load` where the kernel has BPF compare-and-swap (Linux 5.12+), which
 * claiming a slot needs; off, the verifier removes the fast path and every cgroup is
 * counted in its hash, as on older kernels (or with `load --no-fast-path`). */
const volatile bool fast_path = false;
/* The kernel has bpf_cast_to_kern_ctx and bpf_rdonly_cast (Linux 6.3+): headers and the
 * socket are read in place. Set by `netattr load` from the kernel's BTF, so that the
 * verifier drops the path not taken (a bpf_ksym_exists test stays in the program). */
const volatile bool kern_ctx = false;

#define COUNTER_MAP(name, keytype)                                                          \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_PERCPU_HASH);                                     \
		__uint(max_entries, 10240 + 2); /* `load --max-entries` overrides */        \
		__type(key, keytype);                                                       \
		__type(value, struct counters);                                             \
	} name SEC(".maps")

COUNTER_MAP(stats_map, __u64);
COUNTER_MAP(sock_stats, __u64);
COUNTER_MAP(iface_stats, struct iface_key);

/* The fast path of stats_map (tc_*) and sock_stats (sock_*): slot -> owner cgroup id, and
 * slot -> per-CPU counters. */
#define SLOT_OWNERS(name)                                                                   \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                           \
		__uint(map_flags, BPF_F_MMAPABLE); /* readers map it: no copy per slot */  \
		__uint(max_entries, COUNTER_SLOTS);                                         \
		__type(key, __u32);                                                         \
		__type(value, __u64);                                                       \
	} name SEC(".maps")
#define SLOT_COUNTERS(name)                                                                 \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                    \
		__uint(max_entries, COUNTER_SLOTS);                                         \
		__type(key, __u32);                                                         \
		__type(value, struct counters);                                             \
	} name SEC(".maps")

SLOT_OWNERS(tc_slot_owner);
SLOT_COUNTERS(tc_slots);
SLOT_OWNERS(sock_slot_owner);
SLOT_COUNTERS(sock_slots);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16384); /* a breakdown: least recently used ports are evicted */
	__type(key, struct port_key);
	__type(value, struct counters);
} port_stats SEC(".maps");

/* Destination classes (netattr.h): class_table4 holds the instance's cells (both families)
 * and class_table6 its trie, which `netattr load` and `netattr classes set` build whole and
 * swap in; class_stats counts per (cgroup, class, source) and is never evicted, so that a
 * cgroup's classes add up to its row; the class lanes of the slots are its fast path.
 * class_names (id -> name) is written and read by userspace only. */
struct class_cells {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* one value: the cells are read with plain loads */
	__type(key, __u32);
	__type(value, __u16[CLASS_TABLE_CELLS]);
};

struct class6_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CLASS_PREFIXES);
	__uint(key_size, sizeof(struct class_prefix));
	__uint(value_size, sizeof(__u32));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct class_cells);
} class_table4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct class6_trie);
} class_table6 SEC(".maps");

COUNTER_MAP(class_stats, struct class_key);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CLASS_MAX);
	__type(key, __u32);
	__type(value, char[CLASS_NAME]);
} class_names SEC(".maps");

/* The per-peer breakdown (`load --breakdown peer`): bytes per (cgroup, remote address,
 * class, source) for the classes peer_classes marks, in a bounded hash (`load
 * --peer-entries`; entries are allocated as peers appear). A peer that finds the hash full
 * is counted in peer_other under its (cgroup, class, source) instead, so that a cgroup's
 * peer rows plus its other-peers row equal its class row. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384); /* `load --peer-entries` overrides */
	__type(key, struct peer_key);
	__type(value, struct counters);
} peer_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240 + 2); /* sized like the counter maps by `netattr load` */
	__type(key, struct class_key);
	__type(value, struct counters);
} peer_other SEC(".maps");

/* A source's pool of peer lanes (see PEER_LANES in netattr.h): `<src>_peer_lanes`, the
 * lanes' (slot, address, class), `<src>_peer_slots`, their per-CPU counters, and
 * `<src>_peer_claims`, each slot's count of its lanes and (at PEER_POOL_COUNT) the pool's.
 * `netattr load` sizes them to one entry each without the peer breakdown. */
#define PEER_POOL(src)                                                                      \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                           \
		__uint(max_entries, PEER_CELLS);                                            \
		__type(key, __u32);                                                         \
		__type(value, struct peer_lane);                                            \
	} src##_peer_lanes SEC(".maps");                                                    \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                    \
		__uint(max_entries, PEER_CELLS);                                            \
		__type(key, __u32);                                                         \
		__type(value, struct counters);                                             \
	} src##_peer_slots SEC(".maps");                                                    \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                           \
		__uint(max_entries, COUNTER_SLOTS + 1);                                     \
		__type(key, __u32);                                                         \
		__type(value, __u64);                                                       \
	} src##_peer_claims SEC(".maps")

PEER_POOL(tc);
PEER_POOL(sock);

/* Bit c of word c / 64: class c is counted per peer. Written by `netattr load`. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[PEER_CLASS_WORDS]);
} peer_classes SEC(".maps");

/* The class lanes of each source's slots (netattr.h, CLASS_LANES); `netattr load` sizes
 * them down to one entry when classes are not counted. */
#define CLASS_LANE_NAMES(name)                                                              \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                           \
		__uint(max_entries, COUNTER_SLOTS);                                         \
		__type(key, __u32);                                                         \
		__type(value, __u64); /* 64-bit: compare-and-swap needs it */               \
	} name SEC(".maps")
#define CLASS_LANE_COUNTERS(name)                                                           \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                    \
		__uint(max_entries, COUNTER_SLOTS * CLASS_LANES);                           \
		__type(key, __u32);                                                         \
		__type(value, struct counters);                                             \
	} name SEC(".maps")

CLASS_LANE_NAMES(tc_class_lanes);
CLASS_LANE_COUNTERS(tc_class_slots);
CLASS_LANE_NAMES(sock_class_lanes);
CLASS_LANE_COUNTERS(sock_class_slots);

/* cgroup id -> its path at first sight (see capture_name). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240 + 2); /* sized like the counter maps by `netattr load` */
	__type(key, __u64);
	__type(value, struct cgroup_name);
} cgroup_names SEC(".maps");

/* Scratch space to build a cgroup_name: it does not fit on the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgroup_name);
} name_scratch SEC(".maps");

/* Written by `netattr attach`: host-side veth ifindex -> cgroup id of its container (0:
 * no owner). Most ifindexes are small: an array indexed by ifindex; the rest in a hash. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OWNER_ARRAY_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} owner_by_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} iface_owner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Never read: puts struct first_seen (the events' record) in the object's BTF, so that the
 * userspace decoder's size is checked against it (src/bpf/layout.rs). */
const volatile struct first_seen first_seen_layout;

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

/* Kernel types read with CO-RE: only the fields used, relocated against the running
 * kernel's BTF. kernfs_node.parent became __parent in Linux 6.15. */
struct kernfs_node {
	const char *name;
	struct kernfs_node *parent;
	struct kernfs_node *__parent;
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

/* The fields of the kernel's sk_buff that say where the network header is, and its socket. */
struct sock;
struct sk_buff {
	unsigned char *head;
	unsigned char *data;
	__u16 network_header;
	struct sock *sk;
} __attribute__((preserve_access_index));

/* What bpf_skb_cgroup_id reads of a socket (Linux 5.15+ layout of sock_cgroup_data). */
struct sock_cgroup_data {
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

/* skc_listener: a request socket's listener (request_sock's rsk_listener). */
struct sock_common {
	unsigned char skc_state;
	struct sock *skc_listener;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	struct sock_cgroup_data sk_cgrp_data;
} __attribute__((preserve_access_index));

#define NA_TCP_TIME_WAIT 6
#define NA_TCP_NEW_SYN_RECV 12

/* Weak: on a kernel without these kfuncs the code that needs them is removed at load time. */
extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym __weak;
extern struct cgroup *bpf_cgroup_from_id(__u64 cgid) __ksym __weak;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym __weak;

/*
 * What bpf_skb_cgroup_id returns, without the helper call: the cgroup id of the packet's
 * full socket (a request socket's listener; none for a time-wait socket or no socket: 0).
 * Read through the kernel's sk_buff (bpf_cast_to_kern_ctx and bpf_rdonly_cast, both
 * inlined by the verifier; Linux 6.3+), each load a checked one (a fault reads 0); else
 * the helper. Measured in BENCHMARKS.md.
 */
static __always_inline __u64 skb_cgroup_id(struct __sk_buff *skb)
{
	if (kern_ctx && bpf_core_field_exists(((struct sock_cgroup_data *)0)->cgroup)) {
		struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
		struct sock *sk = k->sk;
		struct cgroup *cg;
		__u8 state;

		if (!sk)
			return 0;
		state = sk->__sk_common.skc_state;
		if (state == NA_TCP_NEW_SYN_RECV) {
			/* A pointer in a union, read as a number: cast back (inlined). */
			sk = bpf_core_cast(sk->__sk_common.skc_listener, struct sock);
			if (!sk)
				return 0;
			state = sk->__sk_common.skc_state;
		}
		if (state == NA_TCP_TIME_WAIT || state == NA_TCP_NEW_SYN_RECV)
			return 0;
		cg = sk->sk_cgrp_data.cgroup;
		if (!cg)
			return 0;
		return cg->kn->id;
	}
	return bpf_skb_cgroup_id(skb);
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ(kn, parent);
}

/* Records the path of a cgroup seen for the first time, so that a workload that exits
 * a moment later can still be named. Runs once per cgroup, never on the per-packet path. */
static __always_inline void capture_name(__u64 cgid)
{
	struct cgroup_name *n;
	struct kernfs_node *kn;
	struct cgroup *cg;
	__u32 zero = 0, off = 0, i;

	if (!bpf_ksym_exists(bpf_cgroup_from_id) || !bpf_ksym_exists(bpf_cgroup_release))
		return;
	n = bpf_map_lookup_elem(&name_scratch, &zero);
	if (!n)
		return;
	cg = bpf_cgroup_from_id(cgid);
	if (!cg)
		return;
	kn = BPF_CORE_READ(cg, kn);
	n->complete = 0;
	n->depth = 0;
	for (i = 0; i < NAME_DEPTH && kn; i++) {
		struct kernfs_node *up = kn_parent(kn);
		long len;

		const char *name;
		char more = 0;

		if (!up) { /* the root: its name is empty */
			n->complete |= NAME_COMPLETE;
			break;
		}
		if (off > NAME_BYTES - NAME_PART)
			break;
		name = BPF_CORE_READ(kn, name);
		len = bpf_probe_read_kernel_str(&n->path[off], NAME_PART, name);
		if (len <= 0)
			break;
		/* A full-length read: was there more of the name? */
		if (len == NAME_PART && !bpf_probe_read_kernel(&more, 1, name + NAME_PART - 1) && more)
			n->complete |= 1U << (NAME_CUT_SHIFT + i);
		off += len;
		n->depth++;
		kn = up;
	}
	bpf_cgroup_release(cg);
	bpf_map_update_elem(&cgroup_names, &cgid, n, BPF_NOEXIST);
}

static __always_inline struct health *health_slot(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&health, &zero);
}

/* Keys the packets of a full map are counted under (inserted by `netattr load`). */
static const __u64 overflow_cgid = CGID_OVERFLOW;
static const struct iface_key overflow_iface = { .cgroup_id = CGID_OVERFLOW };

/* A cgroup's home slot. Slot 0 is the unresolved bucket's alone. */
static __always_inline __u32 home_slot(__u64 cgid)
{
	__u32 s = (__u32)((cgid * HASH_MUL) >> COUNTER_SLOT_SHIFT);

	if (!cgid)
		return 0;
	return s ? s : 1;
}

/* Takes the home slot of a cgroup just inserted in the hash, if no cgroup holds it. */
static __always_inline void claim_slot(void *owners, __u64 cgid)
{
	__u32 s = home_slot(cgid);
	__u64 *o;

	if (!s)
		return;
	o = bpf_map_lookup_elem(owners, &s);
	if (o)
		__sync_val_compare_and_swap(o, SLOT_FREE, cgid);
}

/* The counters of `key`, inserting it on its first packet. A per-cgroup map passes a
 * non-zero `hook`: the cgroup id (the u64 key) is then announced on the ring buffer when
 * this call inserted it, and `owners` (if given) has its home slot claimed for it.
 * `overflow`, if given, is the key to count under when the map is full. The event is built
 * only on that first insert, never on the per-packet path. */
static __always_inline struct counters *slot(void *map, const void *key, const void *overflow,
					     __u32 ifindex, __u32 hook, void *owners, bool *spilled)
{
	struct counters *c = bpf_map_lookup_elem(map, key);
	struct counters zero = {};
	struct health *h;
	long err;

	if (c)
		return c;
	err = bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
	if (err == 0 && hook) {
		if (fast_path && owners)
			claim_slot(owners, *(const __u64 *)key);
		capture_name(*(const __u64 *)key);
		struct first_seen ev = {
			.cgroup_id = *(const __u64 *)key,
			.ts_ns = bpf_ktime_get_boot_ns(),
			.ifindex = ifindex,
			.hook = hook,
		};
		if (bpf_ringbuf_output(&events, &ev, sizeof(ev), 0) != 0) {
			h = health_slot();
			if (h)
				h->ringbuf_drops++;
		}
	} else if (err != 0 && err != -EEXIST && overflow) {
		h = health_slot();
		if (h)
			h->insert_failures++;
		key = overflow;
		if (spilled)
			*spilled = true;
	}
	return bpf_map_lookup_elem(map, key);
}

/* A cgroup's counters in one source: its slot when it holds it (the per-packet path), else
 * its hash entry (inserted, announced and given a slot on its first packet). When the hash
 * is full the packet is counted under the overflow key, and *cgid becomes that key, so that
 * the breakdowns count it where its row does. *held is the slot the cgroup holds, or
 * NO_SLOT. */
#define NO_SLOT 0xffffffffu

static __always_inline struct counters *cgroup_counters(void *hash, void *owners, void *slots,
							__u64 *cgid, __u32 ifindex, __u32 hook,
							__u32 *held)
{
	struct counters *c;
	bool spilled = false;

	*held = NO_SLOT;
	if (fast_path) {
		__u32 s = home_slot(*cgid);
		__u64 *o = bpf_map_lookup_elem(owners, &s);

		if (o && *o == *cgid) {
			*held = s;
			return bpf_map_lookup_elem(slots, &s);
		}
	}
	c = slot(hash, cgid, &overflow_cgid, ifindex, hook, owners, &spilled);
	if (spilled)
		*cgid = CGID_OVERFLOW;
	return c;
}

/*
 * Adds to a per-CPU value. tc programs run with bottom halves disabled, so nothing else
 * touches this CPU's slot meanwhile and plain adds are exact. cgroup_skb egress runs in
 * process context with only migration disabled: a softirq on the same CPU sending for
 * another socket of the same cgroup (TCP transmits from ACK processing) can run between a
 * load and its store, and a plain add would lose that increment. The socket programs
 * therefore add atomically. (Not observed as a loss in 12 interleaved 200 MB iperf3 runs,
 * where socket and tc always agreed to the 14-byte Ethernet header per skb; the slot is
 * still this CPU's, so the atomic never contends across CPUs.)
 */
static __always_inline void add(struct counters *c, __u64 bytes, __u64 packets, bool tx,
				bool atomic)
{
	if (!c)
		return;
	if (atomic) {
		if (tx) {
			__sync_fetch_and_add(&c->tx_bytes, bytes);
			__sync_fetch_and_add(&c->tx_packets, packets);
		} else {
			__sync_fetch_and_add(&c->rx_bytes, bytes);
			__sync_fetch_and_add(&c->rx_packets, packets);
		}
	} else if (tx) {
		c->tx_bytes += bytes;
		c->tx_packets += packets;
	} else {
		c->rx_bytes += bytes;
		c->rx_packets += packets;
	}
}

/* Loads from the packet relative to its network header, wherever that is: after an
 * Ethernet header on most devices, at the start on layer-3 devices (WireGuard, tun, ipip)
 * and at the cgroup_skb hooks. */
static __always_inline long load_net(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes_relative(skb, off, to, len, BPF_HDR_START_NET);
}

/* Copies `len` bytes from the packet at `p` to `to`: an address (4 or 16 bytes, `to`
 * aligned to its size) in word loads, other lengths as memcpy does (a byte at a time, as
 * clang cannot know the packet's alignment). The verifier allows unaligned packet loads on
 * CPUs that do them cheaply (x86-64, arm64); an IPv6 address is two loads instead of 16. */
static __always_inline void copy_net(void *to, const void *p, __u32 len)
{
	if (len == 16) {
		((__u64 *)to)[0] = ((const __u64 *)p)[0];
		((__u64 *)to)[1] = ((const __u64 *)p)[1];
	} else if (len == 4) {
		*(__u32 *)to = *(const __u32 *)p;
	} else {
		__builtin_memcpy(to, p, len);
	}
}

/* Copies `len` bytes at `off` from the packet's network header into `to`: read in place
 * where the header is in the packet's linear data and the kernel lets the program find it
 * (bpf_cast_to_kern_ctx, Linux 6.3+), else through bpf_skb_load_bytes_relative, which costs
 * a helper call (measured in BENCHMARKS.md). */
static __always_inline long load_net_fast(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	if (kern_ctx) {
		struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
		long nh = (long)(k->head + k->network_header) - (long)k->data;
		void *d = (void *)(long)skb->data, *e = (void *)(long)skb->data_end;

		if (nh >= 0 && nh <= 128 && d + nh + off + len <= e) {
			copy_net(to, d + nh + off, len);
			return 0;
		}
	}
	return load_net(skb, off, to, len);
}

#define IPV6_EXT_HEADERS 4 /* extension headers walked before giving up (port 0) */

/* Fills k->proto and k->port. The service port is the smaller of the two ports, so that a
 * server's listening port and its clients' ephemeral ports land on one row. IPv6
 * extension headers (hop-by-hop, routing, destination options, fragment) are walked to
 * the transport header; non-first fragments have no ports and give port 0. */
static __always_inline void service_port(struct __sk_buff *skb, struct port_key *k)
{
	__u16 ports[2];
	__u32 l4;
	__u8 b[10];

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		/* b[0]: version+ihl, b[6..8]: flags+fragment offset, b[9]: protocol */
		if (load_net_fast(skb, 0, b, 10))
			return;
		k->proto = b[9];
		if ((((__u16)b[6] << 8) | b[7]) & 0x1fff)
			return;
		l4 = (b[0] & 0xf) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		__u8 nh;
		int i;

		if (load_net_fast(skb, 6, &nh, 1))
			return;
		l4 = 40;
		for (i = 0; i < IPV6_EXT_HEADERS; i++) {
			if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
				/* b[0]: next header, b[1]: length in 8-byte units, not counting the first */
				if (load_net_fast(skb, l4, b, 2))
					return;
				nh = b[0];
				l4 += ((__u32)b[1] + 1) * 8;
			} else if (nh == IPPROTO_FRAGMENT) {
				/* b[0]: next header, b[2..4]: offset (13 bits) and flags */
				if (load_net_fast(skb, l4, b, 4))
					return;
				nh = b[0];
				if ((((__u16)b[2] << 8) | b[3]) & 0xfff8) {
					k->proto = nh; /* a later fragment: no ports */
					return;
				}
				l4 += 8;
			} else {
				break;
			}
		}
		k->proto = nh;
	} else {
		return;
	}
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP && k->proto != IPPROTO_SCTP)
		return;
	if (load_net_fast(skb, l4, ports, sizeof(ports)))
		return;
	ports[0] = bpf_ntohs(ports[0]);
	ports[1] = bpf_ntohs(ports[1]);
	k->port = ports[0] < ports[1] ? ports[0] : ports[1];
}

static __always_inline void count_port(struct __sk_buff *skb, __u64 cgid, __u8 source, __u64 bytes,
				       __u64 packets, bool tx)
{
	struct port_key k = { .cgroup_id = cgid, .source = source };

	service_port(skb, &k);
	add(slot(&port_stats, &k, 0, 0, 0, 0, 0), bytes, packets, tx, source == SOURCE_SOCKET);
}

static const struct class_key overflow_class_tc = { .cgroup_id = CGID_OVERFLOW, .source = SOURCE_TC };
static const struct class_key overflow_class_sock = { .cgroup_id = CGID_OVERFLOW,
						      .source = SOURCE_SOCKET };

/* Cell `i` of a class table: a plain load from the table's one value. */
static __always_inline __u32 class_cell(const __u16 *cells, __u32 i)
{
	return i < CLASS_CELLS ? cells[i] : CLASS_INTERNET;
}

/* The cell a block cell points to, for the address's byte `b`. */
static __always_inline __u32 class_next(const __u16 *cells, __u32 cell, __u32 b)
{
	return class_cell(cells, CLASS_BLOCKS_AT + (cell & ~CLASS_CELL_BLOCK) * 256 + b);
}

/* The class of IPv6 address a[0..2] in the table's /128 hash, or CLASS_EXACT_EMPTY. */
static __always_inline __u32 class_exact(const __u16 *cells, const __u64 *a)
{
	__u32 h = ((a[0] ^ a[1]) * HASH_MUL) >> (64 - CLASS_EXACT_BITS);

#pragma unroll
	for (int p = 0; p < CLASS_EXACT_PROBES; p++) {
		__u32 at = CLASS_EXACT_AT + ((h + p) & (CLASS_EXACT_SLOTS - 1)) * CLASS_EXACT_STRIDE;
		const __u64 *e = (const __u64 *)(cells + at);
		__u32 class = cells[at + CLASS_EXACT_CLASS];

		if (class == CLASS_EXACT_EMPTY)
			break;
		if (e[0] == a[0] && e[1] == a[1])
			return class;
	}
	return CLASS_EXACT_EMPTY;
}

/* The class of a packet's remote address: its destination when `tx`, else its source.
 * With the peer breakdown, the address goes to `peer` too (IPv4 as ::ffff:a.b.c.d). */
static __always_inline __u32 classify(struct __sk_buff *skb, bool tx, __u64 *peer)
{
	__u32 zero = 0, *c, cell;
	const __u16 *v;
	void *table;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u32 a;

		if (load_net_fast(skb, tx ? 16 : 12, &a, 4))
			return CLASS_NON_IP;
		if (count_peers) {
			peer[0] = 0;
			peer[1] = ((__u64)a << 32) | bpf_htonl(0xffff);
		}
		table = bpf_map_lookup_elem(&class_table4, &zero);
		v = table ? bpf_map_lookup_elem(table, &zero) : 0;
		if (!v)
			return CLASS_INTERNET;
		a = bpf_ntohl(a);
		cell = class_cell(v, a >> 16);
		if (cell & CLASS_CELL_BLOCK) {
			cell = class_next(v, cell, (a >> 8) & 0xff);
			if (cell & CLASS_CELL_BLOCK)
				cell = class_next(v, cell, a & 0xff);
		}
		return cell;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		union {
			__u64 q[2];
			__u8 b[16];
		} a;
		struct class_prefix k = { .prefixlen = 128 };

		if (load_net_fast(skb, tx ? 24 : 8, a.b, 16))
			return CLASS_NON_IP;
		if (count_peers) {
			peer[0] = a.q[0];
			peer[1] = a.q[1];
		}
		table = bpf_map_lookup_elem(&class_table4, &zero);
		v = table ? bpf_map_lookup_elem(table, &zero) : 0;
		if (!v)
			return CLASS_INTERNET;
		cell = class_cell(v, CLASS6_ROOT + ((__u32)a.b[0] << 8 | a.b[1]));
		if (cell & CLASS_CELL_EXACT) {
			__u32 exact = class_exact(v, a.q);

			if (exact != CLASS_EXACT_EMPTY)
				return exact;
			cell &= ~CLASS_CELL_EXACT;
		}
#pragma unroll
		for (int i = 2; i < CLASS6_DEPTH; i++) {
			if (!(cell & CLASS_CELL_BLOCK))
				break;
			cell = class_next(v, cell, a.b[i]);
		}
		if (cell != CLASS_CELL_TRIE)
			return cell;
		table = bpf_map_lookup_elem(&class_table6, &zero);
		if (!table)
			return CLASS_INTERNET;
		__builtin_memcpy(k.addr, a.b, 16);
		c = bpf_map_lookup_elem(table, &k);
		return c ? *c : CLASS_INTERNET;
	}
	return CLASS_NON_IP;
}

/* The lane of `class` in slot `s`, claiming a free one if the class has none: the index of
 * its counters in the lane counter array, or NO_SLOT when the slot's lanes are all taken. */
static __always_inline __u32 class_lane(void *lanes, __u32 s, __u32 class)
{
	__u64 *l = bpf_map_lookup_elem(lanes, &s);
	__u64 w;
	__u32 i;

	if (!l || class >= CLASS_LANE_FREE)
		return NO_SLOT;
	w = *l;
	/* A class keeps its lane while the cgroup holds the slot: look for the class first,
	 * one compare a lane, then (its first packet) claim the first free lane. */
#pragma unroll
	for (i = 0; i < CLASS_LANES; i++)
		if (((w >> (i * 8)) & 0xff) == class)
			return s * CLASS_LANES + i;
#pragma unroll
	for (i = 0; i < CLASS_LANES; i++) {
		if (((w >> (i * 8)) & 0xff) == CLASS_LANE_FREE) {
			/* Lanes are claimed in order: the first free one ends the search. */
			__u64 want = (w & ~(0xffULL << (i * 8))) | ((__u64)class << (i * 8));

			if (__sync_val_compare_and_swap(l, w, want) == w)
				return s * CLASS_LANES + i;
			return NO_SLOT; /* lost a race: this packet takes the hash */
		}
	}
	return NO_SLOT;
}

_Static_assert(PEER_CELLS == COUNTER_SLOTS * PEER_LANES, "the pool holds PEER_LANES lanes a slot");

/* The first of the PEER_PROBES lanes of (slot, address, class) in the pool. */
static __always_inline __u32 peer_cell(__u32 s, __u32 cls, const __u64 *addr)
{
	__u64 x = addr[0] ^ (addr[1] * HASH_MUL) ^ ((__u64)s << 40) ^ ((__u64)cls << 24);

	return (__u32)((x * HASH_MUL) >> (64 - PEER_CELL_BITS));
}

/* The counters of the peer lane of (addr, class) of slot `s`, claiming a free one of its
 * probes if it has none (and the slot is under its share, or the pool under PEER_POOL_OPEN);
 * NULL when its probes are others' (or a claim was lost, or the slot has its share of a
 * crowded pool): the hash counts. */
static __always_inline struct counters *peer_lane(bool tc, __u32 s, __u32 cls, const __u64 *addr)
{
	__u64 want = PEER_LANE_CLAIMED | ((__u64)cls << 8) | ((__u64)s << 32);
	void *keys = tc ? (void *)&tc_peer_lanes : (void *)&sock_peer_lanes;
	void *slots = tc ? (void *)&tc_peer_slots : (void *)&sock_peer_slots;
	void *claims = tc ? (void *)&tc_peer_claims : (void *)&sock_peer_claims;
	__u32 h = peer_cell(s, cls, addr), free = PEER_CELLS, at = PEER_POOL_COUNT;
	__u64 *n, *pool, c;

#pragma unroll
	for (__u32 i = 0; i < PEER_PROBES; i++) {
		__u32 li = (h + i) & (PEER_CELLS - 1);
		struct peer_lane *l = bpf_map_lookup_elem(keys, &li);
		__u64 st;

		if (!l)
			return 0;
		st = l->state;
		if (st == want && l->addr[0] == addr[0] && l->addr[1] == addr[1])
			return bpf_map_lookup_elem(slots, &li);
		if (st == PEER_LANE_FREE && free == PEER_CELLS)
			free = li;
	}
	if (free == PEER_CELLS)
		return 0;
	n = bpf_map_lookup_elem(claims, &s);
	pool = bpf_map_lookup_elem(claims, &at);
	if (!n || !pool)
		return 0;
	c = *n;
	/* Past its share in a crowded pool, or a race lost on its count: the hash counts. (The
	 * pool's count is read without a lock: racing claims may pass PEER_POOL_OPEN by a few.) */
	if ((c >= PEER_LANES_PER_SLOT && *pool >= PEER_POOL_OPEN) || __sync_val_compare_and_swap(n, c, c + 1) != c)
		return 0;
	{
		struct peer_lane *l = bpf_map_lookup_elem(keys, &free);

		if (!l || __sync_val_compare_and_swap(&l->state, PEER_LANE_FREE, PEER_LANE_CLAIMING) != PEER_LANE_FREE) {
			__sync_fetch_and_add(n, (__u64)-1);
			return 0;
		}
		__sync_fetch_and_add(pool, 1); /* before the lane is published: a scan that sees it sees this */
		l->addr[0] = addr[0];
		l->addr[1] = addr[1];
		__sync_lock_test_and_set(&l->state, want); /* published after the address */
	}
	return bpf_map_lookup_elem(slots, &free);
}

/* Counts a packet under its peer, after its class row: a reader that sees a peer's count
 * sees its class's. In its lane of the pool (a cgroup holding its slot), else in
 * peer_stats; a peer that does not fit there goes to its (cgroup, class, source) row of
 * peer_other, counted in health.peer_spills. `tc` is the caller's constant (not read from `k`): with it the
 * compiler keeps one map per lookup, which the verifier then inlines. */
static __always_inline void count_peer(const struct class_key *k, bool tc, __u32 held, const __u64 *addr,
				       __u64 bytes, __u64 packets, bool tx)
{
	__u32 zero = 0, cls = k->class_id;
	struct peer_key pk = { .cgroup_id = k->cgroup_id, .class_id = k->class_id,
			       .source = tc ? SOURCE_TC : SOURCE_SOCKET };
	struct counters *c;
	__u64 *marked;

	marked = bpf_map_lookup_elem(&peer_classes, &zero);
	if (!marked || cls >= PEER_CLASS_WORDS * 64 || !(marked[cls / 64] & (1ULL << (cls % 64))))
		return;
	/* The fast path: the slot's lane in the pool. An all-zero address never takes a lane
	 * (a lane being claimed reads as zeros to a CPU that sees its state first). */
	if (fast_path && held != NO_SLOT && (addr[0] | addr[1])) {
		c = peer_lane(tc, held, cls, addr);
		if (c) {
			add(c, bytes, packets, tx, !tc);
			return;
		}
	}
	__builtin_memcpy(pk.addr, addr, 16);
	c = slot(&peer_stats, &pk, 0, 0, 0, 0, 0); /* no overflow key: NULL when full */
	if (!c) {
		struct health *h = health_slot();

		if (h)
			h->peer_spills++;
		c = slot(&peer_other, k, tc ? &overflow_class_tc : &overflow_class_sock, 0, 0, 0, 0);
	}
	add(c, bytes, packets, tx, !tc);
}

static __always_inline void count_class(struct __sk_buff *skb, __u64 cgid, __u32 held, __u8 source,
					__u64 bytes, __u64 packets, bool tx)
{
	struct class_key k = { .cgroup_id = cgid, .source = source };
	bool tc = source == SOURCE_TC;
	struct counters *c = 0;
	__u32 lane = NO_SLOT;
	__u64 peer[2] = {};

	k.class_id = classify(skb, tx, peer);
	if (held != NO_SLOT)
		lane = class_lane(tc ? (void *)&tc_class_lanes : (void *)&sock_class_lanes, held, k.class_id);
	if (lane != NO_SLOT)
		c = bpf_map_lookup_elem(tc ? (void *)&tc_class_slots : (void *)&sock_class_slots, &lane);
	if (!c)
		c = slot(&class_stats, &k, tc ? &overflow_class_tc : &overflow_class_sock, 0, 0, 0, 0);
	add(c, bytes, packets, tx, !tc);
	if (count_peers) /* non-ip is never a peer class (netattr load refuses it) */
		count_peer(&k, tc, held, peer, bytes, packets, tx);
}

static __always_inline __u64 *owner_of(__u32 ifindex)
{
	if (ifindex < OWNER_ARRAY_SLOTS) {
		__u64 *o = bpf_map_lookup_elem(&owner_by_index, &ifindex);
		return o && *o ? o : 0;
	}
	return bpf_map_lookup_elem(&iface_owner, &ifindex);
}

static __always_inline void count_tc(struct __sk_buff *skb, bool egress)
{
	__u32 ifindex = skb->ifindex;
	__u64 *owner = owner_of(ifindex);
	__u64 packets = skb->gso_segs ? skb->gso_segs : 1;
	__u64 bytes = skb->len;
	__u32 held;
	__u64 cgid;
	bool tx;

	if (owner) {
		cgid = *owner; /* rule 1 */
		tx = !egress;
	} else {
		cgid = skb_cgroup_id(skb); /* rule 2; 0 without a full socket: rule 3 */
		tx = cgid ? true : egress;
	}
	add(cgroup_counters(&stats_map, &tc_slot_owner, &tc_slots, &cgid, ifindex,
			    egress ? HOOK_TC_EGRESS : HOOK_TC_INGRESS, &held),
	    bytes, packets, tx, false);

	if (count_ifaces) {
		struct iface_key ik = { .cgroup_id = cgid, .ifindex = ifindex };
		add(slot(&iface_stats, &ik, &overflow_iface, 0, 0, 0, 0), bytes, packets, tx, false);
	}

	if (count_ports)
		count_port(skb, cgid, SOURCE_TC, bytes, packets, tx);
	if (count_classes)
		count_class(skb, cgid, held, SOURCE_TC, bytes, packets, tx);
}

static __always_inline void count_sock(struct __sk_buff *skb, bool egress)
{
	__u64 cgid = skb_cgroup_id(skb); /* the local socket's cgroup */
	__u64 packets = skb->gso_segs ? skb->gso_segs : 1;
	__u64 bytes = skb->len;
	__u32 held;

	add(cgroup_counters(&sock_stats, &sock_slot_owner, &sock_slots, &cgid, skb->ifindex,
			    egress ? HOOK_SOCK_EGRESS : HOOK_SOCK_INGRESS, &held),
	    bytes, packets, egress, true);
	if (count_ports)
		count_port(skb, cgid, SOURCE_SOCKET, bytes, packets, egress);
	if (count_classes)
		count_class(skb, cgid, held, SOURCE_SOCKET, bytes, packets, egress);
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	count_tc(skb, false);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	count_tc(skb, true);
	return TC_ACT_UNSPEC;
}

SEC("cgroup_skb/ingress")
int sock_ingress(struct __sk_buff *skb)
{
	count_sock(skb, false);
	return 1;
}

SEC("cgroup_skb/egress")
int sock_egress(struct __sk_buff *skb)
{
	count_sock(skb, true);
	return 1;
}

/*
 * The cgroup tree for naming, walked in the kernel. `netattr load` attaches this iterator to
 * the root of the cgroup2 mount (pre-order) and pins the link as `cgroup_tree`. Each read of
 * that file walks the whole tree once: every cgroup's parent id and name go into
 * `cgroup_tree_nodes`, stamped with the read's session id, and the read returns that id on
 * one line. A reader keeps the entries of its session or a later one (cgroups alive
 * during its walk) and builds every path from them: one read and one batch lookup instead of
 * syscalls per cgroup. Nothing is printed per cgroup because a cgroup iterator cannot resume
 * across reads (the kernel drops cgroup_mutex between them), so a walk must fit in one read.
 * Needs Linux 6.1 (cgroup iterators); on older kernels `load` leaves it out and naming uses
 * file handles.
 */
struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));
struct bpf_iter__cgroup {
	struct bpf_iter_meta *meta;
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* memory for the cgroups there are, no more */
	__uint(max_entries, TREE_NODES);
	__type(key, __u64);
	__type(value, struct tree_node);
} cgroup_tree_nodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tree_node);
} tree_scratch SEC(".maps");

/* The walk runs under cgroup_mutex with trusted pointers: plain loads, no probe reads. An
 * entry already there is rewritten in place (no allocation); a new one is inserted. */
SEC("iter/cgroup")
int cgroup_tree(struct bpf_iter__cgroup *ctx)
{
	struct bpf_iter_meta *meta = ctx->meta;
	struct cgroup *cg = ctx->cgroup;
	struct kernfs_node *kn, *up;
	struct tree_node *n;
	__u32 zero = 0;
	bool insert;
	__u64 id;

	if (!cg) { /* the end of the walk */
		BPF_SEQ_PRINTF(meta->seq, "%llu\n", meta->session_id);
		return 0;
	}
	kn = cg->kn;
	if (!kn)
		return 0;
	id = kn->id;
	up = bpf_core_field_exists(kn->__parent) ? kn->__parent : kn->parent;
	n = bpf_map_lookup_elem(&cgroup_tree_nodes, &id);
	insert = !n;
	if (insert)
		n = bpf_map_lookup_elem(&tree_scratch, &zero);
	if (!n)
		return 0;
	n->session = meta->session_id;
	n->parent = up ? up->id : 0;
	if (bpf_probe_read_kernel_str(n->name, sizeof(n->name), kn->name) < 0)
		n->name[0] = 0;
	if (insert)
		bpf_map_update_elem(&cgroup_tree_nodes, &id, n, BPF_NOEXIST);
	return 0;
}

/* The ids of the live cgroups, as one read of the `cgroup_ids` link saw them: the object at
 * position i of the walk in element i, stamped with the read's session (a concurrent walk
 * may overwrite an element: the reader then misses that id, never takes another's). */
struct live_id {
	__u64 session;
	__u64 id;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* read in place by the reader */
	__uint(max_entries, TREE_NODES);
	__type(key, __u32);
	__type(value, struct live_id);
} cgroup_live SEC(".maps");

/* What `record` and `reap` need to tell which counted cgroups may be gone: every live
 * cgroup's id in `cgroup_live` (dead cgroups are skipped by the iterator), and at the end
 * "<session> <objects>" for the reader; no names, no hash updates (cgroup_tree's cost). */
SEC("iter/cgroup")
int cgroup_ids(struct bpf_iter__cgroup *ctx)
{
	struct bpf_iter_meta *meta = ctx->meta;
	struct cgroup *cg = ctx->cgroup;
	struct live_id *e;
	__u32 i;

	if (!cg) {
		BPF_SEQ_PRINTF(meta->seq, "%llu %llu\n", meta->session_id, meta->seq_num);
		return 0;
	}
	if (!cg->kn)
		return 0;
	i = (__u32)meta->seq_num;
	e = bpf_map_lookup_elem(&cgroup_live, &i);
	if (!e)
		return 0; /* more cgroups than elements: the rest are asked of the kernel */
	e->session = meta->session_id;
	e->id = cg->kn->id;
	return 0;
}
