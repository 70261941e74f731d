// SPDX-License-Identifier: (MIT OR Apache-2.0)
/* Baselines for scripts/bench/prog-cost.sh: the floor and the designs netattr is compared
 * with. Not part of netattr. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct counters { __u64 rx_bytes, tx_bytes, rx_packets, tx_packets; };

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240);
	 __type(key, __u64); __type(value, struct counters); } shared SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 10240);
	 __type(key, __u64); __type(value, struct counters); } percpu SEC(".maps");

/* The floor: an empty classifier. */
SEC("tc") int empty(struct __sk_buff *skb) { return TC_ACT_UNSPEC; }

/* The practical floor of any attribution: the packet's socket cgroup, and nothing else. */
SEC("tc") int cgroup_id_only(struct __sk_buff *skb)
{
	volatile __u64 id = bpf_skb_cgroup_id(skb);
	(void)id;
	return TC_ACT_UNSPEC;
}

/* The seed's design: one global hash, atomic adds (all CPUs share each value). */
SEC("tc") int seed_atomic(struct __sk_buff *skb)
{
	__u64 id = bpf_skb_cgroup_id(skb);
	struct counters *c = bpf_map_lookup_elem(&shared, &id);
	if (!c) {
		struct counters z = {};
		bpf_map_update_elem(&shared, &id, &z, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&shared, &id);
		if (!c) return TC_ACT_UNSPEC;
	}
	__sync_fetch_and_add(&c->tx_bytes, skb->len);
	__sync_fetch_and_add(&c->tx_packets, 1);
	return TC_ACT_UNSPEC;
}

/* Per-CPU hash, but written with update_elem on every packet. */
SEC("tc") int percpu_update(struct __sk_buff *skb)
{
	__u64 id = bpf_skb_cgroup_id(skb);
	struct counters v = {}, *c = bpf_map_lookup_elem(&percpu, &id);
	if (c) v = *c;
	v.tx_bytes += skb->len;
	v.tx_packets += 1;
	bpf_map_update_elem(&percpu, &id, &v, BPF_ANY);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
