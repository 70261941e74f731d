//! Reading whole maps, per-CPU values included, with as few syscalls as the kernel allows.
//!
//! libbpf-rs's `lookup_batch` refuses per-CPU maps, although the kernel supports batch
//! operations on them, so this goes through libbpf-sys's `bpf_map_lookup_batch` and falls
//! back to key iteration where batching is refused.
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd};

use anyhow::{Context, Result};
use libbpf_rs::libbpf_sys as sys;
use libbpf_rs::{MapCore, MapFlags, MapHandle};

/// One entry: its key bytes, and its value for each possible CPU (one for plain maps).
pub struct Entry {
    pub key: Vec<u8>,
    pub values: Vec<Vec<u8>>,
}

const BATCH: u32 = 4096;

/// Every entry of a hash or array map.
pub fn read_all(map: &MapHandle) -> Result<Vec<Entry>> {
    match read_batched(map) {
        Ok(v) => Ok(v),
        Err(_) => read_by_keys(map),
    }
}

fn slots(map: &MapHandle) -> Result<usize> {
    Ok(if map.map_type().is_percpu() { libbpf_rs::num_possible_cpus()? } else { 1 })
}

fn read_batched(map: &MapHandle) -> std::io::Result<Vec<Entry>> {
    let ncpu = slots(map).map_err(std::io::Error::other)?;
    let ks = map.key_size() as usize;
    // Per-CPU values are laid out every round_up(value_size, 8) bytes.
    let vs = if map.map_type().is_percpu() {
        (map.value_size() as usize).div_ceil(8) * 8
    } else {
        map.value_size() as usize
    };
    let per_entry = vs * ncpu;
    let batch = BATCH.min(map.max_entries().max(1));
    let mut keys = vec![0u8; ks * batch as usize];
    let mut vals = vec![0u8; per_entry * batch as usize];
    let mut token_in = vec![0u8; ks.max(8)];
    let mut token_out = vec![0u8; ks.max(8)];
    let mut first = true;
    let mut out = Vec::new();
    let opts =
        sys::bpf_map_batch_opts { sz: size_of::<sys::bpf_map_batch_opts>() as _, ..Default::default() };
    loop {
        let mut count = batch;
        let ret = unsafe {
            sys::bpf_map_lookup_batch(
                map.as_fd().as_raw_fd(),
                if first { std::ptr::null_mut() } else { token_in.as_mut_ptr().cast() },
                token_out.as_mut_ptr().cast(),
                keys.as_mut_ptr().cast(),
                vals.as_mut_ptr().cast(),
                &mut count,
                &opts,
            )
        };
        let err = if ret < 0 { Some(std::io::Error::from_raw_os_error(-ret)) } else { None };
        if let Some(e) = &err {
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(std::io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EIO)));
            }
        }
        for i in 0..count as usize {
            let v = &vals[i * per_entry..(i + 1) * per_entry];
            out.push(Entry {
                key: keys[i * ks..(i + 1) * ks].to_vec(),
                values: v.chunks(vs).map(|c| c.to_vec()).collect(),
            });
        }
        if err.is_some() {
            return Ok(out);
        }
        std::mem::swap(&mut token_in, &mut token_out);
        first = false;
    }
}

fn read_by_keys(map: &MapHandle) -> Result<Vec<Entry>> {
    let percpu = map.map_type().is_percpu();
    let mut out = Vec::new();
    for key in map.keys() {
        let values = if percpu {
            map.lookup_percpu(&key, MapFlags::ANY).context("reading a per-CPU map entry")?
        } else {
            map.lookup(&key, MapFlags::ANY).context("reading a map entry")?.map(|v| vec![v])
        };
        // An entry deleted between keys() and lookup() is simply skipped.
        if let Some(values) = values {
            out.push(Entry { key, values });
        }
    }
    Ok(out)
}

/// A u64 key.
pub fn key_u64(key: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(key.get(..8)?.try_into().ok()?))
}

/// Every entry of a counter map, its per-CPU values summed: (key bytes, counters).
pub fn read_counters(map: &MapHandle) -> Result<Vec<(Vec<u8>, crate::bpf::Counters)>> {
    Ok(read_all(map)?
        .into_iter()
        .map(|e| {
            let mut sum = crate::bpf::Counters::default();
            for v in &e.values {
                if let Some(c) = crate::bpf::Counters::from_bytes(v) {
                    sum.add(&c);
                }
            }
            (e.key, sum)
        })
        .collect())
}
