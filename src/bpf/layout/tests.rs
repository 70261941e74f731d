//! The layout mirror against the BPF object and its header.
use super::*;
use crate::bpf::skel::types;
use std::mem::size_of;

#[test]
fn sizes_match_the_bpf_object() {
    assert_eq!(size_of::<types::counters>(), Counters::SIZE);
    assert_eq!(size_of::<types::meta>(), Meta::SIZE);
    assert_eq!(size_of::<types::attachment>(), Attachment::SIZE);
    assert_eq!(size_of::<types::health>(), 24);
    assert_eq!(size_of::<types::peer_key>(), PeerKey::SIZE);
    assert_eq!(size_of::<types::peer_lane>(), 24);
    assert_eq!(size_of::<types::iface_key>(), IfaceKey::SIZE);
    assert_eq!(size_of::<types::port_key>(), PortKey::SIZE);
    assert_eq!(size_of::<types::cgroup_name>(), CgroupName::SIZE);
    assert_eq!(size_of::<types::tree_node>(), TreeNode::SIZE);
    assert_eq!(size_of::<types::first_seen>(), FirstSeen::SIZE);
}

#[test]
fn hook_codes_match_the_header() {
    let h = include_str!("../../../bpf/netattr.h");
    for (name, code) in [("TC_INGRESS", 1), ("TC_EGRESS", 2), ("SOCK_INGRESS", 3), ("SOCK_EGRESS", 4)] {
        assert!(h.contains(&format!("HOOK_{name} = {code},")), "HOOK_{name}");
        assert!(HookCode::from_code(code).is_some());
    }
    let mut b = [0u8; FirstSeen::SIZE];
    b[0] = 7;
    b[20] = 3;
    let f = FirstSeen::from_bytes(&b).unwrap();
    assert_eq!((f.cgroup_id, f.hook, f.hook.source()), (7, HookCode::SocketIngress, Source::Socket));
    b[20] = 9;
    assert_eq!(FirstSeen::from_bytes(&b), None);
    assert_eq!(FirstSeen::from_bytes(&b[..20]), None);
}

#[test]
fn constants_match_the_header() {
    let h = include_str!("../../../bpf/netattr.h");
    assert!(h.contains(&format!("#define NETATTR_LAYOUT_VERSION {LAYOUT_VERSION}\n")));
    assert!(h.contains(&format!("#define NETATTR_MAGIC {MAGIC:#x}")));
    assert!(h.contains(&format!("#define OWNER_ARRAY_SLOTS {OWNER_ARRAY_SLOTS}\n")));
    assert!(h.contains(&format!("#define COUNTER_SLOTS {COUNTER_SLOTS}\n")));
    assert!(h.contains(&format!("#define TREE_NAME {TREE_NAME} ")));
    let shift = 64 - COUNTER_SLOTS.trailing_zeros();
    assert!(h.contains(&format!("#define COUNTER_SLOT_SHIFT {shift} ")));
    assert!(h.contains(&format!("#define SLOT_FREE {SLOT_FREE}ULL\n")));
    assert!(h.contains(&format!("#define SLOT_RETIRED {SLOT_RETIRED:#x}ULL\n")));
}

#[test]
fn class_constants_match_the_header() {
    let h = include_str!("../../../bpf/netattr.h");
    let has = |name: &str, value: String| {
        let line = h.lines().find(|l| l.starts_with(&format!("#define {name} "))).unwrap_or_default();
        assert_eq!(line.split_whitespace().nth(2), Some(value.as_str()), "{name}");
    };
    has("CLASS_CELL_BLOCK", format!("{CLASS_CELL_BLOCK:#x}"));
    has("CLASS_CELL_TRIE", format!("{CLASS_CELL_TRIE:#x}"));
    has("CLASS_CELL_EXACT", format!("{CLASS_CELL_EXACT:#x}"));
    has("CLASS6_ROOT", CLASS6_ROOT.to_string());
    has("CLASS_BLOCKS_AT", CLASS_BLOCKS_AT.to_string());
    has("CLASS_BLOCKS", CLASS_BLOCKS.to_string());
    has("CLASS6_DEPTH", CLASS6_DEPTH.to_string());
    has("CLASS_EXACT_BITS", CLASS_EXACT_BITS.to_string());
    has("CLASS_EXACT_STRIDE", CLASS_EXACT_STRIDE.to_string());
    has("CLASS_EXACT_CLASS", CLASS_EXACT_CLASS.to_string());
    has("CLASS_EXACT_EMPTY", format!("{CLASS_EXACT_EMPTY:#x}"));
    has("CLASS_EXACT_PROBES", CLASS_EXACT_PROBES.to_string());
    has("HASH_MUL", format!("{HASH_MUL:#x}ULL"));
    // CLASS_TABLE_CELLS: a table of another size is refused by the kernel when swapped in
    // (the integration tests load and swap tables).
}

#[test]
fn round_trips_and_short_input() {
    let m = Meta { magic: MAGIC, layout_version: 1, loaded_at_unix: 42, max_entries: 7, flags: 1 };
    let k = IfaceKey { cgroup_id: 9, ifindex: 3 };
    assert_eq!(IfaceKey::from_bytes(&k.to_bytes()), Some(k));
    assert_eq!(PortKey::from_bytes(&[0u8; 11]), None);
    let mut n = vec![0u8; CgroupName::SIZE];
    n[0] = 1;
    n[4] = 2;
    n[8..8 + 17].copy_from_slice(b"docker-abc.scope\0");
    n[25..25 + 13].copy_from_slice(b"system.slice\0");
    assert_eq!(CgroupName::path(&n).as_deref(), Some("/system.slice/docker-abc.scope"));
    n[1] = 1; // component 0 (the leaf) was cut
    assert_eq!(CgroupName::path(&n).as_deref(), Some("/system.slice/docker-abc.scope…"));
    n[1] = 0;
    n[0] = 0;
    assert_eq!(CgroupName::path(&n).as_deref(), Some("…/system.slice/docker-abc.scope"));
    n[4] = 9; // more parts claimed than present
    assert_eq!(CgroupName::path(&n), None);
    assert_eq!(CgroupName::path(&[1, 0]), None);
    assert_eq!(Meta::from_bytes(&m.to_bytes()), Some(m));
    let a = Attachment { flags: 5, ifname: "veth-with-a-very-long-name".into() };
    assert_eq!(Attachment::from_bytes(&a.to_bytes()).unwrap().ifname, "veth-with-a-ver");
    assert_eq!(Counters::from_bytes(&[0u8; 31]), None);
    assert_eq!(Meta::from_bytes(&[]), None);
    let mut t = vec![0u8; TreeNode::SIZE];
    t[0] = 7;
    t[8] = 1;
    t[16..16 + 5].copy_from_slice(b"a b\tc");
    assert_eq!(TreeNode::from_bytes(&t), Some(TreeNode { session: 7, parent: 1, name: "a b\tc".into() }));
    t[16..].fill(b'x'); // no NUL: not a name netattr wrote
    assert_eq!(TreeNode::from_bytes(&t), None);
    assert_eq!(TreeNode::from_bytes(&t[..100]), None);
}
