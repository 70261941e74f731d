//! The class tables in the kernel (bpf/netattr.h): a direct-indexed table of cells for both
//! families, and an LPM trie for what the cells leave to it (which holds every prefix, the
//! IPv4 ones IPv4-mapped). Each is
//! built whole beside the one in use and swapped into its array of one map in one update,
//! so that every packet is classified by either the old table or the new one, never by one
//! half-written; and the class names (`class_names`, id -> name). What the classes are is
//! `core::classes`'.
use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use libbpf_rs::{libbpf_sys, MapCore, MapFlags, MapHandle, MapType};

use super::layout::{
    mul_hash, ClassPrefix, CLASS6_DEPTH, CLASS6_ROOT, CLASS_BLOCKS, CLASS_BLOCKS_AT, CLASS_CELL_BLOCK,
    CLASS_CELL_EXACT, CLASS_CELL_TRIE, CLASS_EXACT_AT, CLASS_EXACT_BITS, CLASS_EXACT_CLASS,
    CLASS_EXACT_EMPTY, CLASS_EXACT_PROBES, CLASS_EXACT_SLOTS, CLASS_EXACT_STRIDE, CLASS_INTERNET, CLASS_MAX,
    CLASS_NAME, CLASS_PREFIXES, CLASS_TABLE_CELLS,
};

/// Builds the tables of `entries` and swaps them in: the cells, both families, into
/// `table4` (the map `class_table4`, named for its first use: it holds IPv6's cells too),
/// then the trie into `table6`. The tables they replace are freed by the kernel once no program uses them.
pub fn install(table4: &dyn MapCore, table6: &dyn MapCore, entries: &[(ClassPrefix, u16)]) -> Result<()> {
    let cells = cells(entries)?;
    let opts = |flags: u32| libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as libbpf_sys::size_t,
        map_flags: flags,
        ..Default::default()
    };
    let value: Vec<u8> = cells.iter().flat_map(|c| c.to_ne_bytes()).collect();
    // One value of all the cells, so that the programs read a cell with a plain load.
    let size = (CLASS_TABLE_CELLS * 2) as u32;
    let direct = MapHandle::create(MapType::Array, Some("class_cells"), 4, size, 1, &opts(0))
        .context("creating a class table")?;
    direct.update(&0u32.to_ne_bytes(), &value, MapFlags::ANY).context("writing the class table")?;
    let trie = MapHandle::create(
        MapType::LpmTrie,
        Some("class6_trie"),
        ClassPrefix::SIZE as u32,
        4,
        CLASS_PREFIXES,
        &opts(libbpf_sys::BPF_F_NO_PREALLOC),
    )
    .context("creating an IPv6 class table (an LPM trie)")?;
    for (p, class) in entries {
        trie.update(&p.to_bytes(), &u32::from(*class).to_ne_bytes(), MapFlags::NO_EXIST)
            .with_context(|| format!("adding {} to the class table", p.0))?;
    }
    swap(table4, &direct, "direct")?;
    swap(table6, &trie, "trie")
}

fn swap(table: &dyn MapCore, inner: &MapHandle, family: &str) -> Result<()> {
    use std::os::fd::{AsFd, AsRawFd};
    let fd = inner.as_fd().as_raw_fd() as u32;
    table
        .update(&0u32.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
        .with_context(|| format!("swapping in the {family} class table"))
}

/// The cells of `entries` (bpf/netattr.h): the root cells of IPv4 (from cell 0) and IPv6
/// (from `CLASS6_ROOT`) by the address's first 16 bits, then blocks of 256 cells by its next
/// byte where prefixes split a range, IPv4 to the fourth byte and IPv6 to the eighth (a /64);
/// a cell holds a class id, `CLASS_CELL_BLOCK | b` for block b, or `CLASS_CELL_TRIE` where
/// the trie decides: an IPv6 /16 that holds a prefix longer than /64 other than the /128s of
/// the hash, and ::/16, where IPv4-mapped addresses are. IPv6 /128s (the host's own
/// addresses, say) go to the hash after the cells where they fit, and their root cells get
/// `CLASS_CELL_EXACT`. Prefixes are painted shortest first, so that a longer one paints over
/// the shorter ones it lies in: the longest match wins, as in a trie.
pub fn cells(entries: &[(ClassPrefix, u16)]) -> Result<Vec<u16>> {
    let (exact, exact_roots, placed) = exact_hash(entries);
    let mut nets = root_nets(entries, &placed);
    let trie = trie_roots(&mut nets);
    let mut cells = vec![CLASS_INTERNET; CLASS_BLOCKS_AT];
    let mut blocks = 0usize;
    // The block a cell points to, made from the cell's class when it has none yet.
    let mut block_of = |cells: &mut Vec<u16>, i: usize| -> Result<usize> {
        if cells[i] & CLASS_CELL_BLOCK == 0 {
            if blocks == CLASS_BLOCKS {
                bail!(
                    "the classes split more than {CLASS_BLOCKS} ranges of 256 addresses (IPv4 prefixes \
                     longer than /16, IPv6 ones longer than /16, the host's addresses): use fewer \
                     (merge neighbouring ones)"
                );
            }
            let class = cells[i];
            cells.extend(std::iter::repeat_n(class, 256));
            cells[i] = CLASS_CELL_BLOCK | blocks as u16;
            blocks += 1;
        }
        Ok(CLASS_BLOCKS_AT + usize::from(cells[i] & !CLASS_CELL_BLOCK) * 256)
    };
    for (root, rest, len, class) in nets {
        if len <= 16 {
            // A /n with n <= 16 covers 2^(16-n) root cells (the trie's /16s are set back below).
            cells[root..root + (1 << (16 - len))].fill(class);
            continue;
        }
        // Down the blocks, a byte a level, to the level that holds the prefix's last bit.
        let mut at = root;
        let mut covered = 16;
        let (start, count) = loop {
            let block = block_of(&mut cells, at)?;
            let byte = usize::from(rest[(covered - 16) / 8]);
            covered += 8;
            if len <= covered {
                break (block + byte, 1usize << (covered - len));
            }
            at = block + byte;
        };
        // Shorter prefixes came first: nothing in this range points to a block yet.
        cells[start..start + count].fill(class);
    }
    for root in trie {
        cells[root] = CLASS_CELL_TRIE;
    }
    for root in exact_roots {
        cells[root] |= CLASS_CELL_EXACT;
    }
    cells.resize(CLASS_EXACT_AT, CLASS_INTERNET);
    cells.extend(exact);
    Ok(cells)
}

/// A prefix as the table places it: (root cell, the address's bytes after its first two,
/// prefix length, class).
type Net = (usize, Vec<u8>, usize, u16);

/// The prefixes not placed in the exact hash, by root cell.
fn root_nets(entries: &[(ClassPrefix, u16)], placed: &[ClassPrefix]) -> Vec<Net> {
    entries
        .iter()
        .filter(|(p, _)| placed.binary_search(p).is_err())
        .filter_map(|(p, c)| match p.0 {
            IpNet::V4(n) => {
                let a = n.network().octets();
                Some((
                    (usize::from(a[0]) << 8) | usize::from(a[1]),
                    a[2..].to_vec(),
                    usize::from(n.prefix_len()),
                    *c,
                ))
            }
            IpNet::V6(n) => {
                let a = n.network().octets();
                let root = (usize::from(a[0]) << 8) | usize::from(a[1]);
                // ::/16 is the trie's whole (IPv4-mapped addresses, loopback, unspecified).
                (root != 0 || n.prefix_len() < 16).then(|| {
                    (CLASS6_ROOT + root, a[2..CLASS6_DEPTH].to_vec(), usize::from(n.prefix_len()), *c)
                })
            }
        })
        .collect()
}

/// The IPv6 /16s the trie decides (::/16, and those holding a prefix longer than /64),
/// their prefixes taken out of `nets`; `nets` sorted shortest first.
fn trie_roots(nets: &mut Vec<Net>) -> Vec<usize> {
    let mut trie: Vec<usize> = vec![CLASS6_ROOT];
    trie.extend(
        nets.iter().filter(|(root, _, len, _)| *root >= CLASS6_ROOT && *len > CLASS6_DEPTH * 8).map(|n| n.0),
    );
    trie.sort_unstable();
    trie.dedup();
    nets.retain(|(root, _, len, _)| *len <= 16 || trie.binary_search(root).is_err());
    nets.sort_by_key(|(.., len, _)| *len);
    trie
}

/// The two native-endian halves of an IPv6 address, as the programs load them.
fn halves(a: std::net::Ipv6Addr) -> [u64; 2] {
    let o = a.octets();
    let half = |h: &[u8]| u64::from_ne_bytes(h.try_into().unwrap_or_default());
    [half(&o[..8]), half(&o[8..])]
}

/// A half of an address as the four cells that hold it (its bytes in memory order, as the
/// programs' u64 load reads them back).
fn half_cells(h: u64) -> [u16; 4] {
    let b = h.to_ne_bytes();
    std::array::from_fn(|j| u16::from_ne_bytes([b[2 * j], b[2 * j + 1]]))
}

/// The first slot of `a` in the /128 hash.
fn exact_slot(a: [u64; 2]) -> usize {
    mul_hash(a[0] ^ a[1], CLASS_EXACT_BITS) as usize
}

/// The /128 hash of `entries`' IPv6 /128s outside ::/16 (cells from `CLASS_EXACT_AT`), the
/// root cells of the /16s they are in, and the prefixes it holds (sorted): a /128 that finds
/// no free slot in its probes stays with the cells and the trie.
fn exact_hash(entries: &[(ClassPrefix, u16)]) -> (Vec<u16>, Vec<usize>, Vec<ClassPrefix>) {
    let mut slots = vec![CLASS_INTERNET; CLASS_EXACT_SLOTS * CLASS_EXACT_STRIDE];
    for s in 0..CLASS_EXACT_SLOTS {
        slots[s * CLASS_EXACT_STRIDE + CLASS_EXACT_CLASS] = CLASS_EXACT_EMPTY;
    }
    let (mut roots, mut placed) = (Vec::new(), Vec::new());
    for (p, class) in entries {
        let IpNet::V6(n) = p.0 else { continue };
        let root = n.network().segments()[0];
        if n.prefix_len() != 128 || root == 0 {
            continue;
        }
        let a = halves(n.network());
        let free = (0..CLASS_EXACT_PROBES)
            .map(|i| (exact_slot(a) + i) % CLASS_EXACT_SLOTS * CLASS_EXACT_STRIDE)
            .find(|at| slots[at + CLASS_EXACT_CLASS] == CLASS_EXACT_EMPTY);
        if let Some(at) = free {
            for (i, h) in a.iter().enumerate() {
                slots[at + i * 4..at + i * 4 + 4].copy_from_slice(&half_cells(*h));
            }
            slots[at + CLASS_EXACT_CLASS] = *class;
            roots.push(CLASS6_ROOT + usize::from(root));
            placed.push(*p);
        }
    }
    placed.sort();
    (slots, roots, placed)
}

/// The class of `addr` in `cells` as the kernel's lookup finds it, None where it asks the
/// trie (the tests hold the cells to the longest-prefix answer with it).
#[cfg(test)]
pub fn class_of(cells: &[u16], addr: std::net::IpAddr) -> Option<u16> {
    let cell = |i: usize| cells.get(i).copied().unwrap_or(CLASS_INTERNET);
    let (root, bytes): (usize, Vec<u8>) = match addr {
        std::net::IpAddr::V4(a) => (0, a.octets().to_vec()),
        std::net::IpAddr::V6(a) => (CLASS6_ROOT, a.octets()[..CLASS6_DEPTH].to_vec()),
    };
    let mut c = cell(root + ((usize::from(bytes[0]) << 8) | usize::from(bytes[1])));
    if let (std::net::IpAddr::V6(a), true) = (addr, c & CLASS_CELL_EXACT != 0) {
        let a = halves(a);
        let want = a.map(half_cells);
        for i in 0..CLASS_EXACT_PROBES {
            let at = CLASS_EXACT_AT + (exact_slot(a) + i) % CLASS_EXACT_SLOTS * CLASS_EXACT_STRIDE;
            let class = cell(at + CLASS_EXACT_CLASS);
            if class == CLASS_EXACT_EMPTY {
                break;
            }
            let holds = |h: usize| (0..4).all(|j| cell(at + h * 4 + j) == want[h][j]);
            if holds(0) && holds(1) {
                return Some(class);
            }
        }
        c &= !CLASS_CELL_EXACT;
    }
    for b in &bytes[2..] {
        if c & CLASS_CELL_BLOCK == 0 {
            break;
        }
        c = cell(CLASS_BLOCKS_AT + usize::from(c & !CLASS_CELL_BLOCK) * 256 + usize::from(*b));
    }
    (c != CLASS_CELL_TRIE).then_some(c)
}

/// Every (prefix, class id) of the IPv6 trie in use (which holds the IPv4 prefixes too);
/// empty when none is installed.
pub fn entries(table6: &MapHandle) -> Result<Vec<(ClassPrefix, u16)>> {
    let Some(id) = table6.lookup(&0u32.to_ne_bytes(), MapFlags::ANY).context("reading the class table")?
    else {
        return Ok(vec![]);
    };
    let id = u32::from_ne_bytes(id.get(..4).and_then(|b| b.try_into().ok()).unwrap_or_default());
    let trie = MapHandle::from_map_id(id).context("opening the class table")?;
    let mut out = Vec::new();
    for k in trie.keys() {
        // A key deleted between listing and lookup cannot happen: tables are never edited.
        if let (Some(p), Some(v)) = (ClassPrefix::from_bytes(&k), trie.lookup(&k, MapFlags::ANY)?) {
            let class = u32::from_ne_bytes(v.get(..4).and_then(|b| b.try_into().ok()).unwrap_or_default());
            out.push((p, u16::try_from(class).unwrap_or(u16::MAX)));
        }
    }
    out.sort();
    Ok(out)
}

/// Class names by id (None where an id is unused).
pub fn names(map: &MapHandle) -> Result<Vec<Option<String>>> {
    let mut out = vec![None; CLASS_MAX as usize];
    // One batch read of the array, not a lookup per id.
    super::percpu::for_each(map, |k, v| {
        let id = super::percpu::key_u32(k).map(|id| id as usize);
        if let Some(slot) = id.and_then(|id| out.get_mut(id)) {
            let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
            *slot = (end > 0).then(|| String::from_utf8_lossy(&v[..end]).into_owned());
        }
    })
    .context("reading the class names")?;
    Ok(out)
}

/// Writes the name of class `id`.
pub fn set_name(map: &dyn MapCore, id: u16, name: &str) -> Result<()> {
    let mut b = [0u8; CLASS_NAME];
    let n = name.as_bytes();
    b[..n.len().min(CLASS_NAME - 1)].copy_from_slice(&n[..n.len().min(CLASS_NAME - 1)]);
    map.update(&u32::from(id).to_ne_bytes(), &b, MapFlags::ANY)
        .with_context(|| format!("naming class {name}"))
}
