//! Rust mirrors of bpf/netattr.h, decoded from raw map bytes (never transmuted, so a
//! short or odd-sized value cannot cause undefined behaviour).
use serde::Serialize;

pub use crate::model::{Counters, Source};

mod class;
mod peer;
pub use class::*;
pub use peer::*;

pub const LAYOUT_VERSION: u32 = 14;
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
/// `meta.flags`: the per-class breakdown is counted.
pub const META_CLASSES: u32 = 1 << 3;
/// `meta.flags`: the per-peer breakdown is counted (`--breakdown peer`).
pub const META_PEERS: u32 = 1 << 4;
/// Direct-mapped fast-path slots per source (`COUNTER_SLOTS`); see `super::slots`.
pub const COUNTER_SLOTS: u32 = 4096;
/// The multiplier of the programs' multiplicative hashes (netattr.h `HASH_MUL`).
pub const HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

/// The top `bits` bits of `x * HASH_MUL`, as the programs compute a cgroup's home slot and
/// a /128's slot in the class table.
pub fn mul_hash(x: u64, bits: u32) -> u64 {
    x.wrapping_mul(HASH_MUL) >> (64 - bits)
}
/// A slot nobody holds.
pub const SLOT_FREE: u64 = 0;
/// A slot `reap` is emptying: never claimed, never matched by a packet.
pub const SLOT_RETIRED: u64 = u64::MAX;
/// Bytes of a name in `struct tree_node` (NAME_MAX and its NUL).
pub const TREE_NAME: usize = 256;
/// Interfaces below this ifindex have their owner in `owner_by_index`, the rest in
/// `iface_owner`.
pub const OWNER_ARRAY_SLOTS: u32 = 65536;

/// The kernel's code of a source (`enum netattr_source`).
impl Source {
    pub fn code(self) -> u8 {
        match self {
            Source::Tc => 1,
            Source::Socket => 2,
        }
    }

    /// The source of a code, if it is one.
    pub fn of_code(c: u8) -> Option<Source> {
        [Source::Tc, Source::Socket].into_iter().find(|s| s.code() == c)
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
                let name = crate::text::exact(p);
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
            parent: u64_at(b, 8)?,
            name: crate::text::exact(&name[..end]),
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

/// The u64 at byte offset `off` (every field reader takes the offset the C struct has).
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// The u32 at byte offset `off`.
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
            ts_ns: u64_at(b, 8)?,
            ifindex: u32_at(b, 16)?,
            hook: HookCode::from_code(u32_at(b, 20)?)?,
        })
    }
}

/// `struct counters`: its bytes in the maps.
impl Counters {
    pub const SIZE: usize = 32;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Counters {
            rx_bytes: u64_at(b, 0)?,
            tx_bytes: u64_at(b, 8)?,
            rx_packets: u64_at(b, 16)?,
            tx_packets: u64_at(b, 24)?,
        })
    }

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        for (i, v) in [self.rx_bytes, self.tx_bytes, self.rx_packets, self.tx_packets].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }
}

/// `struct health`, summed over CPUs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Health {
    pub insert_failures: u64,
    pub ringbuf_drops: u64,
    /// New peers that found the peer map full (counted in their class's other-peers row).
    pub peer_spills: u64,
}

impl Health {
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Health {
            insert_failures: u64_at(b, 0)?,
            ringbuf_drops: u64_at(b, 8)?,
            peer_spills: u64_at(b, 16)?,
        })
    }

    pub fn add(&mut self, o: &Health) {
        self.insert_failures += o.insert_failures;
        self.ringbuf_drops += o.ringbuf_drops;
        self.peer_spills += o.peer_spills;
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

    /// Whether this load counts what `flag` (a `META_*` bit) says.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Meta {
            magic: u32_at(b, 0)?,
            layout_version: u32_at(b, 4)?,
            loaded_at_unix: u64_at(b, 8)?,
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
mod tests;
