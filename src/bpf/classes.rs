//! The class tables in the kernel (bpf/netattr.h): for IPv4 a direct-indexed table of
//! cells, for IPv6 an LPM trie (which also holds the IPv4 prefixes, IPv4-mapped). Each is
//! built whole beside the one in use and swapped into its array of one map in one update,
//! so that every packet is classified by either the old table or the new one, never by one
//! half-written; and the class names (`class_names`, id -> name). What the classes are is
//! `core::classes`'.
use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use libbpf_rs::{libbpf_sys, MapCore, MapFlags, MapHandle, MapType};

use super::layout::{
    ClassPrefix, CLASS4_BLOCK, CLASS4_BLOCKS, CLASS4_WORDS, CLASS_INTERNET, CLASS_MAX, CLASS_NAME,
    CLASS_PREFIXES,
};

/// Builds the tables of `entries` and swaps them in: IPv4 into `table4`, then IPv6 into
/// `table6`. The tables they replace are freed by the kernel once no program uses them.
pub fn install(table4: &dyn MapCore, table6: &dyn MapCore, entries: &[(ClassPrefix, u16)]) -> Result<()> {
    let words = cells4(entries)?;
    let opts = |flags: u32| libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as libbpf_sys::size_t,
        map_flags: flags,
        ..Default::default()
    };
    let cells = MapHandle::create(MapType::Array, Some("class4_cells"), 4, 8, CLASS4_WORDS as u32, &opts(0))
        .context("creating an IPv4 class table")?;
    // A new array is zeros: class 0 (`internet`) everywhere. Only the other words are written.
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    for (i, w) in words.iter().enumerate().filter(|(_, w)| **w != 0) {
        keys.extend_from_slice(&(i as u32).to_ne_bytes());
        values.extend_from_slice(&w.to_ne_bytes());
    }
    if !keys.is_empty() {
        cells
            .update_batch(&keys, &values, (keys.len() / 4) as u32, MapFlags::ANY, MapFlags::ANY)
            .context("writing the IPv4 class table")?;
    }
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
    swap(table4, &cells, "IPv4")?;
    swap(table6, &trie, "IPv6")
}

fn swap(table: &dyn MapCore, inner: &MapHandle, family: &str) -> Result<()> {
    use std::os::fd::{AsFd, AsRawFd};
    let fd = inner.as_fd().as_raw_fd() as u32;
    table
        .update(&0u32.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
        .with_context(|| format!("swapping in the {family} class table"))
}

/// The IPv4 cells of `entries`, four to a u64 word: cell i < 65536 is the /16 i; a cell
/// holds a class id, or `CLASS4_BLOCK | b` for block b, cells 65536 + 256 b .. + 256 (by
/// the address's next byte). Prefixes are painted shortest first, so that a longer one
/// paints over the shorter ones it lies in: the longest match wins, as in a trie.
pub fn cells4(entries: &[(ClassPrefix, u16)]) -> Result<Vec<u64>> {
    let mut v4: Vec<(ipnet::Ipv4Net, u16)> = entries
        .iter()
        .filter_map(|(p, c)| match p.0 {
            IpNet::V4(n) => Some((n, *c)),
            IpNet::V6(_) => None,
        })
        .collect();
    v4.sort_by_key(|(n, _)| n.prefix_len());
    let mut cells = vec![CLASS_INTERNET; 65536];
    let mut blocks = 0usize;
    // The block a cell points to, made from the cell's class when it has none yet.
    let mut block_of = |cells: &mut Vec<u16>, i: usize| -> Result<usize> {
        if cells[i] & CLASS4_BLOCK == 0 {
            if blocks == CLASS4_BLOCKS {
                bail!(
                    "the IPv4 classes split more than {CLASS4_BLOCKS} ranges of 256 addresses: use fewer \
                     prefixes longer than /16 (merge neighbouring ones)"
                );
            }
            let class = cells[i];
            cells.extend(std::iter::repeat_n(class, 256));
            cells[i] = CLASS4_BLOCK | blocks as u16;
            blocks += 1;
        }
        Ok(65536 + usize::from(cells[i] & !CLASS4_BLOCK) * 256)
    };
    for (net, class) in v4 {
        let a = u32::from(net.network()) as usize;
        let len = usize::from(net.prefix_len());
        let (start, count) = if len <= 16 {
            (a >> 16, 1usize << (16 - len))
        } else {
            let b2 = block_of(&mut cells, a >> 16)?;
            if len <= 24 {
                (b2 + ((a >> 8) & 0xff), 1 << (24 - len))
            } else {
                let b3 = block_of(&mut cells, b2 + ((a >> 8) & 0xff))?;
                (b3 + (a & 0xff), 1 << (32 - len))
            }
        };
        // Shorter prefixes came first: nothing in this range points to a block yet.
        cells[start..start + count].fill(class);
    }
    cells.resize(CLASS4_WORDS * 4, CLASS_INTERNET);
    Ok(cells
        .chunks(4)
        .map(|c| c.iter().enumerate().fold(0u64, |w, (i, x)| w | u64::from(*x) << (16 * i)))
        .collect())
}

/// The class of IPv4 address `a` in `words` (what the kernel's lookup does; the tests hold
/// the cells to the longest-prefix answer with it).
#[cfg(test)]
pub fn class4(words: &[u64], a: std::net::Ipv4Addr) -> u16 {
    let cell = |i: usize| (words.get(i / 4).copied().unwrap_or(0) >> (16 * (i % 4))) as u16;
    let a = u32::from(a) as usize;
    let mut c = cell(a >> 16);
    for shift in [8, 0] {
        if c & CLASS4_BLOCK == 0 {
            break;
        }
        c = cell(65536 + usize::from(c & !CLASS4_BLOCK) * 256 + ((a >> shift) & 0xff));
    }
    c
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
