//! The ledger's schema and its migrations. `PRAGMA user_version` is the schema version: a
//! file from a newer netattr is refused (never rewritten), an older one is migrated in one
//! transaction. docs/ledger.md documents every table.
use std::path::Path;

use anyhow::{bail, Result};
use rusqlite::Connection;

/// The schema this netattr writes.
pub const VERSION: i64 = 10;

/// Each migration takes the schema from its index to the next version: 1 made the tables,
/// 2 added `recorder.waiting`, 3 added `rollups` (hour, day and month rows rolled up from
/// the finer ones once their period is over; its marks are set from the rows there are) and
/// gave `instances` an integer id, which `cursors` now keys by (its rows half the size); 4
/// keeps one `cursors` row a cgroup (its sources' and classes' counters as a JSON array, so
/// that a bill writes a cgroup's cursors once) and drops the index of `usage` by workload
/// (no query of netattr's used it, and every bill wrote it: rows are found by period); 5
/// gives each `cursors` row the workload its cgroup was last billed to, so that a recorder
/// that starts again knows who its cgroups are without naming them all at once; 6 gives
/// `recorder` the time up to which the ledger holds all the recorder read
/// (`complete_until`) and adds `coverage`, when each instance's reads had rows of each
/// source: reports say which source covers which part of their period; 7 gives every
/// `usage` and `workloads` row the version of the bill that last wrote it (`versions` hands
/// them out, each above the last and at least the bill's time in milliseconds) and adds
/// `exports`, how far each fleet store has acknowledged the file's rows (`netattr export`);
/// 8 adds `series`, each rolled-up day's 5-minute profile of a workload (a 95th percentile
/// over whole days reads a row a workload and day, not 288), and `series_days`, which days
/// are whole in it, with the export's cursors of both; 9 adds who talks to whom (`load
/// --breakdown peer`): `peers`, each workload's bytes per remote address, `peer_cursors`,
/// what was billed of each peer row, `addresses`, which workload held each address when,
/// and their own version sequence (`peer_versions`, so that a peer bill leaves the usage
/// bills' caches valid), with the export's cursors of `peers` and `addresses`; 10 adds
/// `peer_days`, each rolled-up day's peer rows (a month's pair table reads a row a peer and
/// day, not 288), whole for the days whose `series_days.whole` has bit 2 (the days rolled up
/// before it keep 1: read from their 5-minute rows), with the export's cursor of it.
pub(super) const MIGRATIONS: [&str; 10] = [
    r#"
CREATE TABLE workloads (
    id            INTEGER PRIMARY KEY,
    identity      TEXT NOT NULL UNIQUE,
    kind          TEXT,
    runtime       TEXT,
    name          TEXT,
    pod_namespace TEXT,
    pod_name      TEXT,
    container_id  TEXT,
    pod_uid       TEXT,
    path          TEXT,
    labels        TEXT,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL
);
CREATE TABLE usage (
    resolution TEXT    NOT NULL,
    bucket     INTEGER NOT NULL,
    workload   INTEGER NOT NULL REFERENCES workloads(id),
    source     TEXT    NOT NULL,
    class      TEXT    NOT NULL,
    rx_bytes   INTEGER NOT NULL DEFAULT 0,
    tx_bytes   INTEGER NOT NULL DEFAULT 0,
    rx_packets INTEGER NOT NULL DEFAULT 0,
    tx_packets INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (resolution, bucket, workload, source, class)
) WITHOUT ROWID;
CREATE INDEX usage_by_workload ON usage (workload, resolution, bucket);
CREATE TABLE instances (
    instance    TEXT PRIMARY KEY,
    boot_id     TEXT    NOT NULL,
    loaded_at   INTEGER NOT NULL,
    pin_dir     TEXT    NOT NULL,
    first_cycle INTEGER NOT NULL,
    last_cycle  INTEGER NOT NULL
);
CREATE TABLE cursors (
    instance   TEXT    NOT NULL REFERENCES instances(instance),
    source     TEXT    NOT NULL,
    cgroup_id  INTEGER NOT NULL,
    class      TEXT    NOT NULL,
    rx_bytes   INTEGER NOT NULL,
    tx_bytes   INTEGER NOT NULL,
    rx_packets INTEGER NOT NULL,
    tx_packets INTEGER NOT NULL,
    PRIMARY KEY (instance, source, cgroup_id, class)
) WITHOUT ROWID;
CREATE TABLE recorder (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    at          INTEGER NOT NULL,
    cycles      INTEGER NOT NULL,
    duration_ms REAL    NOT NULL,
    cpu_ms      REAL    NOT NULL,
    rows        INTEGER NOT NULL,
    collected   INTEGER NOT NULL,
    resets      INTEGER NOT NULL,
    last_error  TEXT
);
"#,
    r#"
ALTER TABLE recorder ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
CREATE TABLE rollups (
    resolution    TEXT    PRIMARY KEY,
    done_until    INTEGER NOT NULL,
    next_workload INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE instances_3 (
    id          INTEGER PRIMARY KEY,
    instance    TEXT    NOT NULL UNIQUE,
    boot_id     TEXT    NOT NULL,
    loaded_at   INTEGER NOT NULL,
    pin_dir     TEXT    NOT NULL,
    first_cycle INTEGER NOT NULL,
    last_cycle  INTEGER NOT NULL
);
INSERT INTO instances_3 (instance, boot_id, loaded_at, pin_dir, first_cycle, last_cycle)
    SELECT instance, boot_id, loaded_at, pin_dir, first_cycle, last_cycle FROM instances ORDER BY first_cycle;
CREATE TABLE cursors_3 (
    instance   INTEGER NOT NULL REFERENCES instances_3(id),
    source     TEXT    NOT NULL,
    cgroup_id  INTEGER NOT NULL,
    class      TEXT    NOT NULL,
    rx_bytes   INTEGER NOT NULL,
    tx_bytes   INTEGER NOT NULL,
    rx_packets INTEGER NOT NULL,
    tx_packets INTEGER NOT NULL,
    PRIMARY KEY (instance, source, cgroup_id, class)
) WITHOUT ROWID;
INSERT INTO cursors_3
    SELECT i.id, c.source, c.cgroup_id, c.class, c.rx_bytes, c.tx_bytes, c.rx_packets, c.tx_packets
    FROM cursors c JOIN instances_3 i ON i.instance = c.instance;
DROP TABLE cursors;
DROP TABLE instances;
ALTER TABLE instances_3 RENAME TO instances;
ALTER TABLE cursors_3 RENAME TO cursors;
"#,
    r#"
CREATE TABLE cursors_4 (
    instance  INTEGER NOT NULL REFERENCES instances(id),
    cgroup_id INTEGER NOT NULL,
    counters  TEXT    NOT NULL,
    PRIMARY KEY (instance, cgroup_id)
) WITHOUT ROWID;
INSERT INTO cursors_4
    SELECT instance, cgroup_id,
           json_group_array(json_array(source, class, rx_bytes, tx_bytes, rx_packets, tx_packets))
    FROM cursors GROUP BY instance, cgroup_id;
DROP TABLE cursors;
ALTER TABLE cursors_4 RENAME TO cursors;
DROP INDEX usage_by_workload;
"#,
    r#"
ALTER TABLE cursors ADD COLUMN workload INTEGER; -- a workloads.id (no foreign key: a check a write, and workloads are never deleted)
"#,
    r#"
ALTER TABLE recorder ADD COLUMN complete_until INTEGER; -- unix seconds: every read before it is billed
CREATE TABLE coverage (
    instance INTEGER NOT NULL REFERENCES instances(id),
    source   TEXT    NOT NULL,
    first    INTEGER NOT NULL, -- the first read that had rows of the source
    last     INTEGER NOT NULL, -- the last one
    PRIMARY KEY (instance, source)
) WITHOUT ROWID;
"#,
    r#"
ALTER TABLE usage ADD COLUMN version INTEGER NOT NULL DEFAULT 0;     -- the bill that last wrote the row
ALTER TABLE workloads ADD COLUMN version INTEGER NOT NULL DEFAULT 0; -- the same, of the description
CREATE TABLE versions (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL -- the last version handed out
);
INSERT INTO versions VALUES (1, 0);
CREATE INDEX usage_by_version ON usage (version, bucket, workload, source, class) WHERE resolution = '5m';
CREATE INDEX workloads_by_version ON workloads (version, id);
CREATE TABLE exports (
    destination TEXT PRIMARY KEY, -- the store, as 'clickhouse://HOST:PORT/DB' (no credentials)
    node        TEXT NOT NULL,    -- the node name its rows carry
    usage_after TEXT NOT NULL,    -- the last usage row acknowledged: JSON [version, bucket, workload, source, class]
    workloads_after TEXT NOT NULL, -- the last workload acknowledged: JSON [version, id]
    rows        INTEGER NOT NULL DEFAULT 0, -- usage rows acknowledged in all
    pruned      INTEGER NOT NULL DEFAULT 0, -- 5-minute rows pruned before the store acknowledged them
    acked_at    INTEGER, -- unix seconds of the last acknowledgement
    error       TEXT,    -- the last failure, cleared by the next acknowledgement
    error_at    INTEGER
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE series (
    day      INTEGER NOT NULL, -- the UTC day's first second
    workload INTEGER NOT NULL,
    source   TEXT NOT NULL,
    class    TEXT NOT NULL,
    bytes    BLOB NOT NULL,    -- 288 little-endian u64: rx + tx bytes of each 5-minute bucket of the day
    version  INTEGER NOT NULL, -- the rollup that wrote it
    PRIMARY KEY (day, workload, source, class)
) WITHOUT ROWID;
CREATE INDEX series_by_version ON series (version, day, workload, source, class);
CREATE TABLE series_days (
    day     INTEGER PRIMARY KEY, -- the UTC day's first second
    whole   INTEGER NOT NULL,    -- 1: every 5-minute row of the day is in `series`; 0: a later bill landed in the day
    version INTEGER NOT NULL     -- the rollup (or bill) that last wrote it
);
ALTER TABLE exports ADD COLUMN series_after TEXT NOT NULL DEFAULT '[0,0,0,"",""]'; -- the last series row acknowledged
ALTER TABLE exports ADD COLUMN days_after INTEGER NOT NULL DEFAULT 0; -- the version of the last series_days row acknowledged
"#,
    r#"
CREATE TABLE peers (
    bucket     INTEGER NOT NULL, -- the 5-minute bucket
    workload   INTEGER NOT NULL, -- a workloads.id
    source     TEXT NOT NULL,
    class      TEXT NOT NULL,
    peer       TEXT NOT NULL,    -- the remote address; '(other peers)'; '' for a class not counted per peer
    rx_bytes   INTEGER NOT NULL DEFAULT 0,
    tx_bytes   INTEGER NOT NULL DEFAULT 0,
    rx_packets INTEGER NOT NULL DEFAULT 0,
    tx_packets INTEGER NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL, -- the peer bill that last wrote it (peer_versions)
    PRIMARY KEY (bucket, workload, source, class, peer)
) WITHOUT ROWID;
CREATE INDEX peers_by_version ON peers (version, bucket, workload, source, class, peer);
CREATE TABLE peer_cursors (
    instance   INTEGER NOT NULL, -- an instances.id
    source     TEXT NOT NULL,
    cgroup_id  INTEGER NOT NULL,
    class      TEXT NOT NULL,
    peer       TEXT NOT NULL,
    rx_bytes   INTEGER NOT NULL,
    tx_bytes   INTEGER NOT NULL,
    rx_packets INTEGER NOT NULL,
    tx_packets INTEGER NOT NULL,
    PRIMARY KEY (instance, cgroup_id, source, class, peer)
) WITHOUT ROWID;
CREATE TABLE addresses (
    address       TEXT NOT NULL,
    since         INTEGER NOT NULL, -- unix seconds: first seen held by this holder
    until         INTEGER NOT NULL, -- last seen held by it
    holder        TEXT NOT NULL,    -- 'host', or the holding workload's identity
    name          TEXT,
    pod_namespace TEXT,
    version       INTEGER NOT NULL,
    PRIMARY KEY (address, since)
) WITHOUT ROWID;
CREATE INDEX addresses_by_version ON addresses (version, address, since);
CREATE TABLE peer_versions (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO peer_versions VALUES (1, 0);
ALTER TABLE exports ADD COLUMN peers_after TEXT NOT NULL DEFAULT '[0,0,0,"","",""]'; -- the last peers row acknowledged
ALTER TABLE exports ADD COLUMN addresses_after TEXT NOT NULL DEFAULT '[0,"",0]'; -- the last addresses row acknowledged
"#,
    r#"
CREATE TABLE peer_days (
    day          INTEGER NOT NULL, -- the UTC day's first second
    workload     INTEGER NOT NULL, -- a workloads.id
    source       TEXT NOT NULL,
    class        TEXT NOT NULL,
    peer         TEXT NOT NULL,    -- as peers.peer
    rx_bytes     INTEGER NOT NULL DEFAULT 0,
    tx_bytes     INTEGER NOT NULL DEFAULT 0,
    rx_packets   INTEGER NOT NULL DEFAULT 0,
    tx_packets   INTEGER NOT NULL DEFAULT 0,
    first_bucket INTEGER NOT NULL, -- the day's first and last 5-minute buckets with bytes
    last_bucket  INTEGER NOT NULL,
    version      INTEGER NOT NULL, -- the rollup (or late bill) that last wrote it (versions)
    PRIMARY KEY (day, workload, source, class, peer)
) WITHOUT ROWID;
CREATE INDEX peer_days_by_version ON peer_days (version, day, workload, source, class, peer);
-- A day being rolled up now: its slices done already get their peer days.
INSERT INTO peer_days
  SELECT r.done_until, p.workload, p.source, p.class, p.peer, sum(p.rx_bytes), sum(p.tx_bytes),
         sum(p.rx_packets), sum(p.tx_packets), min(p.bucket), max(p.bucket), (SELECT version FROM versions)
  FROM rollups r JOIN peers p ON p.bucket >= r.done_until AND p.bucket < r.done_until + 86400
    AND p.workload < r.next_workload
  WHERE r.resolution = 'day' AND r.next_workload > 0
  GROUP BY p.workload, p.source, p.class, p.peer;
ALTER TABLE exports ADD COLUMN peer_days_after TEXT NOT NULL DEFAULT '[0,0,0,"","",""]'; -- the last peer_days row acknowledged
"#,
];

pub fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Refuses a file this netattr cannot read.
pub fn check_readable(v: i64, path: &Path) -> Result<()> {
    if v > VERSION {
        bail!(
            "ledger {} has schema version {v}, newer than this netattr's {VERSION}: use a newer netattr (the file is left as it is)",
            path.display()
        );
    }
    if v == 0 {
        bail!(
            "{} is not a netattr ledger (no schema): pass the ledger 'netattr record' writes",
            path.display()
        );
    }
    Ok(())
}

/// Brings the schema to `VERSION`, all steps in one transaction.
/// Refuses an SQLite database of something else (tables, and no schema version): it is not
/// made a ledger too, nor put in WAL mode.
pub fn refuse_foreign(conn: &Connection, path: &Path) -> Result<()> {
    let tables: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))?;
    if version(conn)? == 0 && tables > 0 {
        bail!(
            "{} is an SQLite database of something else ({tables} tables, no netattr schema): \
             pick another --ledger (the file is left as it is)",
            path.display()
        );
    }
    Ok(())
}

/// Takes the file to this netattr's schema in one transaction; `marks_rollups` sets the
/// rollup marks from the rows there are when migration 3 makes their table
/// (`marks::mark_migrated`: passed in, so that the schema knows nothing of rollups).
pub fn migrate(conn: &Connection, path: &Path, marks_rollups: fn(&Connection) -> Result<()>) -> Result<()> {
    let v = version(conn)?;
    if v > VERSION {
        bail!(
            "ledger has schema version {v}, newer than this netattr's {VERSION}: use a newer netattr (the file is left as it is)"
        );
    }
    if v == VERSION {
        return Ok(());
    }
    refuse_foreign(conn, path)?;
    let tx = conn.unchecked_transaction()?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(v as usize) {
        tx.execute_batch(step)?;
        if i + 1 == 3 {
            marks_rollups(&tx)?;
        }
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests;
