//! `netattr cleanup`: detach from everything this instance attached, remove its pins and
//! its pin directory. Safe to run at any time, any number of times.
use std::fs;
use std::process::ExitCode;

use anyhow::{Context, Result};
use libbpf_rs::{MapHandle, ProgramHandle};

use crate::bpf::attachments::Owners;

use crate::bpf::pins::{ITERS, LEDGER, LINKS, MAPS, PROGS};
use crate::bpf::Pins;
use crate::cli::{Direction, Global};
use crate::core::hooks::{detach_cgroup, detach_one, everywhere, HookResult};
use crate::sys;

pub fn execute(g: &Global) -> Result<ExitCode> {
    sys::require_reader_privileges("cleanup")?;
    let pins = Pins::new(&g.pin_dir);
    if !pins.dir.exists() {
        eprintln!("netattr: nothing to clean up at {}", pins.dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    pins.check_dir()?;
    let _lock = pins.lock()?;
    // Whatever programs are pinned, even after an unfinished load, identify our filters.
    let ids: Vec<u32> = PROGS
        .iter()
        .filter_map(|p| ProgramHandle::from_pinned_path(pins.path(p)).ok())
        .map(|p| p.id())
        .collect();
    let records = MapHandle::from_pinned_path(pins.path("attachments")).ok();
    let owners = Owners::open(&pins.dir).ok();
    let maps = records.as_ref().zip(owners.as_ref());
    let mut rows = detach_cgroup(&pins)?;
    for link in everywhere(&ids, records.as_ref())? {
        detach_one(&ids, maps, &link, Direction::Both, &mut rows)?;
    }
    let detached = rows.iter().filter(|r| r.result == HookResult::Detached).count();
    // Unpin `meta` first, so that an interrupted cleanup reads as unfinished, not loaded.
    let mut removed = 0;
    let all = MAPS.iter().rev().chain(PROGS.iter()).chain(LINKS.iter()).chain(ITERS.iter());
    for name in all.chain([LEDGER].iter()) {
        let p = pins.path(name);
        if p.exists() {
            fs::remove_file(&p).with_context(|| format!("removing pin {}", p.display()))?;
            removed += 1;
        }
    }
    match fs::remove_dir(&pins.dir) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {
            eprintln!("netattr: left {} in place: it holds pins that are not netattr's", pins.dir.display())
        }
        Err(e) => return Err(e).with_context(|| format!("removing pin directory {}", pins.dir.display())),
    }
    eprintln!(
        "netattr: detached {detached} hook(s) and removed {removed} pin(s) from {}",
        pins.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
