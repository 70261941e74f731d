//! Rust mirrors of the per-peer breakdown's structures of bpf/netattr.h.
use std::net::{IpAddr, Ipv6Addr};

use super::u64_at;

/// Words of `peer_classes` (one bit per class id).
pub const PEER_CLASS_WORDS: usize = 4;
/// Peer lanes a counter slot in the pool (netattr.h `PEER_LANES`), the pool's size
/// (`PEER_CELLS`), and the states of a lane.
pub const PEER_LANES: u32 = 4;
pub const PEER_CELLS: u32 = 1 << 14;
pub const PEER_LANE_CLAIMED: u64 = 2;
/// A slot's share of the pool, how many of its lanes may be claimed before a slot past its
/// share is refused, and the index of the pool's count in `<source>_peer_claims` (after the
/// slots' own counts).
pub const PEER_LANES_PER_SLOT: u64 = 64;
pub const PEER_POOL_OPEN: u64 = PEER_CELLS as u64 / 2;
pub const PEER_POOL_COUNT: u32 = super::COUNTER_SLOTS;

/// `struct peer_lane`: a claimed lane's slot, class and address, or None (free, being
/// claimed).
pub fn peer_lane(b: &[u8]) -> Option<(u32, u16, [u8; 16])> {
    let state = u64_at(b, 0)?;
    if state & 0xff != PEER_LANE_CLAIMED {
        return None;
    }
    Some(((state >> 32) as u32, (state >> 8) as u16, b.get(8..24)?.try_into().ok()?))
}

/// `struct peer_key`: a cgroup's remote address (IPv4 as ::ffff:a.b.c.d), its class and the
/// source that counted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerKey {
    pub cgroup_id: u64,
    pub addr: [u8; 16],
    pub class_id: u16,
    pub source: u8,
}

impl PeerKey {
    pub const SIZE: usize = 32;

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != Self::SIZE {
            return None;
        }
        Some(PeerKey {
            cgroup_id: u64_at(b, 0)?,
            addr: b.get(8..24)?.try_into().ok()?,
            class_id: u16::from_ne_bytes(b.get(24..26)?.try_into().ok()?),
            source: *b.get(26)?,
        })
    }

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..8].copy_from_slice(&self.cgroup_id.to_ne_bytes());
        b[8..24].copy_from_slice(&self.addr);
        b[24..26].copy_from_slice(&self.class_id.to_ne_bytes());
        b[26] = self.source;
        b
    }

    /// The remote address, an IPv4 one as IPv4.
    pub fn ip(&self) -> IpAddr {
        ip_of(self.addr)
    }
}

/// An address as the programs key it: IPv4-mapped IPv6 addresses are IPv4.
pub fn ip_of(addr: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(addr);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// The key bytes of an address (IPv4 as ::ffff:a.b.c.d).
pub fn addr_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// The `peer_classes` value marking `ids`.
pub fn class_bits(ids: impl IntoIterator<Item = u16>) -> [u8; PEER_CLASS_WORDS * 8] {
    let mut words = [0u64; PEER_CLASS_WORDS];
    for id in ids {
        let i = usize::from(id);
        if i < PEER_CLASS_WORDS * 64 {
            words[i / 64] |= 1 << (i % 64);
        }
    }
    let mut b = [0u8; PEER_CLASS_WORDS * 8];
    for (i, w) in words.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
    }
    b
}

/// The class ids a `peer_classes` value marks.
pub fn marked_classes(b: &[u8]) -> Vec<u16> {
    (0..PEER_CLASS_WORDS * 64)
        .filter(|i| u64_at(b, i / 64 * 8).is_some_and(|w| w & (1 << (i % 64)) != 0))
        .map(|i| i as u16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_key_round_trips_and_reads_ipv4_as_ipv4() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let k = PeerKey { cgroup_id: 42, addr: addr_bytes(ip), class_id: 5, source: 2 };
        let back = PeerKey::from_bytes(&k.to_bytes()).unwrap();
        assert_eq!(back, k);
        assert_eq!(back.ip(), ip);
        let six: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(ip_of(addr_bytes(six)), six);
    }

    #[test]
    fn the_pool_holds_its_lanes_a_slot() {
        assert_eq!(PEER_CELLS, super::super::COUNTER_SLOTS * PEER_LANES);
        let h = include_str!("../../../bpf/netattr.h");
        let has = |line: &str| assert!(h.lines().any(|l| l.starts_with(line)), "{line}");
        has(&format!("#define PEER_LANES {PEER_LANES}"));
        has(&format!("#define PEER_LANES_PER_SLOT {PEER_LANES_PER_SLOT}"));
        has("#define PEER_POOL_OPEN (PEER_CELLS / 2)");
        has("#define PEER_POOL_COUNT COUNTER_SLOTS ");
    }

    #[test]
    fn class_bits_mark_what_they_are_given() {
        let b = class_bits([0, 5, 63, 64, 200, 300]);
        assert_eq!(marked_classes(&b), vec![0, 5, 63, 64, 200]);
    }
}
