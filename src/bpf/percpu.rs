//! Reading whole maps, per-CPU values included, with as few syscalls and copies as the
//! kernel allows.
//!
//! libbpf-rs's `lookup_batch` refuses per-CPU maps, although the kernel supports batch
//! operations on them, so this goes through libbpf-sys's `bpf_map_lookup_batch` (4,096 keys
//! per call) and falls back to key iteration where batching is refused.
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd};

use anyhow::{Context, Result};
use libbpf_rs::libbpf_sys as sys;
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use crate::bpf::Counters;

/// One entry: its key bytes, and its value for each possible CPU (one for plain maps).
pub struct Entry {
    pub key: Vec<u8>,
    pub values: Vec<Vec<u8>>,
}

const BATCH: u32 = 4096;

/// Every entry of a hash or array map.
pub fn read_all(map: &MapHandle) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let batched = for_each_batched(map, |key, values, stride| {
        out.push(Entry { key: key.to_vec(), values: values.chunks(stride).map(<[u8]>::to_vec).collect() });
    });
    match batched {
        Ok(()) => Ok(out),
        Err(_) => read_by_keys(map),
    }
}

/// Every entry of a counter map, its per-CPU values summed: (key bytes, counters). Decodes
/// straight from the batch buffers, without a copy per entry.
pub fn read_counters(map: &MapHandle) -> Result<Vec<(Vec<u8>, Counters)>> {
    let mut out = Vec::with_capacity(1024);
    let batched =
        for_each_batched(map, |key, values, stride| out.push((key.to_vec(), sum(values.chunks(stride)))));
    match batched {
        Ok(()) => Ok(out),
        Err(_) => Ok(read_by_keys(map)?
            .into_iter()
            .map(|e| (e.key, sum(e.values.iter().map(Vec::as_slice))))
            .collect()),
    }
}

/// Calls `f(key, value)` for every entry, decoding straight from the batch buffers (no copy
/// per entry); for a per-CPU map `value` holds every CPU's value.
pub fn for_each(map: &MapHandle, mut f: impl FnMut(&[u8], &[u8])) -> Result<()> {
    match for_each_batched(map, |k, v, _| f(k, v)) {
        Ok(()) => Ok(()),
        Err(_) => {
            for e in read_by_keys(map)? {
                f(&e.key, &e.values.concat());
            }
            Ok(())
        }
    }
}

/// How many keys a map holds, counted from batch reads without keeping them.
pub fn count(map: &MapHandle) -> Result<usize> {
    let mut n = 0;
    for_each(map, |_, _| n += 1)?;
    Ok(n)
}

/// The u64 values of an array map (u32 keys) whose value is one u64, as (key, value),
/// decoded straight from the batch buffers.
pub fn read_u64s(map: &MapHandle) -> Result<Vec<(u32, u64)>> {
    let mut out = Vec::with_capacity(map.max_entries() as usize);
    let key = |k: &[u8]| Some(u32::from_ne_bytes(k.get(..4)?.try_into().ok()?));
    for_each(map, |k, v| {
        if let (Some(k), Some(v)) = (key(k), key_u64(v)) {
            out.push((k, v));
        }
    })?;
    Ok(out)
}

/// Per-CPU counter values added up.
pub fn sum<'a, I: Iterator<Item = &'a [u8]>>(values: I) -> Counters {
    let mut c = Counters::default();
    for v in values {
        if let Some(x) = Counters::from_bytes(v) {
            c.add(&x);
        }
    }
    c
}

/// Calls `f(key, values of all CPUs, bytes per CPU value)` for every entry, batch by batch.
fn for_each_batched<F: FnMut(&[u8], &[u8], usize)>(map: &MapHandle, mut f: F) -> std::io::Result<()> {
    let percpu = map.map_type().is_percpu();
    let ncpu = if percpu { libbpf_rs::num_possible_cpus().map_err(std::io::Error::other)? } else { 1 };
    let ks = map.key_size() as usize;
    // Per-CPU values are laid out every round_up(value_size, 8) bytes.
    let vs = if percpu { (map.value_size() as usize).div_ceil(8) * 8 } else { map.value_size() as usize };
    let per_entry = vs * ncpu;
    let batch = BATCH.min(map.max_entries().max(1));
    let mut keys = vec![0u8; ks * batch as usize];
    let mut vals = vec![0u8; per_entry * batch as usize];
    let mut token_in = vec![0u8; ks.max(8)];
    let mut token_out = vec![0u8; ks.max(8)];
    let mut first = true;
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
        // ENOENT: this was the last batch (its entries are still valid).
        let last = match ret {
            0 => false,
            e if -e == libc::ENOENT => true,
            e => return Err(std::io::Error::from_raw_os_error(-e)),
        };
        for i in 0..count as usize {
            f(&keys[i * ks..(i + 1) * ks], &vals[i * per_entry..(i + 1) * per_entry], vs);
        }
        if last {
            return Ok(());
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
