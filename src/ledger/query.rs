//! Billing questions asked of the ledger alone: totals per group over a period, and the
//! 95th percentile of 5-minute rates per group (the transit-billing figure).
use std::collections::BTreeMap;

use anyhow::{bail, Result};
use rusqlite::types::Value;
use serde::Serialize;

use super::rollup::{self, Marks};
use super::{civil, days_from_civil, Ledger, Resolution};

/// What a report groups by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Name,
    PodNamespace,
    Pod,
    Kind,
    Runtime,
    Identity,
    Class,
    Label(String),
}

impl Field {
    pub fn parse(s: &str) -> Result<Field> {
        Ok(match s {
            "name" => Field::Name,
            "pod_namespace" | "namespace" => Field::PodNamespace,
            "pod" | "pod_name" => Field::Pod,
            "kind" => Field::Kind,
            "runtime" => Field::Runtime,
            "identity" | "workload" => Field::Identity,
            "class" => Field::Class,
            _ => match s.strip_prefix("label:") {
                Some(k) if !k.is_empty() => Field::Label(k.to_string()),
                _ => bail!(
                    "cannot group by '{s}': use name, pod_namespace, pod, kind, runtime, identity, class or label:KEY"
                ),
            },
        })
    }

    pub fn label(&self) -> String {
        match self {
            Field::Name => "name".into(),
            Field::PodNamespace => "pod_namespace".into(),
            Field::Pod => "pod".into(),
            Field::Kind => "kind".into(),
            Field::Runtime => "runtime".into(),
            Field::Identity => "identity".into(),
            Field::Class => "class".into(),
            Field::Label(k) => format!("label:{k}"),
        }
    }

    /// The SQL expression of the field, and its parameter (a label's JSON path).
    fn sql(&self) -> (&'static str, Option<String>) {
        match self {
            Field::Name => ("coalesce(w.name, w.identity)", None),
            Field::PodNamespace => ("w.pod_namespace", None),
            Field::Pod => ("w.pod_name", None),
            Field::Kind => ("w.kind", None),
            Field::Runtime => ("w.runtime", None),
            Field::Identity => ("w.identity", None),
            Field::Class => ("u.class", None),
            Field::Label(k) => {
                ("json_extract(w.labels, ?)", Some(format!("$.\"{}\"", k.replace('"', "\\\""))))
            }
        }
    }
}

/// A half-open period [since, until) in unix seconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub since: i64,
    pub until: i64,
}

impl Period {
    /// A named period around `now`; months start on `billing_day` (1 to 28).
    pub fn named(name: &str, now: i64, billing_day: u32) -> Result<Period> {
        let today = now.div_euclid(86_400) * 86_400;
        let month_start = |t: i64| -> i64 {
            let (y, m, d) = civil(t.div_euclid(86_400));
            let (y, m) = if d >= billing_day {
                (y, m)
            } else if m == 1 {
                (y - 1, 12)
            } else {
                (y, m - 1)
            };
            days_from_civil(y, m, billing_day) * 86_400
        };
        let next_month = |start: i64| -> i64 {
            let (y, m, _) = civil(start.div_euclid(86_400));
            let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            days_from_civil(y, m, billing_day) * 86_400
        };
        Ok(match name {
            "today" => Period { since: today, until: today + 86_400 },
            "yesterday" => Period { since: today - 86_400, until: today },
            "this-month" => {
                let s = month_start(now);
                Period { since: s, until: next_month(s) }
            }
            "last-month" => {
                let s = month_start(month_start(now) - 1);
                Period { since: s, until: next_month(s) }
            }
            _ => bail!("unknown period '{name}': use today, yesterday, this-month or last-month"),
        })
    }
}

/// 9999-12-31T23:59:59Z: the last time a report takes.
const LAST_TIME: i64 = 253_402_300_799;

/// A time as `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS][Z]` (UTC) or unix seconds.
pub fn parse_time(s: &str) -> Result<i64> {
    let bad = || {
        anyhow::anyhow!(
            "'{s}' is not a time between 1970 and 9999: write YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z (UTC) or unix seconds"
        )
    };
    if let Ok(n) = s.parse::<i64>() {
        return if (0..=LAST_TIME).contains(&n) { Ok(n) } else { Err(bad()) };
    }
    let (date, time) = s.trim_end_matches('Z').split_once('T').unwrap_or((s, "00:00:00"));
    let d: Vec<i64> = date.split('-').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    let t: Vec<i64> = time.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    let [y, m, day] = d[..] else { return Err(bad()) };
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || t.len() < 2
        || t.len() > 3
    {
        return Err(bad());
    }
    let (h, min, sec) = (t[0], t[1], t.get(2).copied().unwrap_or(0));
    if !(0..24).contains(&h) || !(0..60).contains(&min) || !(0..60).contains(&sec) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m as u32, day as u32) * 86_400 + h * 3600 + min * 60 + sec)
}

/// A byte amount such as `500GiB`, `2TB`, `1048576`.
pub fn parse_bytes(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 =
        num.parse().map_err(|_| anyhow::anyhow!("'{s}' is not an amount of bytes (e.g. 500GiB, 2TB)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024f64.powi(2),
        "gib" => 1024f64.powi(3),
        "tib" => 1024f64.powi(4),
        _ => bail!("'{s}' has an unknown unit: use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"),
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        bail!("'{s}' is more bytes than a counter holds");
    }
    Ok(bytes.round() as u64)
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

/// The groups of `by` over `period` for `source`, largest first; with `with_p95`, each
/// group's 95th percentile of 5-minute rates (a scan of every 5-minute row of the period).
pub fn groups(
    l: &Ledger,
    period: Period,
    by: &[Field],
    source: &str,
    now: i64,
    with_p95: bool,
) -> Result<(Resolution, Vec<Group>)> {
    let marks = Marks::read(&l.conn)?;
    let pieces = rollup::pieces(period.since, period.until, &marks);
    let classes = by.contains(&Field::Class);
    let (mut exprs, mut params): (Vec<&str>, Vec<Value>) = (Vec::new(), Vec::new());
    for f in by {
        let (e, p) = f.sql();
        exprs.push(e);
        if let Some(p) = p {
            params.push(Value::Text(p));
        }
    }
    let keys = if exprs.is_empty() { "'all'".to_string() } else { exprs.join(", ") };
    let filter = "u.bucket >= ? AND u.bucket < ? AND u.source = ? AND (u.class <> '') = ?";
    let where_params = |res: Resolution, since: i64, until: i64| {
        vec![
            Value::Text(res.name().into()),
            Value::Integer(since),
            Value::Integer(until),
            Value::Text(source.into()),
            Value::Integer(i64::from(classes)),
        ]
    };
    // Each piece of the period from its own resolution's rows.
    let pieces_sql = vec![format!("(u.resolution = ? AND {filter})"); pieces.len().max(1)].join(" OR ");
    let sql = format!(
        "SELECT {keys}, sum(u.rx_bytes), sum(u.tx_bytes), sum(u.rx_packets), sum(u.tx_packets)
         FROM usage u JOIN workloads w ON w.id = u.workload
         WHERE {pieces_sql}
         GROUP BY {keys} ORDER BY sum(u.rx_bytes) + sum(u.tx_bytes) DESC"
    );
    // Label paths appear in the SELECT and the GROUP BY: bound twice, around the filter's.
    let mut all = params.clone();
    if pieces.is_empty() {
        all.extend(where_params(Resolution::FiveMinutes, period.since, period.until));
    }
    for (res, since, until) in &pieces {
        all.extend(where_params(*res, *since, *until));
    }
    all.extend(params.clone());
    let n = by.len().max(1);
    let mut stmt = l.conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(all))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut group = BTreeMap::new();
        for (i, f) in by.iter().enumerate() {
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
    // 95th percentiles from the 5-minute rows, unless some of the period's were pruned:
    // hourly rows older than the oldest 5-minute row say so.
    let oldest: Option<i64> =
        l.conn.query_row("SELECT min(bucket) FROM usage WHERE resolution = '5m'", [], |r| r.get(0))?;
    let pruned: bool = with_p95
        && l.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM usage WHERE resolution = 'hour' AND bucket >= ?1 AND bucket < ?2)",
            rusqlite::params![
                period.since,
                oldest.unwrap_or(i64::MAX).saturating_sub(3600).min(period.until)
            ],
            |r| r.get(0),
        )?;
    if with_p95 && oldest.is_some() && !pruned {
        let sql = format!(
            "SELECT {keys}, u.bucket, sum(u.rx_bytes + u.tx_bytes)
             FROM usage u JOIN workloads w ON w.id = u.workload
             WHERE u.resolution = ? AND {filter}
             GROUP BY {keys}, u.bucket"
        );
        let mut all = params.clone();
        all.extend(where_params(Resolution::FiveMinutes, period.since, period.until));
        all.extend(params);
        let mut stmt = l.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(all))?;
        let mut samples: BTreeMap<Vec<Option<String>>, Vec<f64>> = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let key: Vec<Option<String>> =
                (0..by.len()).map(|i| r.get(i)).collect::<rusqlite::Result<_>>()?;
            samples.entry(key).or_default().push(r.get::<_, i64>(n + 1)? as f64 / 300.0);
        }
        let intervals =
            ((period.until.min(now.max(period.since + 1)) - period.since + 299) / 300).max(1) as usize;
        for g in &mut out {
            let key: Vec<Option<String>> = by.iter().map(|f| g.group[&f.label()].clone()).collect();
            g.p95_bytes_per_s = Some(p95(samples.remove(&key).unwrap_or_default(), intervals));
        }
    }
    // The coarsest rows read.
    let res = pieces.iter().map(|p| p.0).max_by_key(|r| *r as u8).unwrap_or(Resolution::FiveMinutes);
    Ok((res, out))
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

/// Which source a report reads when not told: socket where the ledger has socket rows in
/// the period, else tc. Sources are never added together.
pub fn default_source(l: &Ledger, period: Period) -> Result<String> {
    let marks = Marks::read(&l.conn)?;
    for (res, since, until) in rollup::pieces(period.since, period.until, &marks) {
        let socket: bool = l.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM usage WHERE resolution = ?1 AND bucket >= ?2 AND bucket < ?3 AND source = 'socket')",
            rusqlite::params![res.name(), since, until],
            |r| r.get(0),
        )?;
        if socket {
            return Ok("socket".into());
        }
    }
    Ok("tc".into())
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
}

pub fn recorder(l: &Ledger) -> Result<Option<RecorderState>> {
    use rusqlite::OptionalExtension;
    // A version 1 file (read as it is, not migrated) has no `waiting`: none waited.
    let waiting = if super::schema::version(&l.conn)? >= 2 { "waiting" } else { "0" };
    Ok(l.conn
        .query_row(
            &format!(
                "SELECT at, cycles, duration_ms, cpu_ms, rows, collected, resets, last_error, {waiting} FROM recorder WHERE id = 1"
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
        for huge in ["-9223372036854775808", "9223372036854775807", "99999999999-01-01", "0-01-01"] {
            assert!(parse_time(huge).is_err(), "{huge}");
        }
        assert_eq!(parse_bytes("500GiB").unwrap(), 500 << 30);
        assert_eq!(parse_bytes("2 TB").unwrap(), 2_000_000_000_000);
        assert!(parse_bytes("5 parsecs").is_err());
        assert_eq!(p95(vec![10.0; 5], 100), 0.0, "idle intervals count");
        assert_eq!(p95((1..=100).map(f64::from).collect(), 100), 95.0);
    }
}
