//! The ledger: durable per-workload history in an embedded SQLite database (rusqlite, its
//! SQLite bundled). `record` bills counter deltas to workload identities (`bill`), `report`
//! answers billing questions from the file alone (`query`). The schema is versioned
//! (`PRAGMA user_version`) and documented in docs/ledger.md.
pub mod bill;
mod known;
pub mod query;
pub mod report;
pub mod rollup;
mod schema;

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

pub use schema::VERSION;

pub const DEFAULT_PATH: &str = "/var/lib/netattr/ledger.db";

/// The bucket sizes usage is kept in, finest first, with their names in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    FiveMinutes,
    Hour,
    Day,
    Month,
}

impl Resolution {
    pub const ALL: [Resolution; 4] =
        [Resolution::FiveMinutes, Resolution::Hour, Resolution::Day, Resolution::Month];

    pub fn name(self) -> &'static str {
        match self {
            Resolution::FiveMinutes => "5m",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
            Resolution::Month => "month",
        }
    }

    /// The start (UTC, unix seconds) of the bucket holding `t`.
    pub fn bucket(self, t: i64) -> i64 {
        match self {
            Resolution::FiveMinutes => t - t.rem_euclid(300),
            Resolution::Hour => t - t.rem_euclid(3600),
            Resolution::Day => t - t.rem_euclid(86_400),
            Resolution::Month => {
                let (y, m, _) = civil(t.div_euclid(86_400));
                days_from_civil(y, m, 1) * 86_400
            }
        }
    }
}

/// (year, month, day) of a day number since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day number of (year, month, day).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An open ledger.
pub struct Ledger {
    pub conn: Connection,
    pub path: PathBuf,
    /// What this connection's bills wrote, so that the next one need not read it back.
    known: known::Known,
}

impl Ledger {
    /// Opens (creating it and its directory if needed) the ledger for recording.
    pub fn open_rw(path: &Path) -> Result<Ledger> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the ledger's directory {}", dir.display()))?;
        }
        let conn =
            Connection::open(path).with_context(|| format!("cannot open ledger {}", path.display()))?;
        let l = Ledger { conn, path: path.to_path_buf(), known: known::Known::default() };
        l.prepare()?;
        schema::migrate(&l.conn).map_err(|e| l.explain(e))?;
        Ok(l)
    }

    /// Opens an existing ledger read-only (`report`: no root, no kernel, a copied file).
    pub fn open_ro(path: &Path) -> Result<Ledger> {
        if !path.exists() {
            bail!(
                "no ledger at {}: 'netattr record' writes one (or pass the file with --ledger)",
                path.display()
            );
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open ledger {}", path.display()))?;
        let l = Ledger { conn, path: path.to_path_buf(), known: known::Known::default() };
        l.conn.busy_timeout(Duration::from_secs(5))?;
        let v = schema::version(&l.conn).map_err(|e| l.explain(e))?;
        schema::check_readable(v, path)?;
        Ok(l)
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
