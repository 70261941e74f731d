//! Rust mirrors of the destination-class structures and constants of bpf/netattr.h.
use super::{u32_at, u64_at};

/// Fixed class ids (netattr.h `CLASS_*`), by id; user classes take ids from
/// `CLASS_FIRST_USER` on.
pub const BUILTIN_CLASSES: [&str; 7] =
    ["internet", "loopback", "host", "link-local", "multicast", "private", "non-ip"];
pub const CLASS_INTERNET: u16 = 0;
pub const CLASS_HOST: u16 = 2;
pub const CLASS_NON_IP: u16 = 6;
pub const CLASS_FIRST_USER: u16 = 7;
/// Class ids are below this (255 marks a free class lane).
pub const CLASS_MAX: u16 = 255;
/// Bytes of a class name in `class_names`, with its NUL.
pub const CLASS_NAME: usize = 32;
/// Prefixes one IPv6 class table holds.
pub const CLASS_PREFIXES: u32 = 262_144;
/// A class cell that points to a block of 256 cells (`CLASS_CELL_*` in netattr.h).
pub const CLASS_CELL_BLOCK: u16 = 0x8000;
/// A class cell whose addresses the trie classes.
pub const CLASS_CELL_TRIE: u16 = 0x3fff;
/// An IPv6 root cell whose /16 holds addresses of the /128 hash.
pub const CLASS_CELL_EXACT: u16 = 0x4000;
/// The first IPv6 cell (the 65,536 IPv4 ones come first), and the first cell of block 0.
pub const CLASS6_ROOT: usize = 65536;
pub const CLASS_BLOCKS_AT: usize = 131_072;
/// Blocks of 256 cells in one class table, both families.
pub const CLASS_BLOCKS: usize = 4096;
/// Cells of a class table (16 bits each, all in the table's one map value).
pub const CLASS_CELLS: usize = CLASS_BLOCKS_AT + CLASS_BLOCKS * 256;
/// Bytes of an IPv6 address the cells resolve (a /64); longer prefixes are the trie's, but
/// the /128s of the hash.
pub const CLASS6_DEPTH: usize = 8;
/// The /128 hash after the cells (netattr.h `CLASS_EXACT_*`): slots of `CLASS_EXACT_STRIDE`
/// cells (the address as two native u64, its class), found from
/// `mul_hash(hi ^ lo, CLASS_EXACT_BITS)` in `CLASS_EXACT_PROBES` probes.
pub const CLASS_EXACT_AT: usize = CLASS_CELLS;
pub const CLASS_EXACT_BITS: u32 = 6;
pub const CLASS_EXACT_SLOTS: usize = 1 << CLASS_EXACT_BITS;
pub const CLASS_EXACT_STRIDE: usize = 12;
/// The cell of a slot that holds its class (the address is cells 0 to 7).
pub const CLASS_EXACT_CLASS: usize = 8;
pub const CLASS_EXACT_EMPTY: u16 = 0xffff;
pub const CLASS_EXACT_PROBES: usize = 4;
/// Cells of a whole class table: the cells and the /128 hash.
pub const CLASS_TABLE_CELLS: usize = CLASS_EXACT_AT + CLASS_EXACT_SLOTS * CLASS_EXACT_STRIDE;
/// Class lanes of a held slot, and the byte of a free lane.
pub const CLASS_LANES: u32 = 4;
pub const CLASS_LANE_FREE: u8 = 0xff;

/// `struct class_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassKey {
    pub cgroup_id: u64,
    pub class_id: u16,
    pub source: u8,
}

impl ClassKey {
    pub const SIZE: usize = 16;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(ClassKey {
            cgroup_id: u64_at(b, 0)?,
            class_id: u16::from_ne_bytes(b.get(8..10)?.try_into().ok()?),
            source: *b.get(10)?,
        })
    }

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.cgroup_id.to_ne_bytes());
        b[8..10].copy_from_slice(&self.class_id.to_ne_bytes());
        b[10] = self.source;
        b
    }
}

/// `struct class_prefix`: a key of the class trie. IPv4 prefixes are stored as IPv4-mapped
/// IPv6 prefixes (::ffff:a.b.c.d/96+n), so that one trie holds both families and an
/// IPv4-mapped address is classified as its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassPrefix(pub ipnet::IpNet);

impl ClassPrefix {
    pub const SIZE: usize = 20;

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        let (len, addr) = match self.0 {
            ipnet::IpNet::V4(n) => (96 + u32::from(n.prefix_len()), n.network().to_ipv6_mapped().octets()),
            ipnet::IpNet::V6(n) => (u32::from(n.prefix_len()), n.network().octets()),
        };
        b[0..4].copy_from_slice(&len.to_ne_bytes());
        b[4..20].copy_from_slice(&addr);
        b
    }

    /// The prefix a trie key stands for (IPv4-mapped prefixes as IPv4).
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let len = u8::try_from(u32_at(b, 0)?).ok()?;
        let addr: [u8; 16] = b.get(4..20)?.try_into().ok()?;
        let v6 = std::net::Ipv6Addr::from(addr);
        let net = match v6.to_ipv4_mapped() {
            Some(v4) if len >= 96 => ipnet::IpNet::V4(ipnet::Ipv4Net::new(v4, len - 96).ok()?),
            _ => ipnet::IpNet::V6(ipnet::Ipv6Net::new(v6, len).ok()?),
        };
        Some(ClassPrefix(net))
    }
}
