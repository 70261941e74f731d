//! The ledger's file on disk: made private, reached only through links root or this user
//! own, readable without write access, and checked at each bill to be the file the
//! recorder opened.
//!
//! - A new ledger is created 0640 (whatever the umask), so that its owner writes it and its
//!   group reads it; SQLite gives its `-wal` and `-shm` the main file's mode and owner. An
//!   existing file keeps its owner and mode (a world-readable one is said, once).
//! - A symbolic link at the ledger's path is followed only when root or the running user
//!   owns it: one planted by another user in a shared directory is refused (SQLite opens
//!   `-wal` and `-shm` without following links at all).
//! - The recorder keeps `-wal` and `-shm` beside the file when it closes (SQLite's
//!   persistent WAL), so that a reader without write access opens the file read-only
//!   whether a recorder runs or not.
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The mode of a ledger netattr creates: its owner writes it, its group reads it.
pub const MODE: u32 = 0o640;

/// Which file a path named when it was opened: a file deleted or replaced since is told
/// apart from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The file `path` names now (following a link), None when there is none.
    pub fn of(path: &Path) -> Option<FileId> {
        fs::metadata(path).ok().map(|m| FileId { dev: m.dev(), ino: m.ino() })
    }
}

/// The path SQLite is to open for the ledger at `path` (a link's target, when a link root
/// or this user owns is there), the file made first (0640) when absent.
pub fn prepare(path: &Path) -> Result<PathBuf> {
    let real = resolve(path)?;
    if let Some(dir) = real.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the ledger's directory {}", dir.display()))?;
    }
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&real)
    {
        Ok(f) => {
            // The umask may have taken bits the mode asked for: set it whole.
            f.set_permissions(fs::Permissions::from_mode(MODE))
                .with_context(|| format!("setting the mode of ledger {}", real.display()))?;
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            // It was there: resolved again, in case a link appeared meanwhile.
            let again = resolve(path)?;
            if again != real {
                bail!("ledger {} changed while it was opened: run the command again", path.display());
            }
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create ledger {}", real.display())),
    }
    Ok(real)
}

/// `path` itself, or the target of the link at `path` when root or the running user owns
/// the link (a link to nothing is refused: SQLite would make the file where it points).
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let md = match fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(path.to_path_buf()),
        Err(e) => return Err(e).with_context(|| format!("cannot look at ledger {}", path.display())),
    };
    if !md.file_type().is_symlink() {
        return Ok(path.to_path_buf());
    }
    let me = nix::unistd::geteuid().as_raw();
    if md.uid() != 0 && md.uid() != me {
        bail!(
            "ledger {} is a symbolic link owned by user {}: netattr follows only links root or \
             you own there; give the ledger's real path",
            path.display(),
            md.uid()
        );
    }
    fs::canonicalize(path).with_context(|| {
        format!(
            "ledger {} is a symbolic link to nothing: point it at the ledger or give its path",
            path.display()
        )
    })
}

/// Says once that an existing ledger is readable by every user (netattr made it so before
/// ledgers were created 0640, or someone chmod-ed it).
pub fn warn_if_world_readable(path: &Path) {
    if let Ok(md) = fs::metadata(path) {
        if md.mode() & 0o004 != 0 {
            eprintln!(
                "netattr: ledger {} is readable by every user (mode {:04o}): 'chmod 640 {}*' \
                 keeps tenants' usage to its owner and group",
                path.display(),
                md.mode() & 0o7777,
                path.display()
            );
        }
    }
}

/// Whether `e` is SQLite failing to open (or to read-only open) a file.
pub fn cannot_open(e: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode::*;
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(f, _)) if matches!(f.code, CannotOpen | ReadOnly | PermissionDenied)
        )
    })
}

/// A read-only URI for a ledger that has no `-wal` (everything is in the file).
pub fn immutable_uri(path: &Path) -> String {
    let mut s = String::from("file:");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'?' | b'#' | b'%' => s.push_str(&format!("%{b:02X}")),
            b if b.is_ascii_graphic() || *b == b' ' => s.push(*b as char),
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s.push_str("?immutable=1");
    s
}

/// One line for a ledger this user may not read: who may, and how to give a reader a copy.
pub fn unreadable(path: &Path) -> String {
    let (mode, uid, gid) =
        fs::metadata(path).map(|m| (m.mode() & 0o7777, m.uid(), m.gid())).unwrap_or_default();
    format!(
        "ledger {p} cannot be read by this user (mode {mode:04o}, owner uid {uid}, group gid {gid}): \
         read it as its owner or a member of its group (the recorder keeps an existing file's \
         owner and mode: 'chgrp GROUP {p} {p}-wal {p}-shm'), or read a copy ('sqlite3 {p} \
         \".backup copy.db\"')",
        p = path.display()
    )
}
