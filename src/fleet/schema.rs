//! The fleet store's tables (docs/fleet.md documents them for people who query them with
//! SQL): the 5-minute rows, the workloads, each rolled-up day's sums and 5-minute profile
//! (`netattr_days`), which days of a node are whole there (`netattr_days_whole`), and who
//! talks to whom: each workload's bytes per remote address (`netattr_peers`, and each
//! rolled-up day's in `netattr_peer_days`) and which workload held each address when
//! (`netattr_addresses`), with each hour's sums of the peer rows (`netattr_peer_hours`, kept
//! by the export from a node's first hour in `netattr_peer_hours_since` on). All are
//! ReplacingMergeTree tables keyed by what a row is, versioned by the bill (or rollup) that
//! wrote it: a batch sent twice, or replayed, leaves one row per key, the latest. The
//! SQL is what both Debian's ClickHouse 18.16 and a current one accept.
use anyhow::{bail, Result};

use super::store::{quote, Store};

/// A table: its name, its columns (name, type) and its engine clause.
pub type Table = (&'static str, &'static [(&'static str, &'static str)], &'static str);

/// The columns of a table of peer rows, its time column `$time` (a bucket's, a day's, an
/// hour's), with `$extra` columns before the version.
macro_rules! peer_columns {
    ($time:literal $(, $extra:expr)*) => {
        &[
            ("node", "String"),
            ("zone", "String"),
            ("identity", "String"),
            ($time, "DateTime('UTC')"),
            ("source", "String"),
            ("class", "String"),
            ("peer", "String"),
            ("rx_bytes", "UInt64"),
            ("tx_bytes", "UInt64"),
            ("rx_packets", "UInt64"),
            ("tx_packets", "UInt64"),
            $($extra,)*
            ("version", "UInt64"),
        ]
    };
}

/// A rolled-up row's first and last 5-minute buckets.
macro_rules! rolled_peer_columns {
    ($time:literal) => {
        peer_columns!($time, ("first_bucket", "DateTime('UTC')"), ("last_bucket", "DateTime('UTC')"))
    };
}

/// The tables.
pub const TABLES: [Table; 9] = [
    (
        "netattr_usage",
        &[
            ("node", "String"),
            ("zone", "String"),
            ("identity", "String"),
            ("bucket", "DateTime('UTC')"),
            ("source", "String"),
            ("class", "String"),
            ("rx_bytes", "UInt64"),
            ("tx_bytes", "UInt64"),
            ("rx_packets", "UInt64"),
            ("tx_packets", "UInt64"),
            ("version", "UInt64"),
        ],
        "ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(bucket) ORDER BY (node, identity, bucket, source, class)",
    ),
    (
        "netattr_workloads",
        &[
            ("node", "String"),
            ("identity", "String"),
            ("kind", "Nullable(String)"),
            ("runtime", "Nullable(String)"),
            ("name", "Nullable(String)"),
            ("pod_namespace", "Nullable(String)"),
            ("pod_name", "Nullable(String)"),
            ("container_id", "Nullable(String)"),
            ("pod_uid", "Nullable(String)"),
            ("path", "Nullable(String)"),
            ("labels", "String"),
            ("first_seen", "DateTime('UTC')"),
            ("last_seen", "DateTime('UTC')"),
            ("version", "UInt64"),
        ],
        "ENGINE = ReplacingMergeTree(version) ORDER BY (node, identity)",
    ),
    (
        "netattr_days",
        &[
            ("node", "String"),
            ("zone", "String"),
            ("identity", "String"),
            ("day", "DateTime('UTC')"),
            ("source", "String"),
            ("class", "String"),
            ("rx_bytes", "UInt64"),
            ("tx_bytes", "UInt64"),
            ("rx_packets", "UInt64"),
            ("tx_packets", "UInt64"),
            ("series", "Array(UInt64)"),
            ("version", "UInt64"),
        ],
        "ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(day) ORDER BY (node, identity, day, source, class)",
    ),
    (
        "netattr_days_whole",
        &[("node", "String"), ("day", "DateTime('UTC')"), ("whole", "UInt8"), ("version", "UInt64")],
        "ENGINE = ReplacingMergeTree(version) ORDER BY (node, day)",
    ),
    (
        "netattr_peers",
        peer_columns!("bucket"),
        "ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(bucket) ORDER BY (toDate(bucket), node, identity, bucket, source, class, peer)",
    ),
    (
        "netattr_peer_days",
        rolled_peer_columns!("day"),
        "ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(day) ORDER BY (node, identity, day, source, class, peer)",
    ),
    (
        "netattr_peer_hours",
        rolled_peer_columns!("hour"),
        "ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(hour) ORDER BY (toDate(hour), node, identity, hour, source, class, peer)",
    ),
    (
        "netattr_peer_hours_since",
        &[("node", "String"), ("since", "DateTime('UTC')"), ("version", "UInt64")],
        "ENGINE = ReplacingMergeTree(version) ORDER BY node",
    ),
    (
        "netattr_addresses",
        &[
            ("node", "String"),
            ("address", "String"),
            ("since", "DateTime('UTC')"),
            ("until", "DateTime('UTC')"),
            ("holder", "String"),
            ("name", "Nullable(String)"),
            ("pod_namespace", "Nullable(String)"),
            ("version", "UInt64"),
        ],
        "ENGINE = ReplacingMergeTree(version) ORDER BY (node, address, since)",
    ),
];

/// The DDL that makes the database and the tables (each only if missing).
pub fn ddl(database: &str) -> Vec<String> {
    let mut out = vec![format!("CREATE DATABASE IF NOT EXISTS {database}")];
    for (table, columns, engine) in TABLES {
        let cols: Vec<String> = columns.iter().map(|(n, t)| format!("{n} {t}")).collect();
        out.push(format!("CREATE TABLE IF NOT EXISTS {database}.{table} ({}) {engine}", cols.join(", ")));
    }
    out
}

/// Makes what is missing, then checks the tables are netattr's.
pub fn init(store: &Store) -> Result<()> {
    // The database first, through the server's default one (the store's may not exist yet).
    for sql in ddl(&store.database) {
        store.run_in_default(&sql)?;
    }
    check(store)
}

/// Refuses tables that are not what netattr writes (a column missing, or of another type):
/// rows sent there would be refused or read wrong.
pub fn check(store: &Store) -> Result<()> {
    for (table, columns, _) in TABLES {
        let have = store.rows(&format!(
            "SELECT name, type FROM system.columns WHERE database = {} AND table = {}",
            quote(&store.database),
            quote(table)
        ))?;
        if have.is_empty() {
            bail!(
                "the fleet store {} has no table {table}: 'netattr export --init --to {}' makes netattr's tables",
                store.name,
                store.name
            );
        }
        for (name, ty) in columns.iter() {
            let found = have.iter().find(|c| c["name"] == *name);
            match found.and_then(|c| c["type"].as_str()) {
                Some(t) if t == *ty => {}
                Some(t) => bail!(
                    "the fleet store {}'s table {table} has column {name} of type {t}, netattr writes {ty}: restore the table (docs/fleet.md has its definition) or use another database",
                    store.name
                ),
                None => bail!(
                    "the fleet store {}'s table {table} has no column {name} ({ty}): restore the table (docs/fleet.md has its definition) or use another database",
                    store.name
                ),
            }
        }
    }
    Ok(())
}
