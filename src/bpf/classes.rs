//! The class table in the kernel: a whole LPM trie of (prefix -> class id) built aside and
//! swapped into `class_table` (an array of one map) in one update, so that every packet
//! is classified by either the old table or the new one, never by one half-written; and
//! the class names (`class_names`, id -> name). What the classes are is `core::classes`'.
use anyhow::{Context, Result};
use libbpf_rs::{libbpf_sys, MapCore, MapFlags, MapHandle, MapType};

use super::layout::{ClassPrefix, CLASS_MAX, CLASS_NAME, CLASS_PREFIXES};

/// Builds a trie holding `entries` and swaps it into `table`. The previous trie is freed by
/// the kernel once no program uses it.
pub fn install(table: &dyn MapCore, entries: &[(ClassPrefix, u16)]) -> Result<()> {
    use std::os::fd::{AsFd, AsRawFd};
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as libbpf_sys::size_t,
        map_flags: libbpf_sys::BPF_F_NO_PREALLOC,
        ..Default::default()
    };
    let trie = MapHandle::create(
        MapType::LpmTrie,
        Some("class_trie"),
        ClassPrefix::SIZE as u32,
        4,
        CLASS_PREFIXES,
        &opts,
    )
    .context("creating a class table (an LPM trie)")?;
    for (p, class) in entries {
        trie.update(&p.to_bytes(), &u32::from(*class).to_ne_bytes(), MapFlags::NO_EXIST)
            .with_context(|| format!("adding {} to the class table", p.0))?;
    }
    let fd = trie.as_fd().as_raw_fd() as u32;
    table.update(&0u32.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY).context("swapping in the class table")
}

/// Every (prefix, class id) of the trie in use; empty when none is installed.
pub fn entries(table: &MapHandle) -> Result<Vec<(ClassPrefix, u16)>> {
    let Some(id) = table.lookup(&0u32.to_ne_bytes(), MapFlags::ANY).context("reading the class table")?
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
pub fn names(map: &dyn MapCore) -> Result<Vec<Option<String>>> {
    let mut out = Vec::with_capacity(CLASS_MAX as usize);
    for id in 0..u32::from(CLASS_MAX) {
        let v = map.lookup(&id.to_ne_bytes(), MapFlags::ANY).context("reading the class names")?;
        let name = v.and_then(|b| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            (end > 0).then(|| String::from_utf8_lossy(&b[..end]).into_owned())
        });
        out.push(name);
    }
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
