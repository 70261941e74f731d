//! Rust mirrors of bpf/netattr.h, decoded from raw map bytes (never transmuted, so a
//! short or odd-sized value cannot cause undefined behaviour).
use serde::Serialize;

pub const LAYOUT_VERSION: u32 = 1;
pub const MAGIC: u32 = 0x6e65_7461;
pub const CGID_UNRESOLVED: u64 = 0;
pub const CGID_OVERFLOW: u64 = u64::MAX;
/// Keys `load` inserts into every counter map so that the fallbacks always exist.
pub const RESERVED_KEYS: [u64; 2] = [CGID_UNRESOLVED, CGID_OVERFLOW];

pub const ATTACH_INGRESS: u32 = 1 << 0;
pub const ATTACH_EGRESS: u32 = 1 << 1;
pub const ATTACH_QDISC_CREATED: u32 = 1 << 2;

fn u64_at(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(i * 8..i * 8 + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
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
}

impl Meta {
    pub const SIZE: usize = 24;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(Meta {
            magic: u32_at(b, 0)?,
            layout_version: u32_at(b, 4)?,
            loaded_at_unix: u64_at(b, 1)?,
            max_entries: u32_at(b, 16)?,
        })
    }

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.magic.to_ne_bytes());
        b[4..8].copy_from_slice(&self.layout_version.to_ne_bytes());
        b[8..16].copy_from_slice(&self.loaded_at_unix.to_ne_bytes());
        b[16..20].copy_from_slice(&self.max_entries.to_ne_bytes());
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
    }

    #[test]
    fn constants_match_the_header() {
        let h = include_str!("../../bpf/netattr.h");
        assert!(h.contains(&format!("#define NETATTR_LAYOUT_VERSION {LAYOUT_VERSION}\n")));
        assert!(h.contains(&format!("#define NETATTR_MAGIC {MAGIC:#x}")));
    }

    #[test]
    fn round_trips_and_short_input() {
        let m = Meta { magic: MAGIC, layout_version: 1, loaded_at_unix: 42, max_entries: 7 };
        assert_eq!(Meta::from_bytes(&m.to_bytes()), Some(m));
        let a = Attachment { flags: 5, ifname: "veth-with-a-very-long-name".into() };
        assert_eq!(Attachment::from_bytes(&a.to_bytes()).unwrap().ifname, "veth-with-a-ver");
        assert_eq!(Counters::from_bytes(&[0u8; 31]), None);
        assert_eq!(Meta::from_bytes(&[]), None);
    }
}
