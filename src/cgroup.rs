//! The cgroup2 hierarchy: where it is mounted, and cgroup id -> path.
//!
//! A cgroup v2 id is the inode number of its directory. netattr turns an id into a path in
//! O(1) with open_by_handle_at(FILEID_KERNFS) on the cgroup2 mount (as systemd does), and
//! falls back to one walk of the tree when the kernel refuses file handles.
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The cgroup2 mount point, found in /proc/self/mountinfo (hybrid hosts mount it at
/// /sys/fs/cgroup/unified, unified hosts at /sys/fs/cgroup).
pub fn mount_point() -> Result<PathBuf> {
    // Read once per process: several parts of one command ask.
    static FOUND: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(p) = FOUND.get() {
        return Ok(p.clone());
    }
    let p = find_mount_point()?;
    Ok(FOUND.get_or_init(|| p).clone())
}

fn find_mount_point() -> Result<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    match find_cgroup2(&info) {
        Some(p) => Ok(p),
        None => bail!(
            "no cgroup2 filesystem is mounted (none in /proc/self/mountinfo): netattr attributes \
             traffic to cgroup v2 ids; mount it with 'mount -t cgroup2 none /sys/fs/cgroup' \
             (or /sys/fs/cgroup/unified on a hybrid host)"
        ),
    }
}

fn find_cgroup2(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        Some(PathBuf::from(unescape(left.split_whitespace().nth(4)?)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory of the cgroup named by `arg`: a path below the cgroup2 mount
/// ("/system.slice"), or a full path that lies under it.
pub fn dir_of(mount: &Path, arg: &str) -> Result<PathBuf> {
    let p = Path::new(arg);
    let dir = if p.starts_with(mount) { p.to_path_buf() } else { mount.join(arg.trim_start_matches('/')) };
    if p.components().any(|c| c == std::path::Component::ParentDir) || !dir.is_dir() {
        bail!(
            "no cgroup '{arg}' under the cgroup2 mount {}: give a path such as /system.slice (see 'ls {}')",
            mount.display(),
            mount.display()
        );
    }
    Ok(dir)
}

/// The id of the cgroup at `dir` (its inode number).
pub fn id_of(dir: &Path) -> io::Result<u64> {
    Ok(fs::metadata(dir)?.ino())
}

/// What became of a cgroup id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Path relative to the cgroup2 mount, starting with '/'.
    Path(String),
    /// The cgroup no longer exists: the kernel said so (ESTALE or ENOENT for its file
    /// handle), which is what deleting its counters may rest on.
    Gone,
    /// Not found, but not certainly gone: file handles were refused and a walk of the
    /// mount (which may not be the host's root, as in a cgroup namespace) did not list it.
    Unknown,
}

/// Resolves cgroup ids against one cgroup2 mount, caching live paths for a while.
pub struct Resolver {
    root: PathBuf,
    root_fd: OwnedFd,
    /// Filled on first need when file handles are refused.
    walked: Option<HashMap<u64, String>>,
    /// id -> (path, when the kernel last confirmed it). An entry older than `ttl` is asked
    /// again; an id the kernel reports gone (ESTALE) leaves the cache.
    cache: HashMap<u64, (String, Instant)>,
    ttl: Duration,
    /// A loaded instance whose `cgroup_tree` iterator walks the tree (Linux 6.1+), if any,
    /// and the cgroup id of the mount's root, where the walk's paths start.
    tree: Option<(crate::bpf::Pins, u64)>,
    /// Ids absent from the last complete walk of the tree: named as gone (see `prefetch`).
    absent: std::collections::HashSet<u64>,
}

/// From this many ids up, `prefetch` reads the whole tree once instead of a file handle per id.
const PREFETCH_MIN: usize = 16;

/// From this many ids up, `alive_in_walk` walks the tree: a walk of 10,000 cgroups costs
/// what about 900 questions by file handle do.
const WALK_MIN: usize = 256;

/// How long a resolved path is trusted before the kernel is asked again.
pub const CACHE_TTL: Duration = Duration::from_secs(10);

impl Resolver {
    pub fn new(root: PathBuf) -> Result<Self> {
        let root_fd = fs::File::open(&root)
            .with_context(|| format!("opening the cgroup2 mount {}", root.display()))?
            .into();
        Ok(Resolver {
            root,
            root_fd,
            walked: None,
            cache: HashMap::new(),
            ttl: CACHE_TTL,
            tree: None,
            absent: Default::default(),
        })
    }

    /// The same resolver walking the cgroup tree in the kernel, through the `cgroup_tree`
    /// iterator of the instance at `pins`, when it has many ids to name (see `prefetch`).
    /// Without one (kernels before 6.1) it resolves id by id.
    pub fn with_tree(mut self, pins: &crate::bpf::Pins) -> Self {
        let root = id_of(&self.root).ok();
        self.tree = root.filter(|_| pins.path(crate::bpf::pins::TREE).exists()).map(|r| (pins.clone(), r));
        self
    }

    /// Makes the following lookups of `ids` cheap: with a tree iterator and enough ids, one
    /// read of the whole tree names every live one (cached as the kernel just confirmed them),
    /// and, when the walk was complete, every other one is taken as gone until the next
    /// prefetch; after an incomplete walk the rest are left to `lookup`. Otherwise it does
    /// nothing. (`kernel_says_gone`, which reaping rests on, never uses the walk.)
    pub fn prefetch(&mut self, ids: &[u64]) {
        let Some((tree, root)) = &self.tree else { return };
        let now = Instant::now();
        let wanted: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|id| self.cache.get(id).is_none_or(|(_, at)| now.duration_since(*at) >= self.ttl))
            .collect();
        if wanted.len() < PREFETCH_MIN || self.ttl.is_zero() {
            return;
        }
        self.absent.clear();
        let Ok(walk) = crate::bpf::tree::walk(tree, *root) else { return };
        for id in wanted {
            match walk.paths.get(&id) {
                Some(p) => {
                    self.cache.insert(id, (p.clone(), now));
                }
                // Absent from a complete walk: gone, without asking the kernel id by id.
                None if walk.complete => {
                    self.absent.insert(id);
                }
                None => {}
            }
        }
    }

    /// Those of `ids` that one walk of the tree in the kernel finds alive now (none without
    /// a tree iterator, or for fewer than WALK_MIN ids): being found alive spares asking
    /// the kernel of each id; only the kernel's own answer (`kernel_lookup`) says one is gone.
    pub fn alive_in_walk(&self, ids: &std::collections::BTreeSet<u64>) -> std::collections::HashSet<u64> {
        let Some((tree, _)) = &self.tree else { return Default::default() };
        if ids.len() < WALK_MIN {
            return Default::default();
        }
        match crate::bpf::tree::live_ids(tree) {
            Ok(Some(live)) => ids.iter().copied().filter(|id| live.contains(id)).collect(),
            _ => Default::default(),
        }
    }

    /// The same resolver with another cache lifetime (zero: no caching).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What the kernel says of `id` now, never from the cache or a walk of the tree in the
    /// kernel: its file handle's path, Gone on ESTALE or ENOENT (deleting counters rests on
    /// this), else what a walk of the mount finds (Path or Unknown).
    pub fn kernel_lookup(&mut self, id: u64) -> Lookup {
        match self.by_handle(id) {
            Ok(p) => Lookup::Path(p),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ESTALE | libc::ENOENT)) => Lookup::Gone,
            Err(_) => self.by_walk(id),
        }
    }

    /// Whether the kernel says `id` is gone (`kernel_lookup`).
    pub fn kernel_says_gone(&mut self, id: u64) -> bool {
        self.kernel_lookup(id) == Lookup::Gone
    }

    pub fn lookup(&mut self, id: u64) -> Lookup {
        if self.absent.contains(&id) {
            return Lookup::Gone;
        }
        if let Some((p, at)) = self.cache.get(&id) {
            if at.elapsed() < self.ttl {
                return Lookup::Path(p.clone());
            }
        }
        let found = self.kernel_lookup(id);
        match &found {
            Lookup::Path(p) if !self.ttl.is_zero() => {
                self.cache.insert(id, (p.clone(), Instant::now()));
            }
            _ => {
                self.cache.remove(&id);
            }
        }
        found
    }

    /// Number of cached paths.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    fn by_handle(&self, id: u64) -> io::Result<String> {
        use std::os::fd::AsFd;
        let fd = crate::ffi::open_kernfs_handle(self.root_fd.as_fd(), id)?;
        let target = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
        Ok(self.relative(&target))
    }

    fn relative(&self, full: &Path) -> String {
        match full.strip_prefix(&self.root) {
            Ok(rel) => format!("/{}", crate::text::exact_os(rel.as_os_str())),
            Err(_) => crate::text::exact_os(full.as_os_str()),
        }
    }

    /// The fallback: one walk of the whole tree (done once, then remembered). Public for
    /// the resolver benchmark.
    pub fn by_walk(&mut self, id: u64) -> Lookup {
        if self.walked.is_none() {
            let mut map = HashMap::new();
            walk(&self.root, &self.root, &mut map);
            self.walked = Some(map);
        }
        match self.walked.as_ref().and_then(|m| m.get(&id)) {
            Some(p) => Lookup::Path(p.clone()),
            None => Lookup::Unknown,
        }
    }
}

fn walk(root: &Path, dir: &Path, map: &mut HashMap<u64, String>) {
    if let Ok(md) = fs::metadata(dir) {
        let rel = dir
            .strip_prefix(root)
            .map(|r| format!("/{}", crate::text::exact_os(r.as_os_str())))
            .unwrap_or_default();
        map.insert(md.ino(), rel);
    }
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk(root, &e.path(), map);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_on_hybrid_and_unified_hosts() {
        let hybrid = "30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(find_cgroup2(hybrid), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        let unified = "35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(find_cgroup2(unified), Some(PathBuf::from("/sys/fs/cgroup")));
        let v1 = "30 24 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(find_cgroup2(v1), None);
        assert_eq!(find_cgroup2("garbage\n - \n\n"), None);
    }

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape(r"/mnt/with\040space"), "/mnt/with space");
        assert_eq!(unescape(r"/trailing\04"), r"/trailing\04");
    }
}
