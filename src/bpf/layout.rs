//! Rust mirrors of bpf/netattr.h, decoded from raw map bytes (never transmuted, so a
//! short or odd-sized value cannot cause undefined behaviour).
use serde::Serialize;

pub const LAYOUT_VERSION: u32 = 6;
pub const MAGIC: u32 = 0x6e65_7461;
pub const CGID_UNRESOLVED: u64 = 0;
pub const CGID_OVERFLOW: u64 = u64::MAX;
/// Keys `load` inserts into the per-cgroup counter maps so that the fallbacks always exist.
pub const RESERVED_KEYS: [u64; 2] = [CGID_UNRESOLVED, CGID_OVERFLOW];
/// `meta.flags`: the per-port breakdown is counted.
pub const META_PORTS: u32 = 1 << 0;
/// `meta.flags`: the per-interface breakdown is counted.
pub const META_IFACES: u32 = 1 << 1;
/// `meta.flags`: per-cgroup counters take the slot fast path (`super::slots`).
pub const META_FAST_PATH: u32 = 1 << 2;
/// Direct-mapped fast-path slots per source (`COUNTER_SLOTS`); see `super::slots`.
pub const COUNTER_SLOTS: u32 = 4096;
/// A slot nobody holds.
pub const SLOT_FREE: u64 = 0;
/// A slot `reap` is emptying: never claimed, never matched by a packet.
pub const SLOT_RETIRED: u64 = u64::MAX;
/// Bytes of a name in `struct tree_node` (NAME_MAX and its NUL).
pub const TREE_NAME: usize = 256;
/// Interfaces below this ifindex have their owner in `owner_by_index`, the rest in
/// `iface_owner`.
pub const OWNER_ARRAY_SLOTS: u32 = 65536;

/// Which hooks a counter comes from (`enum netattr_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// clsact classifiers on interfaces (L2 bytes)
    Tc,
    /// cgroup_skb programs on a cgroup (L3 bytes)
    Socket,
}

impl Source {
    pub fn code(self) -> u8 {
        match self {
            Source::Tc => 1,
            Source::Socket => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Source::Tc => "tc",
            Source::Socket => "socket",
        }
    }
}

/// `struct iface_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfaceKey {
    pub cgroup_id: u64,
    pub ifindex: u32,
}

impl IfaceKey {
    pub const SIZE: usize = 16;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(IfaceKey { cgroup_id: u64_at(b, 0)?, ifindex: u32_at(b, 8)? })
    }

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.cgroup_id.to_ne_bytes());
        b[8..12].copy_from_slice(&self.ifindex.to_ne_bytes());
        b
    }
}

/// `struct port_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortKey {
    pub cgroup_id: u64,
    pub port: u16,
    pub proto: u8,
    pub source: u8,
}

impl PortKey {
    pub const SIZE: usize = 16;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(PortKey {
            cgroup_id: u64_at(b, 0)?,
            port: u16::from_ne_bytes(b.get(8..10)?.try_into().ok()?),
            proto: *b.get(10)?,
            source: *b.get(11)?,
        })
    }
}

/// `struct cgroup_name`: a cgroup's path as the kernel saw it at first sight.
pub struct CgroupName;

impl CgroupName {
    pub const SIZE: usize = 512;

    /// The path relative to the cgroup2 mount ("/system.slice/docker-….scope"), with a
    /// leading "…" when the kernel's walk stopped before the root.
    pub fn path(b: &[u8]) -> Option<String> {
        let flags = u32_at(b, 0)?;
        let complete = flags & 1 == 1;
        let depth = u32_at(b, 4)? as usize;
        let parts: Vec<String> = b
            .get(8..)?
            .split(|&c| c == 0)
            .take(depth)
            .enumerate()
            .map(|(i, p)| {
                let cut = i < 24 && flags & (1 << (8 + i)) != 0;
                let name = String::from_utf8_lossy(p).into_owned();
                if cut {
                    format!("{name}…")
                } else {
                    name
                }
            })
            .collect();
        if parts.len() < depth || parts.iter().any(String::is_empty) || (parts.is_empty() && !complete) {
            return None;
        }
        let mut path: String = parts.iter().rev().map(|p| format!("/{p}")).collect();
        if path.is_empty() {
            path.push('/');
        }
        Some(if complete { path } else { format!("…{path}") })
    }
}

/// `struct tree_node`: a cgroup as the `cgroup_tree` iterator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNode {
    pub session: u64,
    pub parent: u64,
    pub name: String,
}

impl TreeNode {
    pub const SIZE: usize = 16 + TREE_NAME;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let name = b.get(16..Self::SIZE)?;
        let end = name.iter().position(|&c| c == 0)?;
        Some(TreeNode {
            session: u64_at(b, 0)?,
            parent: u64_at(b, 1)?,
            name: String::from_utf8_lossy(&name[..end]).into_owned(),
        })
    }
}

/// A protocol number as people say it.
pub fn proto_name(p: u8) -> String {
    match p {
        0 => "-".into(),
        1 => "icmp".into(),
        2 => "igmp".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmpv6".into(),
        132 => "sctp".into(),
        n => n.to_string(),
    }
}

pub const ATTACH_INGRESS: u32 = 1 << 0;
pub const ATTACH_EGRESS: u32 = 1 << 1;
pub const ATTACH_QDISC_CREATED: u32 = 1 << 2;
/// Written before netattr adds a clsact qdisc: if it is killed in between, the record still
/// tells cleanup that the qdisc may be netattr's (removed only if it holds no filter).
pub const ATTACH_QDISC_INTENT: u32 = 1 << 3;

fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(i * 8..i * 8 + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// `enum netattr_hook`: the hook a first-seen record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookCode {
    TcIngress,
    TcEgress,
    SocketIngress,
    SocketEgress,
}

impl HookCode {
    pub fn from_code(c: u32) -> Option<Self> {
        Some(match c {
            1 => HookCode::TcIngress,
            2 => HookCode::TcEgress,
            3 => HookCode::SocketIngress,
            4 => HookCode::SocketEgress,
            _ => return None,
        })
    }

    /// The source whose counter map the cgroup was inserted into.
    pub fn source(self) -> Source {
        match self {
            HookCode::TcIngress | HookCode::TcEgress => Source::Tc,
            HookCode::SocketIngress | HookCode::SocketEgress => Source::Socket,
        }
    }
}

/// `struct first_seen`: a cgroup inserted into a per-cgroup counter map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstSeen {
    pub cgroup_id: u64,
    /// Boot-time clock of the first packet, in nanoseconds.
    pub ts_ns: u64,
    pub ifindex: u32,
    pub hook: HookCode,
}

impl FirstSeen {
    pub const SIZE: usize = 24;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(FirstSeen {
            cgroup_id: u64_at(b, 0)?,
            ts_ns: u64_at(b, 1)?,
            ifindex: u32_at(b, 16)?,
            hook: HookCode::from_code(u32_at(b, 20)?)?,
        })
    }
}

/// `struct counters`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

impl Counters {
    pub const SIZE: usize = 32;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Counters {
            rx_bytes: u64_at(b, 0)?,
            tx_bytes: u64_at(b, 1)?,
            rx_packets: u64_at(b, 2)?,
            tx_packets: u64_at(b, 3)?,
        })
    }

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        for (i, v) in [self.rx_bytes, self.tx_bytes, self.rx_packets, self.tx_packets].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }

    pub fn add(&mut self, o: &Counters) {
        self.rx_bytes += o.rx_bytes;
        self.tx_bytes += o.tx_bytes;
        self.rx_packets += o.rx_packets;
        self.tx_packets += o.tx_packets;
    }

    pub fn total_bytes(&self) -> u64 {
        self.rx_bytes + self.tx_bytes
    }
}

/// `struct health`, summed over CPUs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Health {
    pub insert_failures: u64,
    pub ringbuf_drops: u64,
}

impl Health {
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Health { insert_failures: u64_at(b, 0)?, ringbuf_drops: u64_at(b, 1)? })
    }

    pub fn add(&mut self, o: &Health) {
        self.insert_failures += o.insert_failures;
        self.ringbuf_drops += o.ringbuf_drops;
    }
}

/// `struct meta`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Meta {
    pub magic: u32,
    pub layout_version: u32,
    pub loaded_at_unix: u64,
    pub max_entries: u32,
    pub flags: u32,
}

impl Meta {
    pub const SIZE: usize = 24;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Meta {
            magic: u32_at(b, 0)?,
            layout_version: u32_at(b, 4)?,
            loaded_at_unix: u64_at(b, 1)?,
            max_entries: u32_at(b, 16)?,
            flags: u32_at(b, 20)?,
        })
    }

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.magic.to_ne_bytes());
        b[4..8].copy_from_slice(&self.layout_version.to_ne_bytes());
        b[8..16].copy_from_slice(&self.loaded_at_unix.to_ne_bytes());
        b[16..20].copy_from_slice(&self.max_entries.to_ne_bytes());
        b[20..24].copy_from_slice(&self.flags.to_ne_bytes());
        b
    }
}

/// `struct attachment`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub flags: u32,
    pub ifname: String,
}

impl Attachment {
    pub const SIZE: usize = 24;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let name = b.get(4..20)?;
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        Some(Attachment { flags: u32_at(b, 0)?, ifname: String::from_utf8_lossy(&name[..end]).into_owned() })
    }

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.flags.to_ne_bytes());
        let n = self.ifname.as_bytes();
        let len = n.len().min(15);
        b[4..4 + len].copy_from_slice(&n[..len]);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::skel::types;
    use std::mem::size_of;

    #[test]
    fn sizes_match_the_bpf_object() {
        assert_eq!(size_of::<types::counters>(), Counters::SIZE);
        assert_eq!(size_of::<types::meta>(), Meta::SIZE);
        assert_eq!(size_of::<types::attachment>(), Attachment::SIZE);
        assert_eq!(size_of::<types::health>(), 16);
        assert_eq!(size_of::<types::iface_key>(), IfaceKey::SIZE);
        assert_eq!(size_of::<types::port_key>(), PortKey::SIZE);
        assert_eq!(size_of::<types::cgroup_name>(), CgroupName::SIZE);
        assert_eq!(size_of::<types::tree_node>(), TreeNode::SIZE);
        assert_eq!(size_of::<types::first_seen>(), FirstSeen::SIZE);
    }

    #[test]
    fn hook_codes_match_the_header() {
        let h = include_str!("../../bpf/netattr.h");
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
        let h = include_str!("../../bpf/netattr.h");
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
}
