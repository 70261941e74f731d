//! Billing questions asked of the ledger alone: totals per group over a period, and the
//! 95th percentile of 5-minute rates per group (the transit-billing figure).
use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use rusqlite::types::Value;
use serde::Serialize;

use super::marks::{self, Marks};
use super::{Ledger, Resolution};
pub use crate::model::{parse_bytes, parse_time, Field, Period};

/// The SQL expression of a grouping field, and its parameter (a label's JSON path).
fn sql(f: &Field) -> (&'static str, Option<String>) {
    match f {
        Field::Name => ("coalesce(w.name, w.identity)", None),
        Field::PodNamespace => ("w.pod_namespace", None),
        Field::Pod => ("w.pod_name", None),
        Field::Kind => ("w.kind", None),
        Field::Runtime => ("w.runtime", None),
        Field::Identity => ("w.identity", None),
        Field::Class => ("u.class", None),
        Field::Label(k) => ("json_extract(w.labels, ?)", Some(format!("$.\"{}\"", k.replace('"', "\\\"")))),
        // A ledger is one node's: `report` refuses these without --from.
        Field::Node | Field::Zone => ("NULL", None),
    }
}

/// One group's usage over the period.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    /// Field label -> value (null where the workloads have none).
    pub group: BTreeMap<String, Option<String>>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// With `--p95`: the 95th percentile of the group's 5-minute rates (rx + tx, bytes per
    /// second) over the period's 5-minute intervals up to now, idle intervals counted as
    /// zero; null without `--p95` and where the 5-minute rows of the period are pruned.
    pub p95_bytes_per_s: Option<f64>,
}

/// What a report asks of the ledger.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub period: Period,
    pub by: &'a [Field],
    /// Only the rows of these destination classes (of the class breakdown); empty: all.
    pub classes: &'a [String],
    /// Each group's 95th percentile of 5-minute rates too.
    pub p95: bool,
}

/// The groups of `ask.by` over `ask.period` for `source`, largest first; with `ask.p95`, each
/// group's 95th percentile of 5-minute rates (a scan of every 5-minute row of the period).
pub fn groups(l: &Ledger, ask: Ask<'_>, source: &str, now: i64) -> Result<(Resolution, Vec<Group>)> {
    let marks = Marks::read(&l.conn)?;
    let pieces = marks::pieces(ask.period.since, ask.period.until, &marks);
    let q = Sql::new(&ask, source)?;
    let keys = &q.keys;
    // Each piece of the period from its own resolution's rows.
    let pieces_sql = vec![format!("(u.resolution = ? AND {FILTER})"); pieces.len().max(1)].join(" OR ");
    let sql = format!(
        "SELECT {keys}, sum(u.rx_bytes), sum(u.tx_bytes), sum(u.rx_packets), sum(u.tx_packets)
         FROM usage u JOIN workloads w ON w.id = u.workload
         WHERE {pieces_sql}
         GROUP BY {keys} ORDER BY sum(u.rx_bytes) + sum(u.tx_bytes) DESC"
    );
    let mut filters = Vec::new();
    if pieces.is_empty() {
        filters.extend(q.filter(Resolution::FiveMinutes, ask.period.since, ask.period.until));
    }
    for (res, since, until) in &pieces {
        filters.extend(q.filter(*res, *since, *until));
    }
    let n = ask.by.len().max(1);
    let mut stmt = l.conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(q.around(filters)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut group = BTreeMap::new();
        for (i, f) in ask.by.iter().enumerate() {
            group.insert(f.label(), r.get::<_, Option<String>>(i)?);
        }
        out.push(Group {
            group,
            rx_bytes: r.get::<_, i64>(n)? as u64,
            tx_bytes: r.get::<_, i64>(n + 1)? as u64,
            rx_packets: r.get::<_, i64>(n + 2)? as u64,
            tx_packets: r.get::<_, i64>(n + 3)? as u64,
            p95_bytes_per_s: None,
        });
    }
    if ask.p95 {
        add_p95(l, &ask, &q, now, &mut out)?;
    }
    // The coarsest rows read.
    let res = pieces.iter().map(|p| p.0).max_by_key(|r| *r as u8).unwrap_or(Resolution::FiveMinutes);
    Ok((res, out))
}

/// Which usage rows a query reads: the bucket range of a resolution, the source, totals or
/// class rows, and the classes picked (none: all).
const FILTER: &str = "u.bucket >= ? AND u.bucket < ? AND u.source = ? AND (u.class <> '') = ?
                      AND (? = '[]' OR u.class IN (SELECT value FROM json_each(?)))";

/// The parts of a query that every statement of one `Ask` shares.
struct Sql<'a> {
    /// The grouping expressions, joined.
    keys: String,
    /// Their parameters (label paths).
    key_params: Vec<Value>,
    source: &'a str,
    /// The class breakdown's rows where grouped or picked by class, else the totals.
    classes: bool,
    /// The classes picked, as a JSON array.
    only: String,
}

impl<'a> Sql<'a> {
    fn new(ask: &Ask<'_>, source: &'a str) -> Result<Sql<'a>> {
        let (mut exprs, mut key_params): (Vec<&str>, Vec<Value>) = (Vec::new(), Vec::new());
        for f in ask.by {
            let (e, p) = sql(f);
            exprs.push(e);
            if let Some(p) = p {
                key_params.push(Value::Text(p));
            }
        }
        Ok(Sql {
            keys: if exprs.is_empty() { "'all'".to_string() } else { exprs.join(", ") },
            key_params,
            source,
            classes: ask.by.contains(&Field::Class) || !ask.classes.is_empty(),
            only: serde_json::to_string(ask.classes)?,
        })
    }

    /// The parameters of one `(u.resolution = ? AND FILTER)`.
    fn filter(&self, res: Resolution, since: i64, until: i64) -> Vec<Value> {
        vec![
            Value::Text(res.name().into()),
            Value::Integer(since),
            Value::Integer(until),
            Value::Text(self.source.into()),
            Value::Integer(i64::from(self.classes)),
            Value::Text(self.only.clone()),
            Value::Text(self.only.clone()),
        ]
    }

    /// All the parameters of a statement: label paths appear in the SELECT and the GROUP BY,
    /// so they are bound twice, around the filters'.
    fn around(&self, filters: Vec<Value>) -> Vec<Value> {
        let mut all = self.key_params.clone();
        all.extend(filters);
        all.extend(self.key_params.iter().cloned());
        all
    }
}

/// 95th percentiles from the 5-minute rows, unless some of the period's were pruned:
/// hourly rows older than the oldest 5-minute row say so.
fn add_p95(l: &Ledger, ask: &Ask<'_>, q: &Sql<'_>, now: i64, out: &mut [Group]) -> Result<()> {
    let period = ask.period;
    let oldest: Option<i64> =
        l.conn.query_row("SELECT min(bucket) FROM usage WHERE resolution = '5m'", [], |r| r.get(0))?;
    let Some(oldest) = oldest else { return Ok(()) };
    let pruned: bool = l.conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM usage WHERE resolution = 'hour' AND bucket >= ?1 AND bucket < ?2)",
        rusqlite::params![period.since, oldest.saturating_sub(3600).min(period.until)],
        |r| r.get(0),
    )?;
    if pruned {
        return Ok(());
    }
    let mut samples = bucket_sums(l, ask, q)?;
    let intervals = intervals(period, now);
    for g in out {
        let key: Vec<Option<String>> = ask.by.iter().map(|f| g.group[&f.label()].clone()).collect();
        g.p95_bytes_per_s = Some(p95(samples.remove(&key).unwrap_or_default(), intervals));
    }
    Ok(())
}

/// Each group's bytes (rx + tx) per 5-minute bucket of the period, as rates: the period's
/// 5-minute rows streamed once in bucket order (no join, no grouping in SQL: a month of 1,000
/// workloads is 8.9 million rows), each workload's part of the group key looked up once.
fn bucket_sums(l: &Ledger, ask: &Ask<'_>, q: &Sql<'_>) -> Result<BTreeMap<Vec<Option<String>>, Vec<f64>>> {
    // Each workload's key (the grouping fields but class), deduplicated.
    let fields: Vec<&Field> = ask.by.iter().filter(|f| **f != Field::Class).collect();
    let class_at = ask.by.iter().position(|f| *f == Field::Class);
    let mut exprs = vec!["w.id".to_string()];
    let mut params = Vec::new();
    for f in &fields {
        let (e, p) = sql(f);
        exprs.push(e.to_string());
        params.extend(p.map(Value::Text));
    }
    let mut stmt = l.conn.prepare(&format!("SELECT {} FROM workloads w", exprs.join(", ")))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut part_of: HashMap<i64, usize> = HashMap::new();
    let mut parts: Vec<Vec<Option<String>>> = Vec::new();
    let mut part_ids: HashMap<Vec<Option<String>>, usize> = HashMap::new();
    while let Some(r) = rows.next()? {
        let key: Vec<Option<String>> =
            (1..=fields.len()).map(|i| r.get(i)).collect::<rusqlite::Result<_>>()?;
        let next = parts.len();
        let id = *part_ids.entry(key.clone()).or_insert_with(|| {
            parts.push(key);
            next
        });
        part_of.insert(r.get(0)?, id);
    }
    // The rows, bucket by bucket: a bucket's sums per group, then each group's sample.
    let class = if class_at.is_some() { ", u.class" } else { "" };
    let mut stmt = l.conn.prepare(&format!(
        "SELECT u.workload, u.bucket, u.rx_bytes + u.tx_bytes{class} FROM usage u
         WHERE u.resolution = ? AND {FILTER} ORDER BY u.bucket"
    ))?;
    let period = ask.period;
    let mut rows = stmt.query(rusqlite::params_from_iter(q.filter(
        Resolution::FiveMinutes,
        period.since,
        period.until,
    )))?;
    let mut groups: HashMap<(usize, String), usize> = HashMap::new();
    let mut keys: Vec<Vec<Option<String>>> = Vec::new();
    let mut samples: Vec<Vec<f64>> = Vec::new();
    // This bucket's sum of each group, and the groups it has (in `touched` once each).
    let (mut sums, mut touched): (Vec<Option<u64>>, Vec<usize>) = (Vec::new(), Vec::new());
    let flush = |sums: &mut Vec<Option<u64>>, touched: &mut Vec<usize>, samples: &mut Vec<Vec<f64>>| {
        for g in touched.drain(..) {
            samples[g].push(sums[g].take().unwrap_or(0) as f64 / 300.0);
        }
    };
    let mut bucket = None;
    while let Some(r) = rows.next()? {
        let b: i64 = r.get(1)?;
        if bucket != Some(b) {
            flush(&mut sums, &mut touched, &mut samples);
            bucket = Some(b);
        }
        let Some(&part) = part_of.get(&r.get::<_, i64>(0)?) else { continue };
        let class: String = if class_at.is_some() { r.get(3)? } else { String::new() };
        let next = keys.len();
        let g = *groups.entry((part, class)).or_insert_with_key(|(part, class)| {
            let mut key = parts[*part].clone();
            if let Some(at) = class_at {
                key.insert(at, Some(class.clone()));
            }
            keys.push(key);
            next
        });
        if g == samples.len() {
            samples.push(Vec::new());
            sums.push(None);
        }
        let sum = sums[g].get_or_insert_with(|| {
            touched.push(g);
            0
        });
        *sum += r.get::<_, i64>(2)?.max(0) as u64;
    }
    flush(&mut sums, &mut touched, &mut samples);
    Ok(keys.into_iter().zip(samples).collect())
}

/// The 5-minute intervals of `period` up to `now` (at least one): a 95th percentile's
/// denominator, idle intervals counted as zero.
pub fn intervals(period: Period, now: i64) -> usize {
    ((period.until.min(now.max(period.since + 1)) - period.since + 299) / 300).max(1) as usize
}

/// The nearest-rank 95th percentile of `samples` over `intervals` intervals, the missing
/// ones zero.
pub fn p95(mut samples: Vec<f64>, intervals: usize) -> f64 {
    let n = intervals.max(samples.len());
    samples.resize(n, 0.0);
    samples.sort_by(f64::total_cmp);
    let rank = (n as f64 * 0.95).ceil() as usize;
    samples[rank.clamp(1, n) - 1]
}

/// The recorder's last cycle, for `status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecorderState {
    pub at: i64,
    pub cycles: i64,
    pub duration_ms: f64,
    /// CPU time of the cycle (the recorder's thread).
    pub cpu_ms: f64,
    pub rows: i64,
    pub collected: i64,
    pub resets: i64,
    /// Reads waiting for their 5-minute bucket to close (a busy node's), not billed yet.
    pub waiting: i64,
    pub last_error: Option<String>,
    /// Unix seconds: the ledger holds everything the recorder read before it (null before
    /// schema 6's first cycle).
    pub complete_until: Option<i64>,
}

pub fn recorder(l: &Ledger) -> Result<Option<RecorderState>> {
    use rusqlite::OptionalExtension;
    // A version 1 file (read as it is, not migrated) has no `waiting`: none waited.
    let v = super::schema::version(&l.conn)?;
    let waiting = if v >= 2 { "waiting" } else { "0" };
    let complete = if v >= 6 { "complete_until" } else { "NULL" };
    Ok(l.conn
        .query_row(
            &format!(
                "SELECT at, cycles, duration_ms, cpu_ms, rows, collected, resets, last_error, {waiting}, {complete} FROM recorder WHERE id = 1"
            ),
            [],
            |r| {
                Ok(RecorderState {
                    at: r.get(0)?,
                    cycles: r.get(1)?,
                    duration_ms: r.get(2)?,
                    cpu_ms: r.get(3)?,
                    rows: r.get(4)?,
                    collected: r.get(5)?,
                    resets: r.get(6)?,
                    last_error: r.get(7)?,
                    waiting: r.get(8)?,
                    complete_until: r.get(9)?,
                })
            },
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_times() {
        let t = parse_time("2026-11-29T13:45:00Z").unwrap();
        assert_eq!(t, parse_time("2026-11-29").unwrap() + 13 * 3600 + 45 * 60);
        assert_eq!(Period::named("today", t, 1).unwrap().since, parse_time("2026-11-29").unwrap());
        let m = Period::named("this-month", t, 1).unwrap();
        assert_eq!(
            (m.since, m.until),
            (parse_time("2026-11-01").unwrap(), parse_time("2026-12-01").unwrap())
        );
        let l = Period::named("last-month", parse_time("2026-01-10").unwrap(), 15).unwrap();
        assert_eq!(
            (l.since, l.until),
            (parse_time("2025-11-15").unwrap(), parse_time("2025-12-15").unwrap())
        );
        assert_eq!(Resolution::Month.bucket(t), parse_time("2026-11-01").unwrap());
        assert!(parse_time("2026-13-01").is_err() && parse_time("yesterday").is_err());
        assert!(parse_time("2026-02-30").unwrap_err().to_string().contains("2026-02 has 28 days"));
        assert_eq!(parse_time("2024-02-29").unwrap(), parse_time("2024-03-01").unwrap() - 86_400);
        assert_eq!(parse_time("2026-11-29T14:45:00+01:00").unwrap(), t);
        assert_eq!(parse_time("2026-11-29T13:15-00:30").unwrap(), t);
        assert_eq!(parse_time("2026-11-29T13:45").unwrap(), t, "UTC when no zone is given");
        assert!(parse_time("2026-11-29T13:45+1").is_err() && parse_time("2026-11-29T13:45+24:00").is_err());
        for huge in ["-9223372036854775808", "9223372036854775807", "99999999999-01-01", "0-01-01"] {
            assert!(parse_time(huge).is_err(), "{huge}");
        }
        assert_eq!(parse_bytes("500GiB").unwrap(), 500 << 30);
        assert_eq!(parse_bytes("2 TB").unwrap(), 2_000_000_000_000);
        assert!(parse_bytes("5 parsecs").is_err());
        assert_eq!(parse_bytes("18446744073709551615").unwrap(), u64::MAX, "exact to the last byte");
        assert!(parse_bytes("18446744073709551616").is_err() && parse_bytes("16777216TiB").is_err());
        assert_eq!(parse_bytes("1.5KiB").unwrap(), 1536);
        assert!(parse_bytes("").is_err() && parse_bytes(".").is_err() && parse_bytes("1e400").is_err());
        assert_eq!(p95(vec![10.0; 5], 100), 0.0, "idle intervals count");
        assert_eq!(p95((1..=100).map(f64::from).collect(), 100), 95.0);
    }
}
