//! Loading the BPF object once: the maps sized, the programs' settings written, the reserved
//! buckets and `meta` inserted, the class table installed, every program, map and iterator
//! pinned (`meta` last: the mark of a finished load); a failed load removes what it pinned.
//! Or an existing load kept (`--reuse`), with how it differs from what was asked.
use std::fs;
use std::mem::MaybeUninit;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags};

use super::classes::{self, ClassFile};
use crate::bpf::layout::{
    ClassKey, Counters, IfaceKey, Meta, Source, CGID_OVERFLOW, LAYOUT_VERSION, MAGIC, META_CLASSES,
    META_FAST_PATH, META_IFACES, META_PEERS, META_PORTS, RESERVED_KEYS,
};
use crate::bpf::pins::{IDS, MAPS, PROGS, TREE};
use crate::bpf::skel::{NetattrSkel, NetattrSkelBuilder};
use crate::bpf::{Instance, PinState, Pins};
use crate::{cgroup, sys};

/// What a load asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Cgroups the counter maps hold (the reserved buckets besides).
    pub max_entries: u32,
    pub ports: bool,
    pub ifaces: bool,
    pub classes: bool,
    /// The per-peer breakdown (which needs `classes`), if asked for.
    pub peers: Option<PeerSettings>,
    /// Told not to take the slot fast path.
    pub no_fast_path: bool,
}

impl Settings {
    /// Whether per-cgroup counters take the slot fast path: unless told not to, where the
    /// kernel has BPF compare-and-swap (Linux 5.12), which claiming a slot needs.
    pub fn fast_path(&self) -> bool {
        !self.no_fast_path && sys::kernel_release().is_ok_and(|(v, _)| v >= (5, 12))
    }
}

/// The per-peer breakdown's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSettings {
    /// Rows of the peer map.
    pub entries: u32,
    /// Class names counted per peer; empty: every class but internet and non-ip.
    pub classes: Vec<String>,
}

/// What `load` did.
pub enum Loaded {
    /// A new load, pinned.
    New(Instance),
    /// The load already there, kept (`reuse`); how it differs from what was asked.
    Kept(Instance, Vec<String>),
}

/// Loads and pins the object at `pins` with `settings` (and `class_file`'s classes), or with
/// `reuse` keeps a load already there: refused when it differs unless `accept_existing`.
pub fn load(
    pins: &Pins,
    settings: &Settings,
    class_file: Option<&ClassFile>,
    reuse: bool,
    accept_existing: bool,
) -> Result<Loaded> {
    let created_dir = prepare_dir(pins)?;
    // From here on, one state-changing command at a time on this pin directory.
    let _lock = pins.lock()?;
    match pins.state() {
        PinState::Loaded if reuse => {
            let inst = pins.open()?;
            let differs = differences(&inst.meta, settings);
            if !differs.is_empty() && !accept_existing {
                bail!(
                    "netattr is already loaded at {} with other settings: {}; apply yours with \
                     'netattr cleanup' then 'netattr load' (the counters start again), or keep \
                     the loaded one with 'netattr load --reuse --accept-existing'",
                    pins.dir.display(),
                    differs.join(", ")
                );
            }
            return Ok(Loaded::Kept(inst, differs));
        }
        PinState::Loaded => {
            let inst = pins.open()?;
            bail!(
                "netattr is already loaded at {} (since {}); its counters are kept: inspect it \
                 with 'netattr status', keep it with 'netattr load --reuse', or start over with \
                 'netattr cleanup'",
                pins.dir.display(),
                crate::output::unix_time(inst.meta.loaded_at_unix)
            );
        }
        PinState::Partial(p) => bail!(
            "{} holds an unfinished netattr load ({} pinned, no meta): run 'netattr cleanup' and \
             load again",
            pins.dir.display(),
            p.join(", ")
        ),
        PinState::Absent => {}
    }
    let mut guard = Rollback { pins: pins.clone(), pinned: vec![], created_dir, armed: true };
    let mut obj = MaybeUninit::uninit();
    let mut open = NetattrSkelBuilder::default().open(&mut obj).context("opening the BPF object")?;
    let capacity = settings.max_entries + RESERVED_KEYS.len() as u32;
    for map in [
        &mut open.maps.stats_map,
        &mut open.maps.sock_stats,
        &mut open.maps.iface_stats,
        &mut open.maps.cgroup_names,
    ] {
        map.set_max_entries(capacity).context("sizing the counter maps")?;
    }
    if let Some(p) = &settings.peers {
        open.maps.peer_other.set_max_entries(capacity).context("sizing the other-peers map")?;
        open.maps.peer_stats.set_max_entries(p.entries).context("sizing the peer map")?;
    } else {
        // No peers, no peer lanes: one entry each instead of 16,384.
        let m = &mut open.maps;
        for map in [
            &mut m.tc_peer_lanes,
            &mut m.tc_peer_slots,
            &mut m.tc_peer_claims,
            &mut m.sock_peer_lanes,
            &mut m.sock_peer_slots,
            &mut m.sock_peer_claims,
        ] {
            map.set_max_entries(1).context("sizing the peer lanes")?;
        }
    }
    let fast_path = settings.fast_path();
    let kernel = KernelBtf::read();
    if let Some(rodata) = open.maps.rodata_data.as_mut() {
        rodata.count_ports = settings.ports;
        rodata.count_ifaces = settings.ifaces;
        rodata.count_classes = settings.classes;
        rodata.count_peers = settings.peers.is_some();
        rodata.fast_path = fast_path;
        rodata.kern_ctx = kernel.kern_ctx;
    }
    let tree = kernel.cgroup_iterators;
    if !tree {
        open.progs.cgroup_tree.set_autoload(false);
        open.progs.cgroup_ids.set_autoload(false);
    }
    let mut skel = open.load().context("loading the BPF object into the kernel (see 'netattr check')")?;
    init_maps(&skel, settings, fast_path)?;
    if settings.classes {
        free_lanes(&skel)?;
        let t = classes::plan(class_file, &[], &crate::netlink::addresses()?)?;
        let m = &skel.maps;
        classes::install([&m.class_names, &m.class_table4, &m.class_table6], &t)?;
        if let Some(p) = &settings.peers {
            super::peers::mark_classes(&m.peer_classes, &t.names, &p.classes)?;
        }
    }
    pin_all(&mut skel, tree, &mut guard)?;
    guard.armed = false;
    Ok(Loaded::New(pins.open()?))
}

/// How a loaded instance differs from what `a` asks for, one phrase per setting.
fn differences(meta: &Meta, a: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    if meta.max_entries != a.max_entries {
        out.push(format!("--max-entries {} (asked {})", meta.max_entries, a.max_entries));
    }
    let kinds = |on: [bool; 4]| {
        let k: Vec<&str> = on
            .iter()
            .zip(["iface", "port", "class", "peer"])
            .filter(|(on, _)| **on)
            .map(|(_, n)| n)
            .collect();
        if k.is_empty() {
            "none".to_string()
        } else {
            k.join(",")
        }
    };
    let loaded = kinds([META_IFACES, META_PORTS, META_CLASSES, META_PEERS].map(|f| meta.has(f)));
    let asked = kinds([a.ifaces, a.ports, a.classes, a.peers.is_some()]);
    if loaded != asked {
        out.push(format!("--breakdown {loaded} (asked {asked})"));
    }
    let fast = meta.has(META_FAST_PATH);
    if fast != a.fast_path() {
        let say = |on: bool| if on { "on" } else { "off" };
        out.push(format!("fast path {} (asked {})", say(fast), say(a.fast_path())));
    }
    out
}

/// Makes sure the pin directory exists on bpffs (mounting bpffs at /sys/fs/bpf if the
/// default location has none) and is root-only. Returns whether it was created.
pub fn prepare_dir(pins: &Pins) -> Result<bool> {
    pins.check_dir()?;
    if pins.dir.exists() {
        return Ok(false);
    }
    let at = sys::existing_ancestor(&pins.dir);
    if !sys::is_bpffs(&at) {
        if pins.dir.starts_with(sys::BPFFS) && !sys::is_bpffs(std::path::Path::new(sys::BPFFS)) {
            sys::mount_bpffs()?;
        } else {
            bail!(
                "pin directory {} is not on a bpf filesystem ({} is not bpffs): pick a --pin-dir \
                 under a bpffs mount such as {} (mount one with 'mount -t bpf bpf {}')",
                pins.dir.display(),
                at.display(),
                sys::BPFFS,
                sys::BPFFS
            );
        }
    }
    let at = sys::existing_ancestor(&pins.dir);
    if sys::is_read_only(&at) {
        bail!("{}", sys::read_only_bpffs(&at));
    }
    fs::create_dir_all(&pins.dir)
        .with_context(|| format!("creating pin directory {}", pins.dir.display()))?;
    fs::set_permissions(&pins.dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting pin directory {}", pins.dir.display()))?;
    Ok(true)
}

fn init_maps(skel: &NetattrSkel<'_>, a: &Settings, fast_path: bool) -> Result<()> {
    let ncpu = libbpf_rs::num_possible_cpus()?;
    let zero = vec![vec![0u8; Counters::SIZE]; ncpu];
    let overflow_iface = IfaceKey { cgroup_id: CGID_OVERFLOW, ifindex: 0 }.to_bytes();
    let overflow_class =
        |s: Source| ClassKey { cgroup_id: CGID_OVERFLOW, class_id: 0, source: s.code() }.to_bytes();
    let (class_tc, class_sock) = (overflow_class(Source::Tc), overflow_class(Source::Socket));
    let reserved: [(&libbpf_rs::Map, &[u8]); 9] = [
        (&skel.maps.stats_map, &RESERVED_KEYS[0].to_ne_bytes()),
        (&skel.maps.stats_map, &RESERVED_KEYS[1].to_ne_bytes()),
        (&skel.maps.sock_stats, &RESERVED_KEYS[0].to_ne_bytes()),
        (&skel.maps.sock_stats, &RESERVED_KEYS[1].to_ne_bytes()),
        (&skel.maps.iface_stats, &overflow_iface),
        (&skel.maps.class_stats, &class_tc),
        (&skel.maps.class_stats, &class_sock),
        (&skel.maps.peer_other, &class_tc),
        (&skel.maps.peer_other, &class_sock),
    ];
    for (map, key) in reserved {
        map.update_percpu(key, &zero, MapFlags::NO_EXIST).context("inserting the reserved buckets")?;
    }
    let meta = Meta {
        magic: MAGIC,
        layout_version: LAYOUT_VERSION,
        loaded_at_unix: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        max_entries: a.max_entries,
        flags: [
            (fast_path, META_FAST_PATH),
            (a.ports, META_PORTS),
            (a.ifaces, META_IFACES),
            (a.classes, META_CLASSES),
            (a.peers.is_some(), META_PEERS),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |f, (_, flag)| f | flag),
    };
    skel.maps.meta.update(&0u32.to_ne_bytes(), &meta.to_bytes(), MapFlags::ANY).context("writing meta")?;
    Ok(())
}

/// Marks every class lane free (an array starts as zeros, which would read as class 0).
fn free_lanes(skel: &NetattrSkel<'_>) -> Result<()> {
    use crate::bpf::layout::COUNTER_SLOTS;
    let keys: Vec<u8> = (0..COUNTER_SLOTS).flat_map(u32::to_ne_bytes).collect();
    let values = vec![0xffu8; COUNTER_SLOTS as usize * 8];
    for map in [&skel.maps.tc_class_lanes, &skel.maps.sock_class_lanes] {
        map.update_batch(&keys, &values, COUNTER_SLOTS, MapFlags::ANY, MapFlags::ANY)
            .context("freeing the class lanes")?;
    }
    Ok(())
}

/// What the kernel's BTF says it has (all false without BTF).
struct KernelBtf {
    /// cgroup iterators (Linux 6.1+), which `cgroup_tree` needs.
    cgroup_iterators: bool,
    /// the kfuncs bpf_cast_to_kern_ctx and bpf_rdonly_cast (Linux 6.3+): the programs read
    /// headers and the socket's cgroup in place.
    kern_ctx: bool,
}

impl KernelBtf {
    fn read() -> KernelBtf {
        use libbpf_rs::btf::types::{Func, Struct};
        match libbpf_rs::btf::Btf::from_vmlinux() {
            Ok(btf) => KernelBtf {
                cgroup_iterators: btf.type_by_name::<Struct<'_>>("bpf_iter__cgroup").is_some(),
                kern_ctx: ["bpf_cast_to_kern_ctx", "bpf_rdonly_cast"]
                    .iter()
                    .all(|f| btf.type_by_name::<Func<'_>>(f).is_some()),
            },
            Err(_) => KernelBtf { cgroup_iterators: false, kern_ctx: false },
        }
    }
}

/// Attaches a cgroup iterator (`cgroup_tree`, `cgroup_ids`) to the root of the cgroup2
/// mount and pins its link at `path`.
fn pin_iter(prog: &libbpf_rs::ProgramMut<'_>, path: &std::path::Path) -> Result<()> {
    use libbpf_rs::{CgroupIterOpts, CgroupIterOrder, IterOpts};
    use std::os::fd::AsFd;
    let root = fs::File::open(cgroup::mount_point()?).context("opening the cgroup2 mount")?;
    let mut opts = CgroupIterOpts::from_fd(root.as_fd());
    opts.order = CgroupIterOrder::DescendantsPre;
    let mut link = prog
        .attach_iter_with_opts(IterOpts::Cgroup(opts))
        .with_context(|| format!("attaching the {} iterator", prog.name().to_string_lossy()))?;
    link.pin(path).with_context(|| format!("pinning {}", path.display()))?;
    Ok(())
}

fn pin_all(skel: &mut NetattrSkel<'_>, tree: bool, guard: &mut Rollback) -> Result<()> {
    let dir = guard.pins.dir.clone();
    if tree {
        for (prog, name) in [(&skel.progs.cgroup_tree, TREE), (&skel.progs.cgroup_ids, IDS)] {
            let path = dir.join(name);
            pin_iter(prog, &path)?;
            guard.pinned.push(path);
        }
    }
    let obj = skel.object_mut();
    for mut prog in obj.progs_mut().filter(|p| PROGS.iter().any(|n| p.name() == *n)) {
        let path = dir.join(prog.name());
        prog.pin(&path).with_context(|| format!("pinning {}", path.display()))?;
        guard.pinned.push(path);
    }
    // In MAPS order, so that `meta`, the mark of a finished load, is pinned last.
    for name in MAPS {
        let path = dir.join(name);
        let mut map = obj
            .maps_mut()
            .find(|m| m.name() == name)
            .with_context(|| format!("the BPF object has no map {name}"))?;
        map.pin(&path).with_context(|| format!("pinning {}", path.display()))?;
        guard.pinned.push(path);
    }
    for p in &guard.pinned {
        let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

/// Undoes a failed load: removes what it pinned and the directory it made.
struct Rollback {
    pins: Pins,
    pinned: Vec<PathBuf>,
    created_dir: bool,
    armed: bool,
}

impl Drop for Rollback {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for p in self.pinned.iter().rev() {
            let _ = fs::remove_file(p);
        }
        if self.created_dir {
            let _ = fs::remove_dir(&self.pins.dir);
        }
    }
}
