//! The 95th percentile of a group's 5-minute rates (the transit-billing figure): each group's
//! bytes per 5-minute bucket, from whole days' series and the 5-minute rows of the rest.
use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use rusqlite::types::Value;

use super::select::{sql, Sql, FILTER};
use super::{Ledger, Resolution};
use crate::model::{Field, Period};

/// Each group's bytes (rx + tx) per 5-minute bucket, as rates, gathered from whole days'
/// series and streamed 5-minute rows (no join, no grouping in SQL), each workload's part of
/// the group key looked up once.
pub(super) struct Samples {
    /// The grouping fields' position of the class, if grouped by class.
    class_at: Option<usize>,
    /// Each workload's key (the grouping fields but class), as an index into `parts`.
    part_of: HashMap<i64, usize>,
    parts: Vec<Vec<Option<String>>>,
    groups: HashMap<(usize, String), usize>,
    keys: Vec<Vec<Option<String>>>,
    samples: Vec<Vec<f64>>,
}

impl Samples {
    pub fn new(l: &Ledger, by: &[Field]) -> Result<Samples> {
        let fields: Vec<&Field> = by.iter().filter(|f| **f != Field::Class).collect();
        let mut exprs = vec!["w.id".to_string()];
        let mut params = Vec::new();
        for f in &fields {
            let (e, p) = sql(f);
            exprs.push(e.to_string());
            params.extend(p.map(Value::Text));
        }
        let mut stmt = l.conn.prepare(&format!("SELECT {} FROM workloads w", exprs.join(", ")))?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut s = Samples {
            class_at: by.iter().position(|f| *f == Field::Class),
            part_of: HashMap::new(),
            parts: Vec::new(),
            groups: HashMap::new(),
            keys: Vec::new(),
            samples: Vec::new(),
        };
        let mut part_ids: HashMap<Vec<Option<String>>, usize> = HashMap::new();
        while let Some(r) = rows.next()? {
            let key: Vec<Option<String>> =
                (1..=fields.len()).map(|i| r.get(i)).collect::<rusqlite::Result<_>>()?;
            let next = s.parts.len();
            let id = *part_ids.entry(key.clone()).or_insert_with(|| {
                s.parts.push(key);
                next
            });
            s.part_of.insert(r.get(0)?, id);
        }
        Ok(s)
    }

    /// The group of a workload's row of `class`, made at its first row.
    fn group(&mut self, workload: i64, class: String) -> Option<usize> {
        let part = *self.part_of.get(&workload)?;
        let next = self.keys.len();
        let (parts, keys, class_at) = (&self.parts, &mut self.keys, self.class_at);
        let g = *self.groups.entry((part, class)).or_insert_with_key(|(part, class)| {
            let mut key = parts[*part].clone();
            if let Some(at) = class_at {
                key.insert(at, Some(class.clone()));
            }
            keys.push(key);
            next
        });
        if g == self.samples.len() {
            self.samples.push(Vec::new());
        }
        Some(g)
    }

    /// The whole days' series: each group's sum per bucket, a sample per bucket it moved in.
    pub fn add_series(&mut self, l: &Ledger, q: &Sql<'_>, days: &[i64]) -> Result<()> {
        use super::series::{unpack, BUCKETS};
        let class = if self.class_at.is_some() { "s.class" } else { "''" };
        let mut stmt = l.conn.prepare_cached(&format!(
            "SELECT s.workload, {class}, s.bytes FROM series s
             WHERE s.day = ?1 AND s.source = ?2 AND (s.class <> '') = ?3
               AND (?4 = '[]' OR s.class IN (SELECT value FROM json_each(?4)))"
        ))?;
        let mut sums: HashMap<usize, Vec<u64>> = HashMap::new();
        for &day in days {
            let mut rows = stmt.query(rusqlite::params![day, q.source, q.classes, q.only])?;
            while let Some(r) = rows.next()? {
                let Some(g) = self.group(r.get(0)?, r.get(1)?) else { continue };
                let sum = sums.entry(g).or_insert_with(|| vec![0; BUCKETS]);
                let bytes = r.get_ref(2)?.as_blob()?;
                for (s, v) in sum.iter_mut().zip(unpack(bytes)) {
                    *s += v;
                }
            }
            for (g, sum) in sums.drain() {
                // Idle buckets are the zeros p95 adds.
                self.samples[g].extend(sum.into_iter().filter(|v| *v > 0).map(|v| v as f64 / 300.0));
            }
        }
        Ok(())
    }

    /// The 5-minute rows of `since..until`, streamed once in bucket order.
    pub fn add_rows(&mut self, l: &Ledger, q: &Sql<'_>, since: i64, until: i64) -> Result<()> {
        let class = if self.class_at.is_some() { ", u.class" } else { "" };
        let mut stmt = l.conn.prepare_cached(&format!(
            "SELECT u.workload, u.bucket, u.rx_bytes + u.tx_bytes{class} FROM usage u
             WHERE u.resolution = ? AND {FILTER} ORDER BY u.bucket"
        ))?;
        let mut rows =
            stmt.query(rusqlite::params_from_iter(q.filter(Resolution::FiveMinutes, since, until)))?;
        // This bucket's sum of each group it has rows of.
        let mut sums: HashMap<usize, u64> = HashMap::new();
        let mut bucket = None;
        while let Some(r) = rows.next()? {
            let b: i64 = r.get(1)?;
            if bucket != Some(b) {
                self.flush(&mut sums);
                bucket = Some(b);
            }
            let class: String = if self.class_at.is_some() { r.get(3)? } else { String::new() };
            let Some(g) = self.group(r.get(0)?, class) else { continue };
            *sums.entry(g).or_default() += r.get::<_, i64>(2)?.max(0) as u64;
        }
        self.flush(&mut sums);
        Ok(())
    }

    fn flush(&mut self, sums: &mut HashMap<usize, u64>) {
        for (g, sum) in sums.drain() {
            self.samples[g].push(sum as f64 / 300.0);
        }
    }

    pub fn finish(self) -> BTreeMap<Vec<Option<String>>, Vec<f64>> {
        self.keys.into_iter().zip(self.samples).collect()
    }
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
    let rank = ((n as f64 * 0.95).ceil() as usize).clamp(1, n);
    // The missing intervals are zeros below every sample (rates are never negative): not
    // made, only counted (a long period has millions).
    let zeros = n - samples.len();
    if rank <= zeros {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    samples[rank - zeros - 1]
}
