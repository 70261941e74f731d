//! Which source covers which part of a report's period. Sources are never added together,
//! so a report reads one; where the other covers time the one read does not (socket
//! programs attached after tc counted for a while), the report says so.
use anyhow::Result;
use serde::Serialize;

use super::marks::{self, Marks};
use super::query::Period;
use super::Ledger;
use crate::model::utc;

/// The part of the period a source has rows in: from the start of its first bucket there
/// to the end of its last.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Coverage {
    pub source: String,
    pub first: String,
    pub until: String,
    #[serde(skip)]
    span: (i64, i64),
}

/// Each source's part of `period`, socket first: from the first to the last read that had
/// its rows, as the recorder noted them (schema 6), else from its first bucket with rows
/// to the end of its last.
pub fn of(l: &Ledger, period: Period) -> Result<Vec<Coverage>> {
    let recorded = recorded(l, period)?;
    let mut spans = buckets(l, period)?;
    for (source, first, until) in &mut spans {
        if let Some((_, f, u)) = recorded.iter().find(|r| r.0 == *source) {
            (*first, *until) = (*f, *u);
        }
    }
    for r in recorded {
        if !spans.iter().any(|s| s.0 == r.0) {
            spans.push(r);
        }
    }
    spans.sort_by_key(|s| s.0 != "socket");
    Ok(spans
        .into_iter()
        .map(|(source, first, until)| Coverage {
            source,
            first: utc(first),
            until: utc(until),
            span: (first, until),
        })
        .collect())
}

/// (source, first, last) of the reads that had the source's rows, within `period`.
fn recorded(l: &Ledger, period: Period) -> Result<Vec<(String, i64, i64)>> {
    if super::schema::version(&l.conn)? < 6 {
        return Ok(Vec::new());
    }
    let mut q = l.conn.prepare(
        "SELECT source, max(min(first), ?1), min(max(last), ?2 - 1) FROM coverage
         WHERE last >= ?1 AND first < ?2 GROUP BY source",
    )?;
    let rows = q.query_map(rusqlite::params![period.since, period.until], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// (source, start of its first bucket, end of its last) of the usage rows in `period`.
fn buckets(l: &Ledger, period: Period) -> Result<Vec<(String, i64, i64)>> {
    let marks = Marks::read(&l.conn)?;
    let mut spans: Vec<(String, i64, i64)> = Vec::new();
    let mut q = l.conn.prepare(
        "SELECT source, min(bucket), max(bucket) FROM usage
         WHERE resolution = ?1 AND bucket >= ?2 AND bucket < ?3 AND class = '' GROUP BY source",
    )?;
    for (res, since, until) in marks::pieces(period.since, period.until, &marks) {
        let rows = q.query_map(rusqlite::params![res.name(), since, until], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })?;
        for row in rows {
            let (source, first, last) = row?;
            let end = res.end(last);
            match spans.iter_mut().find(|s| s.0 == source) {
                Some(s) => *s = (source, s.1.min(first), s.2.max(end)),
                None => spans.push((source, first, end)),
            }
        }
    }
    Ok(spans)
}

/// The source a report reads when not told: socket where it has rows in the period, else
/// tc; in a period without rows, the source the ledger records (socket where it has any).
pub fn choose(l: &Ledger, covered: &[Coverage]) -> Result<String> {
    if let Some(c) = covered.first() {
        return Ok(c.source.clone());
    }
    let tc_only: bool = l.conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM usage WHERE source = 'socket')
            AND EXISTS (SELECT 1 FROM usage WHERE source = 'tc')",
        [],
        |r| r.get(0),
    )?;
    Ok(if tc_only { "tc" } else { "socket" }.into())
}

/// What the report of `source` leaves out: the parts of the period only another source
/// covers, in one line (None when it leaves nothing out).
pub fn left_out(source: &str, covered: &[Coverage]) -> Option<String> {
    let read = covered.iter().find(|c| c.source == source);
    let other = covered.iter().find(|c| c.source != source)?;
    let misses = match read {
        None => true,
        Some(r) => other.span.0 < r.span.0 || other.span.1 > r.span.1,
    };
    if !misses {
        return None;
    }
    let has = match read {
        Some(r) => format!("source {source} covers {} to {}", r.first, r.until),
        None => format!("source {source} has no rows in the period"),
    };
    Some(format!(
        "{has}; source {o} covers {} to {}: what only {o} counted is not in this report \
         (pass --source {o} for it; sources are never added)",
        other.first,
        other.until,
        o = other.source
    ))
}
