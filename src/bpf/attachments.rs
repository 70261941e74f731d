//! The maps that say where an instance is attached: the per-interface attachment records
//! (`attachments`: which hooks, whether netattr added the clsact qdisc) and the owner cgroup
//! of each interface (`owner_by_index`, `iface_owner`), read by the tc programs.
use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use super::layout::{Attachment, OWNER_ARRAY_SLOTS};
use super::percpu;

pub fn record(map: &MapHandle, ifindex: u32) -> Result<Option<Attachment>> {
    Ok(map
        .lookup(&ifindex.to_ne_bytes(), MapFlags::ANY)
        .context("reading netattr's attachment records")?
        .and_then(|b| Attachment::from_bytes(&b)))
}

pub fn save(map: &MapHandle, ifindex: u32, rec: &Attachment) -> Result<()> {
    map.update(&ifindex.to_ne_bytes(), &rec.to_bytes(), MapFlags::ANY)
        .context("writing netattr's attachment records")
}

pub fn forget(map: &MapHandle, ifindex: u32) -> Result<()> {
    delete(map, &ifindex.to_ne_bytes()).context("removing an attachment record")
}

/// Deletes a key; a key that is not there is not an error.
fn delete(map: &MapHandle, key: &[u8]) -> libbpf_rs::Result<()> {
    match map.delete(key) {
        Err(e) if e.kind() == libbpf_rs::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Every record: (ifindex, record).
pub fn records(map: &MapHandle) -> Result<Vec<(u32, Attachment)>> {
    Ok(percpu::read_all(map)?
        .into_iter()
        .filter_map(|e| {
            let idx = percpu::key_u32(&e.key)?;
            Some((idx, Attachment::from_bytes(e.values.first()?)?))
        })
        .collect())
}

/// The owner cgroup of each interface, for the tc programs: a direct-indexed array for
/// ifindexes below OWNER_ARRAY_SLOTS (a lookup the verifier inlines), a hash above.
pub struct Owners {
    pub array: MapHandle,
    pub hash: MapHandle,
}

impl Owners {
    /// Opens the owner maps pinned in `dir`.
    pub fn open(dir: &std::path::Path) -> Result<Self> {
        let map = |n: &str| {
            MapHandle::from_pinned_path(dir.join(n)).with_context(|| format!("opening pinned map {n}"))
        };
        Ok(Owners { array: map("owner_by_index")?, hash: map("iface_owner")? })
    }

    /// Records (or, with None, forgets) the owner of an interface.
    pub fn set(&self, ifindex: u32, owner: Option<u64>) -> Result<()> {
        let key = ifindex.to_ne_bytes();
        if ifindex < OWNER_ARRAY_SLOTS {
            let v = owner.unwrap_or(0).to_ne_bytes();
            return self.array.update(&key, &v, MapFlags::ANY).context("writing owner_by_index");
        }
        match owner {
            Some(id) => {
                self.hash.update(&key, &id.to_ne_bytes(), MapFlags::ANY).context("writing iface_owner")
            }
            None => delete(&self.hash, &key).context("removing from iface_owner"),
        }
    }

    /// The recorded owner of an interface.
    pub fn get(&self, ifindex: u32) -> Option<u64> {
        let map = if ifindex < OWNER_ARRAY_SLOTS { &self.array } else { &self.hash };
        let v = map.lookup(&ifindex.to_ne_bytes(), MapFlags::ANY).ok()??;
        let id = u64::from_ne_bytes(v.get(..8)?.try_into().ok()?);
        (id != 0).then_some(id)
    }
}
