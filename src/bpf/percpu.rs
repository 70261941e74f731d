//! Reading whole maps, per-CPU values included, with as few syscalls and copies as the
//! kernel allows.
//!
//! libbpf-rs's `lookup_batch` refuses per-CPU maps, although the kernel supports batch
//! operations on them, so this goes through libbpf-sys's `bpf_map_lookup_batch` (4,096 keys
//! per call) and falls back to key iteration where batching is refused.
use std::os::fd::AsFd;

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use crate::ffi;
use crate::model::Counters;

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
        Outcome::Done => Ok(out),
        // Refused, or failed part way: start again from nothing, key by key.
        Outcome::Refused(_) | Outcome::Failed(_) => read_by_keys(map),
    }
}

/// Every entry of a counter map, its per-CPU values summed: (key, counters), each key
/// decoded by `key` (entries it refuses are left out), straight from the batch buffers with
/// no copy per entry.
pub fn read_counters<K>(map: &MapHandle, key: impl Fn(&[u8]) -> Option<K>) -> Result<Vec<(K, Counters)>> {
    let mut out = Vec::with_capacity(1024);
    let batched = for_each_batched(map, |k, values, stride| {
        if let Some(k) = key(k) {
            out.push((k, sum(values.chunks(stride))));
        }
    });
    match batched {
        Outcome::Done => Ok(out),
        // Refused, or failed part way: start again from nothing, key by key.
        Outcome::Refused(_) | Outcome::Failed(_) => Ok(read_by_keys(map)?
            .into_iter()
            .filter_map(|e| Some((key(&e.key)?, sum(e.values.iter().map(Vec::as_slice)))))
            .collect()),
    }
}

/// Calls `f(key, value)` for every entry once, decoding straight from the batch buffers (no
/// copy per entry); for a per-CPU map `value` holds every CPU's value. Falls back to key
/// iteration only when batching is refused before any entry was delivered: a read that
/// fails part way is an error, never a second visit of the entries already delivered.
pub fn for_each(map: &MapHandle, mut f: impl FnMut(&[u8], &[u8])) -> Result<()> {
    match for_each_batched(map, |k, v, _| f(k, v)) {
        Outcome::Done => Ok(()),
        Outcome::Refused(_) => {
            for e in read_by_keys(map)? {
                f(&e.key, &e.values.concat());
            }
            Ok(())
        }
        Outcome::Failed(e) => Err(e).context("reading a map in batches failed part way (read it again)"),
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
    for_each(map, |k, v| {
        if let (Some(k), Some(v)) = (key_u32(k), key_u64(v)) {
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

/// How a batched read ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every entry was delivered once.
    Done,
    /// Batching failed before any entry was delivered (a kernel or map type without it).
    Refused(std::io::Error),
    /// Batching failed after some entries were delivered.
    Failed(std::io::Error),
}

/// Runs `batch(first)` until it reports the last batch; each call delivers its entries and
/// returns (entries delivered, last). Tells a failure before any delivery from one after.
fn drive(mut batch: impl FnMut(bool) -> std::io::Result<(usize, bool)>) -> Outcome {
    let mut delivered = 0;
    let mut first = true;
    loop {
        match batch(first) {
            Ok((n, last)) => {
                delivered += n;
                if last {
                    return Outcome::Done;
                }
            }
            Err(e) if delivered == 0 => return Outcome::Refused(e),
            Err(e) => return Outcome::Failed(e),
        }
        first = false;
    }
}

/// Calls `f(key, values of all CPUs, bytes per CPU value)` for every entry, batch by batch.
fn for_each_batched<F: FnMut(&[u8], &[u8], usize)>(map: &MapHandle, mut f: F) -> Outcome {
    let percpu = map.map_type().is_percpu();
    let ncpu = if percpu {
        match libbpf_rs::num_possible_cpus() {
            Ok(n) => n,
            Err(e) => return Outcome::Refused(std::io::Error::other(e)),
        }
    } else {
        1
    };
    let ks = map.key_size() as usize;
    // Per-CPU values are laid out every round_up(value_size, 8) bytes.
    let vs = if percpu { (map.value_size() as usize).div_ceil(8) * 8 } else { map.value_size() as usize };
    let per_entry = vs * ncpu;
    let batch = BATCH.min(map.max_entries().max(1));
    let mut keys = vec![0u8; ks * batch as usize];
    let mut vals = vec![0u8; per_entry * batch as usize];
    let mut token_in = vec![0u8; ks.max(8)];
    let mut token_out = vec![0u8; ks.max(8)];
    drive(|first| {
        if !first {
            std::mem::swap(&mut token_in, &mut token_out);
        }
        let token = if first { None } else { Some(token_in.as_mut_slice()) };
        let (count, last) = ffi::map_lookup_batch(
            map.as_fd(),
            token,
            &mut token_out,
            &mut keys,
            &mut vals,
            batch,
            ks,
            per_entry,
        )?;
        for i in 0..count {
            f(&keys[i * ks..(i + 1) * ks], &vals[i * per_entry..(i + 1) * per_entry], vs);
        }
        Ok((count, last))
    })
}

/// Removes `key` and returns its per-CPU counters summed, in one step (Linux 5.14+ for
/// per-CPU hashes): what a program adds before the removal is in the result, what it adds
/// after lands in a new entry. None when the key was not there.
pub fn take_counters(map: &MapHandle, key: &[u8]) -> Result<Option<Counters>> {
    let percpu = map.map_type().is_percpu();
    let ncpu = if percpu { libbpf_rs::num_possible_cpus()? } else { 1 };
    let vs = if percpu { (map.value_size() as usize).div_ceil(8) * 8 } else { map.value_size() as usize };
    let mut value = vec![0u8; vs * ncpu];
    let len = value.len();
    match ffi::map_lookup_and_delete(map.as_fd(), key, &mut value, len) {
        Ok(true) => Ok(Some(sum(value.chunks(vs)))),
        Ok(false) => Ok(None),
        // Per-CPU hashes take lookup-and-delete from Linux 5.14: before, read then delete
        // (what a program adds in between is lost; docs/accounting.md says so).
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP)) => {
            let Some(values) = map.lookup_percpu(key, MapFlags::ANY).context("reading a map entry")? else {
                return Ok(None);
            };
            map.delete(key).context("removing a map entry")?;
            Ok(Some(sum(values.iter().map(Vec::as_slice))))
        }
        Err(e) => Err(e).context("removing a map entry"),
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

/// A u32 key (array indexes, ifindexes).
pub fn key_u32(key: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(key.get(..4)?.try_into().ok()?))
}

/// A u64 key.
pub fn key_u64(key: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(key.get(..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read that fails after its first batch is an error, not a fallback that visits the
    /// delivered entries a second time; one that fails at once may fall back.
    #[test]
    fn a_failure_part_way_is_not_a_second_visit() {
        let mut calls = 0;
        let outcome = drive(|_| {
            calls += 1;
            match calls {
                1 => Ok((4096, false)),
                _ => Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
            }
        });
        assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
        let outcome = drive(|_| Err(std::io::Error::from_raw_os_error(libc::EINVAL)));
        assert!(matches!(outcome, Outcome::Refused(_)), "{outcome:?}");
        let mut n = 0;
        let outcome = drive(|first| {
            n += 1;
            Ok((10, !first))
        });
        assert!(matches!(outcome, Outcome::Done) && n == 2);
    }
}
