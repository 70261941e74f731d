/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* Structures shared by the BPF programs and userspace (src/bpf/layout.rs mirrors them). */
#ifndef NETATTR_H
#define NETATTR_H

/* Bumped whenever a map's key or value layout or the set of pins changes, so that a newer
 * netattr refuses pins left by an older one instead of misreading them. */
#define NETATTR_LAYOUT_VERSION 14
#define NETATTR_MAGIC 0x6e657461 /* "neta" */

/* Reserved cgroup ids of the counter maps, inserted by `netattr load`. */
#define CGID_UNRESOLVED 0ULL                 /* the packet's owner could not be told */
#define CGID_OVERFLOW 0xffffffffffffffffULL  /* the map was full: counted here */

struct counters {
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u64 rx_packets;
	__u64 tx_packets;
};

/* Key of iface_stats (tc source): who, on which interface. */
struct iface_key {
	__u64 cgroup_id;
	__u32 ifindex;
	__u32 _pad;
};

/* Which hooks a counter comes from. Sources are never added together. */
enum netattr_source {
	SOURCE_TC = 1,
	SOURCE_SOCKET = 2,
};

/* Key of port_stats: who, which protocol, which service port, from which source. */
struct port_key {
	__u64 cgroup_id;
	__u16 port;    /* the service port: the smaller of source and destination port */
	__u8 proto;    /* IPPROTO_* */
	__u8 source;   /* enum netattr_source */
	__u32 _pad;
};

/* Destination classes (`load --breakdown class`). A packet's remote address (its
 * destination when the cgroup sends it, its source when the cgroup receives it) is looked
 * up in the instance's class tables, each swapped whole (an array of one map), never
 * edited in place:
 *  - A direct-indexed table of 16-bit cells (CLASS_CELL_*), both families, in one map value
 *    (so a cell is a plain load): the cell of the address's first 16 bits (IPv4 from cell
 *    0, IPv6 from cell CLASS6_ROOT), then, where the prefixes split that range, the cell of
 *    its next byte in a block of 256, and so on (IPv4 to its fourth byte, IPv6 to its
 *    eighth, the /64); a cell is a class id, CLASS_CELL_BLOCK | block, or CLASS_CELL_TRIE.
 *    One to four loads for IPv4, one to seven for IPv6, whatever the number of prefixes.
 *  - After the cells, in the same value, the IPv6 addresses the classes name whole (/128:
 *    the host's own addresses, say), in CLASS_EXACT_SLOTS slots of an open-addressed hash
 *    (CLASS_EXACT_PROBES probes): an IPv6 root cell with CLASS_CELL_EXACT set has such
 *    addresses in its /16, which are looked up there first (a /128 is the longest match).
 *  - An LPM trie for what the cells leave to it (CLASS_CELL_TRIE): IPv6 prefixes longer than
 *    /64 (but the /128s the hash holds), and the IPv6 range ::/16 (IPv4-mapped addresses,
 *    loopback). It holds every prefix, IPv4 ones as ::ffff:a.b.c.d/(96+n), so that an
 *    IPv4-mapped address is classed as its IPv4 address.
 * Ids below CLASS_FIRST_USER are fixed. */
#define CLASS_INTERNET 0 /* no prefix matched: the default class */
#define CLASS_LOOPBACK 1
#define CLASS_HOST 2
#define CLASS_LINK_LOCAL 3
#define CLASS_MULTICAST 4
#define CLASS_PRIVATE 5
#define CLASS_NON_IP 6  /* no remote address: ARP, LLDP, an unreadable IP header */
#define CLASS_FIRST_USER 7
#define CLASS_MAX 255       /* class ids are below this (255 marks a free lane) */
#define CLASS_NAME 32       /* bytes of a class name with its NUL */
#define CLASS_PREFIXES 262144 /* prefixes in one IPv6 class table */
#define CLASS_CELL_BLOCK 0x8000 /* a cell that points to a block of 256 cells */
#define CLASS_CELL_TRIE 0x3fff  /* a cell whose addresses the trie classes */
#define CLASS_CELL_EXACT 0x4000 /* an IPv6 root cell whose /16 holds /128s of the hash */
#define CLASS6_ROOT 65536       /* the first IPv6 cell (the IPv4 ones come first) */
#define CLASS_BLOCKS_AT 131072  /* the first cell of block 0 */
#define CLASS_BLOCKS 4096       /* blocks in one class table, both families */
#define CLASS_CELLS (CLASS_BLOCKS_AT + CLASS_BLOCKS * 256)
#define CLASS6_DEPTH 8          /* bytes of an IPv6 address the cells resolve (a /64) */
#define CLASS_EXACT_AT CLASS_CELLS /* the first cell of the /128 hash */
#define CLASS_EXACT_BITS 6
#define CLASS_EXACT_SLOTS (1 << CLASS_EXACT_BITS)
#define CLASS_EXACT_STRIDE 12   /* cells of a slot: the address (8), its class (1), padding */
#define CLASS_EXACT_CLASS 8     /* the cell of a slot that holds its class */
#define CLASS_EXACT_EMPTY 0xffff /* the class cell of a free slot */
#define CLASS_EXACT_PROBES 4
#define CLASS_TABLE_CELLS (CLASS_EXACT_AT + CLASS_EXACT_SLOTS * CLASS_EXACT_STRIDE)
/* The hash's addresses are read as u64s from the cells' 16-bit array: each slot 8-aligned. */
_Static_assert((CLASS_EXACT_AT * 2) % 8 == 0 && (CLASS_EXACT_STRIDE * 2) % 8 == 0,
	       "the /128 hash's slots must be 8-byte aligned");

/* The class fast path: a cgroup that holds its counter slot (COUNTER_SLOTS) also has
 * CLASS_LANES class lanes there. `<source>_class_lanes[slot]` (a u64) names the class of
 * each lane (one byte each, from the low byte; CLASS_LANE_FREE when free; a lane is claimed with compare-and-swap) and
 * `<source>_class_slots[slot * CLASS_LANES + lane]` holds its per-CPU counters. The classes
 * beyond a cgroup's lanes, and cgroups without a slot, are counted in class_stats. */
#define CLASS_LANES 4
#define CLASS_LANE_FREE 0xff
#define CLASS_LANES_FREE 0xffffffffffffffffULL

/* Key of the class table (an LPM trie key: prefix length first). */
struct class_prefix {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Key of class_stats: who, which class, from which source. */
struct class_key {
	__u64 cgroup_id;
	__u16 class_id;
	__u8 source;   /* enum netattr_source */
	__u8 _pad[5];
};

/* Key of peer_stats (`load --breakdown peer`): who, which remote address (IPv4 as
 * ::ffff:a.b.c.d), of which class, from which source. */
struct peer_key {
	__u64 cgroup_id;
	__u8 addr[16];
	__u16 class_id;
	__u8 source;   /* enum netattr_source */
	__u8 _pad[5];
};

/* peer_classes: one bit per class id, set for the classes counted per peer. */
#define PEER_CLASS_WORDS 4

/* The peer fast path: a pool of PEER_CELLS peer lanes a source (`<source>_peer_lanes[i]`,
 * shared, and their per-CPU counters in `<source>_peer_slots`), as many as PEER_LANES a
 * counter slot, used by the cgroups that hold their slots as they need them: the lane of
 * (slot, remote address, class) is one of the PEER_PROBES lanes after a hash of the three,
 * from its first packet until `netattr reap` frees the slot. A lane is claimed with
 * compare-and-swap of its state (PEER_LANE_FREE -> PEER_LANE_CLAIMING), its address written,
 * then its state published (exchange: after the address) as PEER_LANE_CLAIMED | class << 8 |
 * slot << 32. A slot's share is PEER_LANES_PER_SLOT lanes (`<source>_peer_claims[slot]`
 * counts them); past it, it claims more only while fewer than PEER_POOL_OPEN lanes of the
 * pool are claimed (`<source>_peer_claims[PEER_POOL_COUNT]`, the programs adding each claim,
 * `netattr reap` writing it again from its scan of the pool when it frees lanes): a workload
 * with many peers (an ingress) keeps them on the fast path while the pool has room, and no
 * workload can take more than half of it from the others. A packet's peer is counted in its
 * lane, else in peer_stats. Loads with the peer breakdown off size these maps to one entry. */
#define PEER_LANES 4
#define PEER_CELL_BITS 14 /* log2(COUNTER_SLOTS * PEER_LANES) */
#define PEER_CELLS (1U << PEER_CELL_BITS)
#define PEER_PROBES 2
#define PEER_LANES_PER_SLOT 64
#define PEER_POOL_OPEN (PEER_CELLS / 2)
#define PEER_POOL_COUNT COUNTER_SLOTS /* the index of the pool's count in <source>_peer_claims */
#define PEER_LANE_FREE 0ULL
#define PEER_LANE_CLAIMING 1ULL
#define PEER_LANE_CLAIMED 2ULL

struct peer_lane {
	__u64 state;   /* PEER_LANE_*; claimed: PEER_LANE_CLAIMED | class << 8 | slot << 32 */
	__u64 addr[2]; /* the remote address, as peer_key.addr */
};

/* Where a first sighting happened. */
enum netattr_hook {
	HOOK_TC_INGRESS = 1,
	HOOK_TC_EGRESS = 2,
	HOOK_SOCK_INGRESS = 3,
	HOOK_SOCK_EGRESS = 4,
};

/* One record in the `events` ring buffer: a cgroup id counted for the first time by one
 * source (stats_map for tc, sock_stats for socket). */
struct first_seen {
	__u64 cgroup_id;
	__u64 ts_ns;     /* bpf_ktime_get_boot_ns() */
	__u32 ifindex;
	__u32 hook;      /* enum netattr_hook */
};

/* A cgroup's path as the kernel saw it at the cgroup's first packet, so that it can be
 * named after it is gone. `path` holds the names of the cgroup and its ancestors, leaf
 * first, each NUL-terminated, up to NAME_DEPTH of them or until the space runs out;
 * `complete` is 1 when the walk reached the root. */
#define NAME_BYTES 504
#define NAME_DEPTH 8
#define NAME_PART 128 /* longest component read; longer names are cut */
#define NAME_COMPLETE 1     /* `complete`: the walk reached the root */
#define NAME_CUT_SHIFT 8    /* `complete` bit 8 + i: component i (from the leaf) was cut */

struct cgroup_name {
	__u32 complete;
	__u32 depth;
	char path[NAME_BYTES];
};

/* Index 0 of the per-CPU `health` array. */
struct health {
	__u64 insert_failures; /* a new key did not fit: counted under the overflow key */
	__u64 ringbuf_drops;   /* a first-seen event did not fit in `events` */
	__u64 peer_spills;     /* a new peer did not fit in peer_stats: counted in peer_other */
};

/* Index 0 of `meta`: written once by `netattr load`; pinned last, so its pin marks a
 * completed load. */
struct meta {
	__u32 magic;
	__u32 layout_version;
	__u64 loaded_at_unix;  /* seconds */
	__u32 max_entries;     /* what the user asked for, without the reserved keys */
	__u32 flags;           /* META_* */
};

#define META_PORTS (1u << 0)  /* the per-port breakdown is counted */
#define META_IFACES (1u << 1) /* the per-interface breakdown is counted */
#define META_FAST_PATH (1u << 2) /* per-cgroup counters take the slot fast path */
#define META_CLASSES (1u << 3) /* the per-class breakdown is counted */
#define META_PEERS (1u << 4)   /* the per-peer breakdown is counted */

/* The per-cgroup fast path: each source has COUNTER_SLOTS direct-mapped slots, a cgroup's
 * home slot picked by a multiplicative hash of its id. A cgroup claims its home slot when it
 * is first inserted in the source's hash (if no other cgroup holds it); from then on its
 * packets are counted in the slot, one inlined array lookup instead of a hash lookup.
 * Readers add a slot's counters to its owner's hash row. Slot 0 belongs to the unresolved
 * bucket (cgroup id 0); SLOT_FREE marks a slot nobody holds, SLOT_RETIRED one that `netattr
 * reap` is emptying (never claimed, never matched). */
#define COUNTER_SLOTS 4096
/* The multiplier of the programs' multiplicative hashes (a cgroup's home slot, a /128's
 * slot in the class table): the top bits of x * HASH_MUL. */
#define HASH_MUL 0x9e3779b97f4a7c15ULL
#define COUNTER_SLOT_SHIFT 52 /* 64 - log2(COUNTER_SLOTS) */
#define SLOT_FREE 0ULL
#define SLOT_RETIRED 0xffffffffffffffffULL

/* One cgroup as the `cgroup_tree` iterator saw it (see netattr.bpf.c). */
#define TREE_NODES 65536
#define TREE_NAME 256 /* NAME_MAX and its NUL: names are never cut */

struct tree_node {
	__u64 session; /* the read (bpf_iter session) that saw it */
	__u64 parent;  /* parent cgroup id; 0 for the hierarchy's root */
	char name[TREE_NAME];
};

/* Owners of interfaces with a smaller ifindex live in a direct-indexed array (a lookup
 * the verifier inlines); larger ones in a hash. */
#define OWNER_ARRAY_SLOTS 65536

/* Userspace bookkeeping, one entry per interface netattr attached to. */
#define ATTACH_INGRESS (1u << 0)
#define ATTACH_EGRESS (1u << 1)
#define ATTACH_QDISC_CREATED (1u << 2) /* netattr added the clsact qdisc */
#define ATTACH_QDISC_INTENT (1u << 3)  /* written before adding it: a crash in between
					* leaves a record, so cleanup still removes it */

struct attachment {
	__u32 flags;
	char ifname[16];
	__u32 _pad;
};

#endif
