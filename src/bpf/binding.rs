//! Which ledger an instance is recorded into. One instance has one ledger: a recorder
//! collects gone workloads (their counters leave the maps for its ledger), so a second
//! recorder on another file would take them away from the first. The first recorder of an
//! instance pins a one-value array map, `<pin dir>/ledger`, holding its ledger's path;
//! every later recorder (and `reap`) reads it. It lives as long as the instance: `cleanup`
//! removes it with the other pins, and a new load starts unbound.
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};

use super::pins::{Pins, LEDGER as PIN};
/// The longest path the pin holds (PATH_MAX), NUL-terminated.
const VALUE: u32 = 4096;

/// The ledger an instance is recorded into, if any.
pub fn bound(pins: &Pins) -> Result<Option<PathBuf>> {
    let path = pins.path(PIN);
    if !path.exists() {
        return Ok(None);
    }
    let map = MapHandle::from_pinned_path(&path).with_context(|| format!("opening {}", path.display()))?;
    let value = map
        .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
        .with_context(|| format!("reading {}", path.display()))?
        .unwrap_or_default();
    let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
    if end == 0 {
        return Ok(None);
    }
    Ok(Some(PathBuf::from(std::ffi::OsStr::from_bytes(&value[..end]))))
}

/// Refuses to record the instance at `pins` into `ledger` when it is bound to another
/// (unless `rebind`), before anything is written: one line that says what to do.
pub fn check(pins: &Pins, ledger: &Path, rebind: bool) -> Result<()> {
    let want = canonical(ledger)?;
    match bound(pins)? {
        Some(have) if have != want && !rebind => Err(refusal(pins, &have, &want)),
        _ => Ok(()),
    }
}

fn refusal(pins: &Pins, have: &Path, want: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "the instance at {} is recorded into ledger {}: a recorder on {} would take its gone \
         workloads' last counters away from that ledger; record into {} (or, if the ledger \
         moved there, pass --rebind)",
        pins.dir.display(),
        have.display(),
        want.display(),
        have.display()
    )
}

/// Binds the instance at `pins` to the ledger at `ledger` (its canonical path), or checks
/// that it is bound to it; `rebind` moves an instance bound elsewhere to this ledger (the
/// operator moved the file). Refuses another ledger as `check` does.
pub fn bind(pins: &Pins, ledger: &Path, rebind: bool) -> Result<()> {
    let want = canonical(ledger)?;
    let bytes = want.as_os_str().as_encoded_bytes();
    if bytes.len() >= VALUE as usize {
        bail!("ledger path {} is too long (at most {} bytes)", want.display(), VALUE - 1);
    }
    let mut value = vec![0u8; VALUE as usize];
    value[..bytes.len()].copy_from_slice(bytes);
    let pin = pins.path(PIN);
    if !pin.exists() {
        let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
            sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>()
                as libbpf_rs::libbpf_sys::size_t,
            ..Default::default()
        };
        let mut map = MapHandle::create(MapType::Array, Some("netattr_ledger"), 4, VALUE, 1, &opts)
            .context("creating the instance's ledger record (a BPF map)")?;
        map.update(&0u32.to_ne_bytes(), &value, MapFlags::ANY).context("writing the ledger record")?;
        match map.pin(&pin) {
            Ok(()) => return Ok(()),
            // Another recorder pinned its record first: compared below.
            Err(e) if e.kind() == libbpf_rs::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("pinning {}", pin.display())),
        }
    }
    match bound(pins)? {
        Some(have) if have == want => Ok(()),
        Some(have) if !rebind => Err(refusal(pins, &have, &want)),
        _ => {
            let map =
                MapHandle::from_pinned_path(&pin).with_context(|| format!("opening {}", pin.display()))?;
            map.update(&0u32.to_ne_bytes(), &value, MapFlags::ANY)
                .with_context(|| format!("writing {}", pin.display()))?;
            Ok(())
        }
    }
}

/// The canonical path of a ledger that may not exist yet: its directory's, and its name.
fn canonical(ledger: &Path) -> Result<PathBuf> {
    let name = ledger.file_name().with_context(|| format!("ledger {} names no file", ledger.display()))?;
    let dir = match ledger.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let dir = std::fs::canonicalize(&dir)
        .with_context(|| format!("ledger {}: no directory {}", ledger.display(), dir.display()))?;
    Ok(dir.join(name))
}
