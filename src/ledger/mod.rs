//! The ledger: durable per-workload history in an embedded SQLite database (rusqlite, its
//! SQLite bundled). `record` bills counter deltas to workload identities (`bill`), `report`
//! answers billing questions from the file alone (`query`). The schema is versioned
//! (`PRAGMA user_version`) and documented in docs/ledger.md.
mod ask;
pub mod bill;
pub mod coverage;
pub mod cycle;
pub mod export;
pub mod export_days;
pub mod export_peers;
pub mod file;
mod known;
mod marks;
mod pair_rows;
pub mod pairs;
mod peer_days;
pub mod peers;
mod prune;
pub mod query;
pub mod report;
mod resolution;
pub mod rollup;
mod samples;
mod schema;
mod select;
pub mod series;

/// A ledger file of a unit test: removed with its WAL and shared-memory files before use and
/// when dropped (a failing test too).
#[cfg(test)]
pub(crate) struct TempFile(pub std::path::PathBuf);

#[cfg(test)]
impl TempFile {
    pub fn new(name: &str) -> TempFile {
        let t = TempFile(std::env::temp_dir().join(format!("netattr-unit-{name}-{}.db", std::process::id())));
        drop(TempFile(t.0.clone()));
        t
    }
}

#[cfg(test)]
impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};

pub use resolution::Resolution;
pub use schema::VERSION;

pub const DEFAULT_PATH: &str = "/var/lib/netattr/ledger.db";

/// The write-ahead log beside a ledger file.
fn wal_of(path: &Path) -> PathBuf {
    beside(path, "-wal")
}

/// The WAL's shared-memory index beside a ledger file.
fn shm_of(path: &Path) -> PathBuf {
    beside(path, "-shm")
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// The file a recorder opened and what it was then.
type Opened = Option<(PathBuf, file::FileId, std::fs::Metadata)>;

fn check_file(path: &Path, opened: &Opened) -> Result<()> {
    let Some((real, id, _)) = opened else { return Ok(()) };
    match file::FileId::of(real) {
        Some(now) if now == *id => Ok(()),
        now => Err(NotOurFile { path: path.to_path_buf(), replaced: now.is_some() }.into()),
    }
}

/// An open ledger.
pub struct Ledger {
    pub conn: Connection,
    pub path: PathBuf,
    /// The file the recorder opened (None for a reader): each bill checks that `path` still
    /// names it.
    file: Opened,
    /// What this connection's bills wrote, so that the next one need not read it back.
    known: known::Known,
}

/// A bill not written because the ledger's path no longer names the file the recorder
/// opened (deleted, or replaced by another file): the recorder says so and writes nowhere.
#[derive(Debug)]
pub struct NotOurFile {
    pub path: PathBuf,
    /// Whether another file is at the path now (else nothing is).
    pub replaced: bool,
}

impl std::fmt::Display for NotOurFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.path.display();
        if self.replaced {
            write!(
                f,
                "ledger {p} was replaced under the recorder by another file: nothing is billed into \
                 either; move the new file aside and the recorder writes back the ledger it holds \
                 open, or restart it to record into the new file"
            )
        } else {
            write!(f, "ledger {p} was deleted under the recorder")
        }
    }
}

impl std::error::Error for NotOurFile {}

impl Ledger {
    /// Opens (creating it and its directory if needed) the ledger for recording.
    pub fn open_rw(path: &Path) -> Result<Ledger> {
        let real = file::prepare(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(&real, flags)
            .with_context(|| format!("cannot open ledger {}", path.display()))?;
        let id = file::FileId::of(&real)
            .with_context(|| format!("ledger {} went away while it was opened", path.display()))?;
        let md = std::fs::metadata(&real).with_context(|| format!("reading ledger {}", path.display()))?;
        let l = Ledger {
            conn,
            path: path.to_path_buf(),
            file: Some((real.clone(), id, md)),
            known: known::Known::default(),
        };
        schema::refuse_foreign(&l.conn, path).map_err(|e| l.explain(e))?;
        l.prepare()?;
        schema::migrate(&l.conn, path, marks::mark_migrated).map_err(|e| l.explain(e))?;
        file::warn_if_world_readable(&real);
        // -wal and -shm stay beside the file when the recorder closes it: readers without
        // write access open it read-only at any time.
        crate::ffi::sqlite_persist_wal(&l.conn).context("keeping the ledger's WAL")?;
        Ok(l)
    }

    /// Refuses to write when the ledger's path no longer names the file this recorder
    /// opened (NotOurFile).
    pub fn check_file(&self) -> Result<()> {
        check_file(&self.path, &self.file)
    }

    /// After NotOurFile: when nothing is at the ledger's path, writes the ledger this
    /// recorder holds open back there (whole, under a temporary name first; its owner and
    /// mode as they were) and returns it open; None while another file is there.
    pub fn write_back(&self) -> Result<Option<Ledger>> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Some((real, _, md)) = &self.file else { return Ok(None) };
        if std::fs::symlink_metadata(real).is_ok() {
            return Ok(None);
        }
        let tmp = beside(real, &format!(".back-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        file::prepare(&tmp)?;
        let done = (|| -> Result<bool> {
            self.conn
                .execute("VACUUM INTO ?1", [tmp.to_string_lossy()])
                .map_err(|e| self.explain(e.into()))
                .with_context(|| format!("writing ledger {} back", self.path.display()))?;
            let _ = std::os::unix::fs::chown(&tmp, Some(md.uid()), Some(md.gid()));
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
            // A -wal or -shm left by that name belongs to no file now: SQLite would replay
            // it into the one written back.
            for side in [wal_of(real), shm_of(real)] {
                match std::fs::remove_file(&side) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| format!("removing the stale {}", side.display()))
                    }
                    _ => {}
                }
            }
            // Put in place only if still nothing is there (a link never replaces).
            match std::fs::hard_link(&tmp, real) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e).with_context(|| format!("putting ledger {} back", self.path.display())),
            }
        })();
        let _ = std::fs::remove_file(&tmp);
        if !done? {
            return Ok(None);
        }
        Ledger::open_rw(&self.path).map(Some)
    }

    /// Opens an existing ledger read-only (`report`: no root, no kernel, a copied file).
    pub fn open_ro(path: &Path) -> Result<Ledger> {
        if !path.exists() {
            bail!(
                "no ledger at {}: 'netattr record' writes one (or pass the file with --ledger)",
                path.display()
            );
        }
        if let Err(e) = std::fs::File::open(path) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                bail!("{}", file::unreadable(path));
            }
        }
        let open = |uri: Option<&str>| -> Result<Ledger> {
            let conn = match uri {
                None => Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY),
                Some(u) => Connection::open_with_flags(
                    u,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
                ),
            }
            .with_context(|| format!("cannot open ledger {}", path.display()))?;
            let l = Ledger { conn, path: path.to_path_buf(), file: None, known: known::Known::default() };
            l.conn.busy_timeout(Duration::from_secs(5))?;
            let v = schema::version(&l.conn)?;
            schema::check_readable(v, path)?;
            Ok(l)
        };
        match open(None) {
            Ok(l) => Ok(l),
            // A reader that may not write beside the file cannot make its -shm: without a
            // -wal (no recorder since it was last closed whole) the file holds everything
            // and is read as it is.
            Err(e) if file::cannot_open(&e) && !wal_of(path).exists() => {
                open(Some(&file::immutable_uri(path))).map_err(|_| e)
            }
            Err(e) if file::cannot_open(&e) => Err(anyhow::anyhow!("{}", file::unreadable(path))),
            Err(e) => {
                let l = Ledger {
                    conn: Connection::open_in_memory()?,
                    path: path.to_path_buf(),
                    file: None,
                    known: known::Known::default(),
                };
                Err(l.explain(e))
            }
        }
    }

    fn prepare(&self) -> Result<()> {
        self.conn.busy_timeout(Duration::from_secs(5))?;
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| self.explain(e.into()))
            .context("setting the ledger's WAL mode")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    /// One line that names the file and the fix for the SQLite errors a user can meet.
    pub fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        use rusqlite::ErrorCode::*;
        let code = e.chain().find_map(|c| match c.downcast_ref::<rusqlite::Error>() {
            Some(rusqlite::Error::SqliteFailure(f, _)) => Some(f.code),
            _ => None,
        });
        let p = self.path.display();
        match code {
            Some(NotADatabase) | Some(DatabaseCorrupt) => anyhow::anyhow!(
                "ledger {p} is not a netattr ledger or is damaged: move it aside (its history stays in it) and record into a new file"
            ),
            Some(DatabaseBusy) | Some(DatabaseLocked) => anyhow::anyhow!(
                "ledger {p} is locked by another writer (another 'netattr record'?): run one recorder per ledger"
            ),
            Some(ReadOnly) | Some(CannotOpen) | Some(PermissionDenied) => anyhow::anyhow!(
                "ledger {p} cannot be written: it or its filesystem is read-only or not ours: check its permissions and the mount"
            ),
            Some(DiskFull) | Some(SystemIoFailure) => anyhow::anyhow!(
                "ledger {p} cannot be written: the disk is full or failing: free space, the recorder retries"
            ),
            _ => e,
        }
    }
}
