//! Every call into libbpf-sys and libc that Rust cannot check, each behind a safe function
//! with a comment (SAFETY) that says why the call is sound; no other module makes such a
//! call. Callers get `io::Result`s and owned file descriptors.
use std::ffi::CStr;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use libbpf_rs::libbpf_sys as sys;

/// libbpf's convention: a negative return is -errno.
fn check(ret: i32) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret)
    }
}

/// Takes ownership of a descriptor a successful call just returned.
fn owned(fd: i32) -> io::Result<OwnedFd> {
    let fd = check(fd)?;
    // SAFETY: `fd` is a fresh descriptor returned by the kernel to this process and owned by
    // nothing else; OwnedFd closes it exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens a pinned BPF object (map, program or link).
pub fn bpf_obj_get(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a NUL-terminated string that outlives the call; libbpf only reads it.
    owned(unsafe { sys::bpf_obj_get(path.as_ptr()) })
}

/// Pins a BPF object at `path`.
pub fn bpf_obj_pin(fd: BorrowedFd<'_>, path: &CStr) -> io::Result<()> {
    // SAFETY: `fd` is a live descriptor borrowed for the call, `path` a NUL-terminated string
    // that outlives it; libbpf reads both and keeps neither.
    check(unsafe { sys::bpf_obj_pin(fd.as_raw_fd(), path.as_ptr()) }).map(drop)
}

/// Creates a bpf_link of program `prog` to `target` (a cgroup directory) at `attach_type`.
pub fn bpf_link_create(
    prog: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: u32,
) -> io::Result<OwnedFd> {
    // SAFETY: both descriptors are live for the call; a null options pointer is allowed and
    // means defaults.
    owned(unsafe {
        sys::bpf_link_create(prog.as_raw_fd(), target.as_raw_fd(), attach_type, std::ptr::null())
    })
}

/// The cgroup id a link is attached to; None for a link of another type.
pub fn link_cgroup_id(link: BorrowedFd<'_>) -> io::Result<Option<u64>> {
    let mut info = sys::bpf_link_info::default();
    let mut len = size_of::<sys::bpf_link_info>() as u32;
    // SAFETY: `info` is a writable bpf_link_info of `len` bytes; the kernel writes at most
    // `len` bytes into it and updates `len`.
    check(unsafe { sys::bpf_link_get_info_by_fd(link.as_raw_fd(), &mut info, &mut len) })?;
    if info.type_ != sys::BPF_LINK_TYPE_CGROUP {
        return Ok(None);
    }
    // SAFETY: the kernel filled the `cgroup` member of the union, as the link's type (checked
    // just above, as bpftool does) says.
    Ok(Some(unsafe { info.__bindgen_anon_1.cgroup.cgroup_id }))
}

/// One batch of `bpf_map_lookup_batch`: fills `keys` and `values` from the position `token_in`
/// (None: the start) and writes the next position to `token_out`. Returns how many entries
/// came and whether this was the last batch.
#[allow(clippy::too_many_arguments)] // the syscall's own arguments, plus the buffer geometry
pub fn map_lookup_batch(
    map: BorrowedFd<'_>,
    token_in: Option<&mut [u8]>,
    token_out: &mut [u8],
    keys: &mut [u8],
    values: &mut [u8],
    max: u32,
    key_size: usize,
    value_stride: usize,
) -> io::Result<(usize, bool)> {
    assert!(keys.len() >= key_size * max as usize && values.len() >= value_stride * max as usize);
    assert!(token_out.len() >= key_size && token_in.as_ref().is_none_or(|t| t.len() >= key_size));
    let mut count = max;
    let opts =
        sys::bpf_map_batch_opts { sz: size_of::<sys::bpf_map_batch_opts>() as _, ..Default::default() };
    // SAFETY: `keys` and `values` hold `max` entries of the map's key size and per-entry value
    // size (asserted above), the tokens hold a key each; the kernel writes at most `count`
    // entries and one token. Every buffer outlives the call.
    let ret = unsafe {
        sys::bpf_map_lookup_batch(
            map.as_raw_fd(),
            token_in.map_or(std::ptr::null_mut(), |t| t.as_mut_ptr().cast()),
            token_out.as_mut_ptr().cast(),
            keys.as_mut_ptr().cast(),
            values.as_mut_ptr().cast(),
            &mut count,
            &opts,
        )
    };
    match ret {
        0 => Ok((count as usize, false)),
        // ENOENT: this was the last batch (its entries are still valid).
        e if -e == libc::ENOENT => Ok((count as usize, true)),
        e => Err(io::Error::from_raw_os_error(-e)),
    }
}

/// Looks a key up and deletes it in one step; `value` receives the value (for a per-CPU map,
/// every CPU's). False when the key was not there.
pub fn map_lookup_and_delete(
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
    value_len: usize,
) -> io::Result<bool> {
    assert!(value.len() >= value_len);
    // SAFETY: `key` holds one key of the map and `value` at least one value of the map's
    // (per-CPU) value size (asserted by the caller's sizing and above); the kernel reads the
    // key and writes at most one value.
    match check(unsafe {
        sys::bpf_map_lookup_and_delete_elem(map.as_raw_fd(), key.as_ptr().cast(), value.as_mut_ptr().cast())
    }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Waits until every CPU has passed through a state where no BPF program that started
/// before the call is still running (an RCU grace period: `membarrier(GLOBAL)` calls
/// synchronize_rcu).
pub fn wait_for_running_programs() -> io::Result<()> {
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    // SAFETY: membarrier takes two integers and touches no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0 as libc::c_long) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Keeps the ledger's `-wal` and `-shm` files when `conn` closes (SQLite's persistent WAL):
/// a reader without write access can open a WAL database read-only only while they exist.
pub fn sqlite_persist_wal(conn: &rusqlite::Connection) -> io::Result<()> {
    use rusqlite::ffi;
    let mut on: std::ffi::c_int = 1;
    // SAFETY: the handle is the live connection `conn` borrows; "main" is a NUL-terminated
    // name; SQLITE_FCNTL_PERSIST_WAL reads and writes the one int `on` points to, which
    // outlives the call. The connection is not used by another thread meanwhile (&conn).
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&mut on as *mut std::ffi::c_int).cast(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(io::Error::other(format!("sqlite3_file_control(PERSIST_WAL) returned {rc}")));
    }
    Ok(())
}

/// An exclusive flock on `fd`; `wait`: block until it is free, else fail with EWOULDBLOCK.
pub fn flock_exclusive(fd: BorrowedFd<'_>, wait: bool) -> io::Result<()> {
    let op = if wait { libc::LOCK_EX } else { libc::LOCK_EX | libc::LOCK_NB };
    // SAFETY: flock on a live descriptor touches no memory of ours.
    if unsafe { libc::flock(fd.as_raw_fd(), op) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Opens the kernfs node (a cgroup directory) with file handle `id` below `root`, O_PATH.
pub fn open_kernfs_handle(root: BorrowedFd<'_>, id: u64) -> io::Result<OwnedFd> {
    const FILEID_KERNFS: i32 = 0xfe;
    #[repr(C)]
    struct KernfsHandle {
        handle_bytes: u32,
        handle_type: i32,
        id: u64,
    }
    let mut h = KernfsHandle { handle_bytes: 8, handle_type: FILEID_KERNFS, id };
    // SAFETY: `h` is a struct file_handle with 8 bytes of f_handle, as handle_bytes says; the
    // kernel reads it only during the call.
    let fd = unsafe {
        libc::open_by_handle_at(
            root.as_raw_fd(),
            (&mut h as *mut KernfsHandle).cast(),
            libc::O_PATH | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    owned(fd)
}

/// Whether `fd` becomes readable within `timeout` (false on timeout or a signal).
pub fn poll_readable(fd: RawFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: `pfd` is one valid pollfd for the duration of the call; a descriptor that is
    // not open only gives POLLNVAL.
    unsafe { libc::poll(&mut pfd, 1, timeout.as_millis().min(i32::MAX as u128) as i32) > 0 }
}

/// A read-only mapping of a BPF array map of u64 values (created with BPF_F_MMAPABLE), seen
/// as atomics: programs write it while it is read.
pub struct MappedU64s {
    ptr: std::ptr::NonNull<std::sync::atomic::AtomicU64>,
    len: usize,
}

impl MappedU64s {
    /// Maps the `len` u64 values of the array map `fd`.
    pub fn map(fd: BorrowedFd<'_>, len: usize) -> io::Result<Self> {
        let bytes = len * 8;
        // SAFETY: a fresh shared read-only mapping of `bytes` bytes of the map's memory; the
        // kernel checks the length against the map and returns MAP_FAILED on any error.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_READ, libc::MAP_SHARED, fd.as_raw_fd(), 0)
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(MappedU64s { ptr, len })
    }

    /// The values, read with relaxed atomic loads.
    pub fn values(&self) -> &[std::sync::atomic::AtomicU64] {
        // SAFETY: the mapping holds `len` aligned u64s (page-aligned start), lives as long as
        // `self`, and is only read here; AtomicU64 has u64's layout, and atomics make reading
        // values that BPF programs write concurrently sound.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for MappedU64s {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `map` made; no reference from `values` outlives
        // `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len * 8) };
    }
}

/// Whether the terminal (or pipe) on `fd` has hung up, failed or been closed.
pub fn hung_up(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd { fd, events: 0, revents: 0 };
    // SAFETY: as in poll_readable; a zero timeout only reads the descriptor's state.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    ready > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// Installs `handler` for `sig`. The handler must only do async-signal-safe work.
pub fn on_signal(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: `handler` is a plain extern "C" function with the signature signal() expects;
    // the callers' handlers only store to an atomic, which is async-signal-safe.
    unsafe { libc::signal(sig, handler as *const () as libc::sighandler_t) };
}

/// Sends SIGKILL to `pid`.
pub fn kill(pid: i32) {
    // SAFETY: kill touches no memory of ours; a pid that is gone gives ESRCH, ignored.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Whether the descriptor `fd` of this process is open.
pub fn fd_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on any integer only reads the descriptor table.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    flags != -1
}

/// Makes `cmd`'s child, before it execs, write "0" to `procs` (joining that cgroup), enter
/// the network namespace `netns`, and (unless `keep`) die with its parent.
pub fn spawn_into(
    cmd: &mut std::process::Command,
    procs: RawFd,
    netns: RawFd,
    keep: bool,
) -> io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and makes only
    // async-signal-safe syscalls (write, setns, prctl) on descriptors the parent keeps open
    // until spawn returns; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::write(procs, b"0".as_ptr().cast(), 1) != 1
                || libc::setns(netns, libc::CLONE_NEWNET) != 0
                || !keep && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// The tc calls of libbpf, on hooks and options the caller builds.
pub mod tc {
    use super::*;

    pub fn hook_create(h: &mut sys::bpf_tc_hook) -> io::Result<()> {
        // SAFETY: `h` is a sized, initialised bpf_tc_hook (its sz field set by the caller).
        check(unsafe { sys::bpf_tc_hook_create(h) }).map(drop)
    }

    pub fn hook_destroy(h: &mut sys::bpf_tc_hook) -> io::Result<()> {
        // SAFETY: as for hook_create.
        check(unsafe { sys::bpf_tc_hook_destroy(h) }).map(drop)
    }

    pub fn query(h: &sys::bpf_tc_hook, o: &mut sys::bpf_tc_opts) -> io::Result<()> {
        // SAFETY: `h` and `o` are sized, initialised structs; libbpf writes only into `o`.
        check(unsafe { sys::bpf_tc_query(h, o) }).map(drop)
    }

    pub fn attach(h: &sys::bpf_tc_hook, o: &mut sys::bpf_tc_opts) -> io::Result<()> {
        // SAFETY: as for query.
        check(unsafe { sys::bpf_tc_attach(h, o) }).map(drop)
    }

    pub fn detach(h: &sys::bpf_tc_hook, o: &sys::bpf_tc_opts) -> io::Result<()> {
        // SAFETY: as for query; libbpf only reads both.
        check(unsafe { sys::bpf_tc_detach(h, o) }).map(drop)
    }
}

/// CPU time (user + system) this thread has used.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the valid, owned `ts`.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if ok {
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    } else {
        Duration::ZERO
    }
}
