//! Where an instance of netattr lives: one bpffs directory holding its programs and maps.
//!
//! `load` pins every map and program, then `meta` last: a directory with `meta` is a
//! completed load; one with some of netattr's pins but no `meta` is a half-finished load
//! that only `cleanup` should touch.
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle, ProgramHandle};

use super::layout::{Counters, Health, Meta, Source, LAYOUT_VERSION, MAGIC};
use super::percpu;
use crate::sys;

/// Maps in pinning order; `meta` must stay last.
pub const MAPS: [&str; 34] = [
    "stats_map",
    "tc_slot_owner",
    "tc_slots",
    "sock_slot_owner",
    "sock_slots",
    "owner_by_index",
    "cgroup_names",
    "cgroup_tree_nodes",
    "cgroup_live",
    "sock_stats",
    "iface_stats",
    "port_stats",
    "class_table4",
    "class_table6",
    "class_stats",
    "tc_class_lanes",
    "tc_class_slots",
    "sock_class_lanes",
    "sock_class_slots",
    "class_names",
    "peer_stats",
    "peer_other",
    "peer_classes",
    "tc_peer_lanes",
    "tc_peer_slots",
    "tc_peer_claims",
    "sock_peer_lanes",
    "sock_peer_slots",
    "sock_peer_claims",
    "iface_owner",
    "events",
    "health",
    "attachments",
    "meta",
];
pub const PROGS: [&str; 4] = ["tc_ingress", "tc_egress", "sock_ingress", "sock_egress"];
/// Pinned bpf_links of the socket programs on a cgroup, present while attached there.
pub const LINKS: [&str; 2] = ["sock_ingress_link", "sock_egress_link"];
/// The pinned link of the `cgroup_tree` iterator: each read walks the cgroup tree into
/// `cgroup_tree_nodes` (Linux 6.1+; absent on older kernels). See `super::tree`.
pub const TREE: &str = "cgroup_tree";
/// The pinned link of the `cgroup_ids` iterator: each read leaves the id of every live
/// cgroup in `cgroup_live` (Linux 6.1+; absent on older kernels).
pub const IDS: &str = "cgroup_ids";
/// The instance's record of the ledger it is recorded into (see `super::binding`).
pub const LEDGER: &str = "ledger";
/// The iterator links, each pinned under its program's name.
pub const ITERS: [&str; 2] = [TREE, IDS];

#[derive(Debug, Clone)]
pub struct Pins {
    pub dir: PathBuf,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PinState {
    /// No directory, or none of netattr's pins in it.
    Absent,
    /// Some of netattr's pins without `meta`: a load that did not finish.
    Partial(Vec<String>),
    Loaded,
}

impl Pins {
    pub fn new(dir: &Path) -> Self {
        Pins { dir: dir.to_path_buf() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Names of netattr's pins that exist, in pinning order.
    pub fn present(&self) -> Vec<String> {
        PROGS
            .iter()
            .chain(MAPS.iter())
            .chain(LINKS.iter())
            .chain(ITERS.iter())
            .chain([LEDGER].iter())
            .filter(|n| self.path(n).exists())
            .map(|n| n.to_string())
            .collect()
    }

    pub fn state(&self) -> PinState {
        let present = self.present();
        if present.is_empty() {
            PinState::Absent
        } else if present.iter().any(|n| n == "meta") {
            PinState::Loaded
        } else {
            PinState::Partial(present)
        }
    }

    /// Serialises commands that change this instance (load, attach, detach, cleanup): an
    /// exclusive flock on the pin directory, held until the returned value is dropped.
    /// Readers never lock. None when the directory does not exist (nothing to protect).
    pub fn lock(&self) -> Result<Option<DirLock>> {
        use std::os::fd::AsFd;
        let dir = match fs::File::open(&self.dir) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("opening pin directory {}", self.dir.display())),
        };
        if let Err(e) = crate::ffi::flock_exclusive(dir.as_fd(), false) {
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(e).with_context(|| format!("locking pin directory {}", self.dir.display()));
            }
            eprintln!("netattr: waiting for another netattr command on {}", self.dir.display());
            crate::ffi::flock_exclusive(dir.as_fd(), true)
                .with_context(|| format!("locking pin directory {}", self.dir.display()))?;
        }
        Ok(Some(DirLock(dir)))
    }

    /// Refuses a pin directory that is a symlink, or that is not on bpffs.
    pub fn check_dir(&self) -> Result<()> {
        if let Ok(md) = fs::symlink_metadata(&self.dir) {
            if md.file_type().is_symlink() {
                bail!(
                    "pin directory {} is a symbolic link; netattr does not follow links there: \
                     pass the real path with --pin-dir",
                    self.dir.display()
                );
            }
            if !md.is_dir() {
                bail!(
                    "pin directory {} exists and is not a directory: remove it or pick another --pin-dir",
                    self.dir.display()
                );
            }
        }
        if self.dir.exists() && !sys::is_bpffs(&self.dir) {
            bail!(
                "pin directory {} is not on a bpf filesystem: pick a --pin-dir under a bpffs mount \
                 such as {} (mount one with 'mount -t bpf bpf {}')",
                self.dir.display(),
                sys::BPFFS,
                sys::BPFFS
            );
        }
        Ok(())
    }

    /// Which load the pins hold now: the id of the pinned `meta` map (a new load pins a new
    /// one). None when nothing is loaded.
    pub fn generation(&self) -> Option<u32> {
        map_id(&MapHandle::from_pinned_path(self.path("meta")).ok()?)
    }

    /// Opens a completed load, or says what to do.
    pub fn open(&self) -> Result<Instance> {
        self.check_dir()?;
        match self.state() {
            PinState::Loaded => {}
            PinState::Absent => bail!(
                "netattr is not loaded at {}: run 'netattr load' first (or pass the --pin-dir \
                 it was loaded with)",
                self.dir.display()
            ),
            PinState::Partial(p) => bail!(
                "{} holds an unfinished netattr load ({} pinned, no meta): run 'netattr cleanup' \
                 and load again",
                self.dir.display(),
                p.join(", ")
            ),
        }
        let map = |name: &str| {
            MapHandle::from_pinned_path(self.path(name))
                .with_context(|| format!("opening pinned map {}", self.path(name).display()))
        };
        let meta_map = map("meta")?;
        let meta = meta_map
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
            .ok()
            .flatten()
            .and_then(|b| Meta::from_bytes(&b))
            .filter(|m| m.magic == MAGIC);
        let Some(meta) = meta else {
            bail!(
                "{} is not a netattr pin (unexpected meta): run 'netattr cleanup --pin-dir {}' or \
                 pick another --pin-dir",
                self.path("meta").display(),
                self.dir.display()
            );
        };
        if meta.layout_version != LAYOUT_VERSION {
            bail!(
                "the pins in {} come from a netattr with map layout {} (this one reads layout {}): \
                 run 'netattr cleanup' and load again",
                self.dir.display(),
                meta.layout_version,
                LAYOUT_VERSION
            );
        }
        let prog = |name: &str| {
            ProgramHandle::from_pinned_path(self.path(name))
                .with_context(|| format!("opening pinned program {}", self.path(name).display()))
        };
        let generation = map_id(&meta_map).unwrap_or(0);
        Ok(Instance {
            pins: self.clone(),
            meta,
            generation,
            stats: map("stats_map")?,
            sock_stats: map("sock_stats")?,
            tc_slots: super::slots::Slots::open(&self.dir, "tc")?,
            sock_slots: super::slots::Slots::open(&self.dir, "sock")?,
            iface_stats: map("iface_stats")?,
            port_stats: map("port_stats")?,
            class_table4: map("class_table4")?,
            class_table6: map("class_table6")?,
            class_stats: map("class_stats")?,
            class_names: map("class_names")?,
            peer_stats: map("peer_stats")?,
            peer_other: map("peer_other")?,
            peer_classes: map("peer_classes")?,
            owners: super::attachments::Owners::open(&self.dir)?,
            cgroup_names: map("cgroup_names")?,
            events: map("events")?,
            health: map("health")?,
            attachments: map("attachments")?,
            tc_ingress: prog("tc_ingress")?,
            tc_egress: prog("tc_egress")?,
            sock_ingress: prog("sock_ingress")?,
            sock_egress: prog("sock_egress")?,
        })
    }
}

/// The kernel's id of a map.
pub fn map_id(m: &MapHandle) -> Option<u32> {
    use std::os::fd::AsFd;
    libbpf_rs::MapInfo::new(m.as_fd()).ok().map(|i| i.info.id)
}

/// An exclusive lock on a pin directory; released when dropped (the fd closes).
pub struct DirLock(#[allow(dead_code)] fs::File);

/// A loaded netattr instance, opened from its pins.
pub struct Instance {
    pub pins: Pins,
    pub meta: Meta,
    /// The id of its `meta` map: which load this is (see `Pins::generation`).
    pub generation: u32,
    /// tc source, per cgroup.
    pub stats: MapHandle,
    /// socket source, per cgroup.
    pub sock_stats: MapHandle,
    /// The fast paths of `stats` and `sock_stats`: read them through `per_cgroup`.
    pub tc_slots: super::slots::Slots,
    pub sock_slots: super::slots::Slots,
    /// tc source, per (cgroup, interface).
    pub iface_stats: MapHandle,
    /// both sources, per (cgroup, protocol, service port, source).
    pub port_stats: MapHandle,
    /// The class tables in use, IPv4 and IPv6 (each an array of one map): see
    /// `super::class_table`.
    pub class_table4: MapHandle,
    pub class_table6: MapHandle,
    /// both sources, per (cgroup, destination class, source).
    pub class_stats: MapHandle,
    /// class id -> name.
    pub class_names: MapHandle,
    /// both sources, per (cgroup, remote address, class, source) (`--breakdown peer`).
    pub peer_stats: MapHandle,
    /// both sources, per (cgroup, class, source): the peers peer_stats had no room for.
    pub peer_other: MapHandle,
    /// The classes counted per peer (one bit per class id).
    pub peer_classes: MapHandle,
    /// The owner cgroup of each host-side veth netattr attached to.
    pub owners: super::attachments::Owners,
    /// cgroup id -> its path at first sight, for cgroups that are gone.
    pub cgroup_names: MapHandle,
    /// The first-seen records (read them through `events()`).
    events: MapHandle,
    pub health: MapHandle,
    pub attachments: MapHandle,
    pub tc_ingress: ProgramHandle,
    pub tc_egress: ProgramHandle,
    pub sock_ingress: ProgramHandle,
    pub sock_egress: ProgramHandle,
}

impl Instance {
    /// Ids of the tc programs: a tc filter running one of them is this instance's.
    pub fn prog_ids(&self) -> [u32; 2] {
        [self.tc_ingress.id(), self.tc_egress.id()]
    }

    /// The per-cgroup hash and the fast-path slots of one source.
    pub fn counters_of(&self, source: Source) -> (&MapHandle, &super::slots::Slots) {
        match source {
            Source::Tc => (&self.stats, &self.tc_slots),
            Source::Socket => (&self.sock_stats, &self.sock_slots),
        }
    }

    /// The name of the per-cgroup hash of one source.
    pub fn hash_name(source: Source) -> &'static str {
        match source {
            Source::Tc => "stats_map",
            Source::Socket => "sock_stats",
        }
    }

    /// The per-cgroup counters of one source, per-CPU values summed: every key of the
    /// source's hash, with the counters of the slot its cgroup holds added in.
    pub fn per_cgroup(&self, source: Source) -> Result<Vec<(u64, Counters)>> {
        Ok(self.per_cgroup_with_fill(source)?.0)
    }

    /// `per_cgroup`, and the fill it saw on the way: (map name, entries) of the source's
    /// hash (keys) and of its slot owner array (slots held).
    #[allow(clippy::type_complexity)]
    pub fn per_cgroup_with_fill(&self, source: Source) -> Result<(Vec<(u64, Counters)>, [(&str, usize); 2])> {
        let (hash, slots) = self.counters_of(source);
        let mut rows = percpu::read_counters(hash, percpu::key_u64)?;
        let keys = rows.len();
        let holders = slots.fold_into(&mut rows)?;
        Ok((rows, [(Self::hash_name(source), keys), (slots.owner_map(), holders)]))
    }

    /// The ring buffer of first-seen records.
    pub fn events(&self) -> &MapHandle {
        &self.events
    }

    /// Whether the pins now hold another load than this one (a cleanup, maybe a new load).
    pub fn replaced(&self) -> bool {
        self.pins.generation() != Some(self.generation)
    }

    /// Every path the kernel recorded, by cgroup id: one batch read.
    pub fn captured_paths(&self) -> Result<std::collections::HashMap<u64, String>> {
        let mut out = std::collections::HashMap::new();
        percpu::for_each(&self.cgroup_names, |k, v| {
            if let (Some(id), Some(p)) = (percpu::key_u64(k), super::layout::CgroupName::path(v)) {
                out.insert(id, p);
            }
        })?;
        Ok(out)
    }

    /// The path the kernel recorded when it first counted cgroup `id`.
    pub fn captured_path(&self, id: u64) -> Option<String> {
        let v = self.cgroup_names.lookup(&id.to_ne_bytes(), MapFlags::ANY).ok()??;
        super::layout::CgroupName::path(&v)
    }

    /// Whether the socket programs are attached to a cgroup.
    pub fn socket_attached(&self) -> bool {
        LINKS.iter().any(|l| self.pins.path(l).exists())
    }

    pub fn health(&self) -> Result<Health> {
        let mut h = Health::default();
        for e in percpu::read_all(&self.health)? {
            for v in &e.values {
                if let Some(x) = Health::from_bytes(v) {
                    h.add(&x);
                }
            }
        }
        Ok(h)
    }
}
