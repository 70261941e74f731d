//! Destination classes: the built-in ones, a classes file that adds or overrides classes,
//! and the host's own addresses, turned into the table the kernel classifies with
//! (`bpf::classes`). A class keeps its id (and so its counters) for the life of a load,
//! also when a later classes file leaves it out.
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use anyhow::{bail, Result};
use ipnet::IpNet;
use serde::Serialize;

use crate::bpf::class_table as table;
use crate::bpf::layout::{
    ClassPrefix, BUILTIN_CLASSES, CLASS_FIRST_USER, CLASS_HOST, CLASS_MAX, CLASS_PREFIXES, META_CLASSES,
};
use crate::bpf::Instance;

mod file;
pub use file::{builtin_prefixes, parse, read_file, ClassFile};
use file::{owners, with_builtins};

/// A whole class table: names by id and the (prefix, id) entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub names: Vec<Option<String>>,
    pub entries: Vec<(ClassPrefix, u16)>,
}

/// The table for `file` (None: the built-in classes alone), keeping the ids of `known`
/// (the names a loaded instance has) and adding `host` addresses.
pub fn plan(file: Option<&ClassFile>, known: &[Option<String>], host: &[IpAddr]) -> Result<Table> {
    let mut names: Vec<Option<String>> = known.to_vec();
    names.resize(CLASS_MAX as usize, None);
    for (id, n) in BUILTIN_CLASSES.iter().enumerate() {
        names[id] = Some(n.to_string());
    }
    let classes = with_builtins(file);
    let mut ids: HashMap<String, u16> = HashMap::new();
    for (id, n) in names.iter().enumerate() {
        if let Some(n) = n {
            ids.insert(n.clone(), id as u16);
        }
    }
    let new: Vec<&String> = classes.keys().filter(|n| !ids.contains_key(*n)).collect();
    let free: Vec<u16> = (CLASS_FIRST_USER..CLASS_MAX).filter(|i| names[*i as usize].is_none()).collect();
    if new.len() > free.len() {
        let used = ids.len();
        bail!(
            "too many classes: {} (at most {CLASS_MAX}, counting the {} built-in ones{}): merge some",
            used + new.len(),
            BUILTIN_CLASSES.len(),
            if used > BUILTIN_CLASSES.len() {
                format!(" and the {} earlier ones this load keeps", used - BUILTIN_CLASSES.len())
            } else {
                String::new()
            }
        );
    }
    for (n, id) in new.into_iter().zip(free) {
        ids.insert(n.clone(), id);
        names[id as usize] = Some(n.clone());
    }
    let owner = owners(&classes)?;
    let mut entries: Vec<(ClassPrefix, u16)> =
        owner.iter().map(|(net, n)| (ClassPrefix(*net), ids[*n])).collect();
    let with_host = host_entries(&entries, host);
    entries.extend(with_host);
    if entries.len() > CLASS_PREFIXES as usize {
        let listed: usize = file.into_iter().flatten().map(|(_, nets)| nets.len()).sum();
        let others = entries.len().saturating_sub(listed);
        bail!(
            "too many prefixes: {} in all, {listed} listed and {others} of the built-in classes \
             and the host's addresses (a class table holds at most {CLASS_PREFIXES}): list at \
             most {}",
            entries.len(),
            (CLASS_PREFIXES as usize).saturating_sub(others)
        );
    }
    entries.sort();
    table::cells(&entries)?; // fits the direct table, checked before anything changes
    Ok(Table { names, entries })
}

/// The `host` entries for `addrs`: one exact prefix per address, except where the table
/// already has that exact prefix (the file said what it is) or the address is loopback
/// (loopback traffic stays `loopback`).
fn host_entries(entries: &[(ClassPrefix, u16)], addrs: &[IpAddr]) -> Vec<(ClassPrefix, u16)> {
    addrs
        .iter()
        .map(|a| IpNet::from(a.to_canonical()))
        .filter(|n| !n.addr().is_loopback())
        .filter(|n| !entries.iter().any(|(p, _)| p.0 == *n))
        .map(|n| (ClassPrefix(n), CLASS_HOST))
        .collect()
}

/// The class breakdown is on for this load, or what to do.
pub fn require(inst: &Instance) -> Result<()> {
    if !inst.meta.has(META_CLASSES) {
        bail!(
            "the class breakdown is off for this load: run 'netattr cleanup' and 'netattr load --breakdown class'"
        );
    }
    Ok(())
}

/// The maps a class table is installed into: names, the IPv4 table, the IPv6 table.
pub type Maps<'a> = [&'a dyn libbpf_rs::MapCore; 3];

/// Installs `t`: names first (a new id is named before any packet can be counted in it),
/// then the tables, each swapped whole.
pub fn install(maps: Maps<'_>, t: &Table) -> Result<()> {
    for (id, n) in t.names.iter().enumerate() {
        if let Some(n) = n {
            table::set_name(maps[0], id as u16, n)?;
        }
    }
    table::install(maps[1], maps[2], &t.entries)
}

fn maps_of(inst: &Instance) -> Maps<'_> {
    [&inst.class_names, &inst.class_table4, &inst.class_table6]
}

/// The class ids a new table may not give to another class: those of the table in use
/// (packets being classed with it may still be counted under them) and those any counter
/// is kept under (the class map's rows and the slots' lanes).
fn ids_in_use(inst: &Instance) -> Result<std::collections::BTreeSet<u16>> {
    let mut ids: std::collections::BTreeSet<u16> =
        table::entries(&inst.class_table6)?.into_iter().map(|(_, id)| id).collect();
    crate::bpf::percpu::for_each(&inst.class_stats, |k, _| {
        ids.extend(crate::bpf::layout::ClassKey::from_bytes(k).map(|k| k.class_id))
    })?;
    ids.extend(inst.tc_slots.lane_classes()?);
    ids.extend(inst.sock_slots.lane_classes()?);
    Ok(ids)
}

/// Replaces the classes of a loaded instance with the built-in ones and `file`'s.
pub fn set(inst: &Instance, file: Option<&ClassFile>) -> Result<Table> {
    require(inst)?;
    let known = table::names(&inst.class_names)?;
    // A class an earlier file had, out of the table in use and with no counter left, gives
    // its id back (renames would otherwise use up the ids of a load).
    let in_use = ids_in_use(inst)?;
    let wanted = |n: &str| file.is_some_and(|f| f.contains_key(n));
    let free: Vec<u16> = (CLASS_FIRST_USER..CLASS_MAX)
        .filter(|id| known[*id as usize].as_deref().is_some_and(|n| !wanted(n)) && !in_use.contains(id))
        .collect();
    let mut keep = known.clone();
    for id in &free {
        keep[*id as usize] = None;
    }
    let t = plan(file, &keep, &crate::netlink::addresses()?)?;
    if let Err(e) = install(maps_of(inst), &t) {
        // The names of ids the failed table would have used go back to what they were.
        for (id, (was, now)) in known.iter().zip(&t.names).enumerate() {
            if was != now {
                table::set_name(&inst.class_names, id as u16, was.as_deref().unwrap_or_default())?;
            }
        }
        return Err(e.context("the classes were left as they were"));
    }
    // The ids given back and not taken again lose their names.
    for id in free.into_iter().filter(|id| t.names[*id as usize].is_none()) {
        table::set_name(&inst.class_names, id, "")?;
    }
    Ok(t)
}

/// The table a loaded instance classifies with now.
pub fn current(inst: &Instance) -> Result<Table> {
    require(inst)?;
    Ok(Table { names: table::names(&inst.class_names)?, entries: table::entries(&inst.class_table6)? })
}

/// Brings the `host` class up to date with `addrs`, the host's addresses now; returns
/// whether it changed. Every other entry is kept as it is.
fn refresh_host(inst: &Instance, addrs: &[IpAddr]) -> Result<bool> {
    let now = current(inst)?;
    let mut entries: Vec<(ClassPrefix, u16)> =
        now.entries.iter().filter(|(_, c)| *c != CLASS_HOST).copied().collect();
    let host = host_entries(&entries, addrs);
    entries.extend(host);
    entries.sort();
    if entries == now.entries {
        return Ok(false);
    }
    table::install(&inst.class_table4, &inst.class_table6, &entries)?;
    Ok(true)
}

/// Keeps the `host` class of an instance current while a long-running command (`serve`,
/// `attach --watch`) runs: looks at the host's addresses at most once a second and swaps
/// in a new table when they changed.
#[derive(Default)]
pub struct HostFollower {
    seen: Option<(u32, Vec<IpAddr>)>,
    checked: Option<std::time::Instant>,
}

impl HostFollower {
    /// Whether this call changed the table.
    pub fn tick(&mut self, inst: &Instance) -> Result<bool> {
        if !inst.meta.has(META_CLASSES)
            || self.checked.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1))
        {
            return Ok(false);
        }
        self.checked = Some(std::time::Instant::now());
        let addrs = crate::netlink::addresses()?;
        if self.seen.as_ref().is_some_and(|(g, a)| *g == inst.generation && *a == addrs) {
            return Ok(false);
        }
        // Under the pin directory's lock, so that it never undoes a `classes set`.
        let _lock = inst.pins.lock()?;
        if inst.replaced() {
            return Ok(false);
        }
        let changed = refresh_host(inst, &addrs)?;
        self.seen = Some((inst.generation, addrs));
        Ok(changed)
    }
}

/// One class as `classes show` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ClassRow {
    pub id: u16,
    pub name: String,
    pub prefixes: Vec<String>,
}

impl Table {
    /// Every named class with its prefixes, by id.
    pub fn rows(&self) -> Vec<ClassRow> {
        let mut by: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for (p, c) in &self.entries {
            by.entry(*c).or_default().push(p.0.to_string());
        }
        self.names
            .iter()
            .enumerate()
            .filter_map(|(id, n)| {
                let id = id as u16;
                Some(ClassRow { id, name: n.clone()?, prefixes: by.remove(&id).unwrap_or_default() })
            })
            .collect()
    }

    /// The name of class `id` ("class-N" for an id without a name).
    pub fn name(&self, id: u16) -> String {
        name_of(&self.names, id)
    }
}

/// The name of class `id` in `names`.
pub fn name_of(names: &[Option<String>], id: u16) -> String {
    names.get(id as usize).cloned().flatten().unwrap_or_else(|| format!("class-{id}"))
}

/// Keeps the `host` class current until `stop` (a load with the class breakdown only),
/// following a new load at `pin_dir`: `serve` and `attach --watch` run it in a thread.
pub fn follow_host(pin_dir: &std::path::Path, stop: &std::sync::atomic::AtomicBool) {
    let mut follower = HostFollower::default();
    let mut said = false;
    let mut inst: Option<Instance> = None;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        if inst.as_ref().is_none_or(Instance::replaced) {
            inst = crate::bpf::Pins::new(pin_dir).open().ok();
        }
        if let Some(inst) = &inst {
            match follower.tick(inst) {
                Ok(_) => said = false,
                Err(e) if !said => {
                    eprintln!("netattr: could not bring the host class up to date: {e:#}");
                    said = true;
                }
                Err(_) => {}
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// `follow_host` in a thread of its own, until dropped (`attach --watch`).
pub struct HostFollowing(std::sync::Arc<std::sync::atomic::AtomicBool>, Option<std::thread::JoinHandle<()>>);

impl HostFollowing {
    pub fn start(pin_dir: &std::path::Path) -> HostFollowing {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (dir, s) = (pin_dir.to_path_buf(), stop.clone());
        HostFollowing(stop, Some(std::thread::spawn(move || follow_host(&dir, &s))))
    }
}

impl Drop for HostFollowing {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.1.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests;
