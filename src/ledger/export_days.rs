//! What a fleet store has of this ledger's rolled-up days: each day's sums and 5-minute
//! profile of a workload (`series`, with the day's row of `usage`), and which days are whole
//! (`series_days`), read in the order of the versions that wrote them, each cursor of
//! `exports` moved only once the store acknowledged. A round sends rows up to one version
//! (`last_version`, read before it starts): a day's marker comes after its series (its
//! version is the higher), so the store never has a day marked whole before it has the day.
use anyhow::Result;
use rusqlite::params;

use super::series::unpack;
use super::Ledger;

/// The last series row a store acknowledged: (version, day, workload id, source, class).
pub type SeriesKey = (i64, i64, i64, String, String);

/// One day of a workload as the store receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    pub identity: String,
    pub day: i64,
    pub source: String,
    pub class: String,
    /// rx, tx bytes, rx, tx packets: the day's row of `usage`.
    pub sums: [u64; 4],
    pub series: Vec<u64>,
    pub version: i64,
}

/// Days not acknowledged yet, with the cursor acknowledging them moves to.
#[derive(Debug, Default)]
pub struct DaysBatch {
    pub rows: Vec<DayRow>,
    from: String,
    to: String,
}

/// Days whose marker a store has not acknowledged: (day, what is whole (series::WHOLE,
/// series::PEERS_WHOLE; 0: not whole), version).
#[derive(Debug, Default)]
pub struct Markers {
    pub days: Vec<(i64, u8, i64)>,
    from: i64,
}

impl Ledger {
    /// The last version handed out: a round sends nothing above it.
    pub fn last_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT version FROM versions WHERE id = 1", [], |r| r.get(0))?)
    }

    /// The next days for `destination` up to version `upto`: at most `max` series rows.
    pub fn pending_days(&self, destination: &str, upto: i64, max: usize) -> Result<DaysBatch> {
        let from: String = self.conn.query_row(
            "SELECT series_after FROM exports WHERE destination = ?1",
            params![destination],
            |r| r.get(0),
        )?;
        let (v, d, w, s, c): SeriesKey = serde_json::from_str(&from)?;
        let mut q = self.conn.prepare_cached(
            "SELECT s.version, s.day, s.workload, s.source, s.class, w.identity, s.bytes,
                    coalesce(u.rx_bytes, 0), coalesce(u.tx_bytes, 0), coalesce(u.rx_packets, 0), coalesce(u.tx_packets, 0)
             FROM series s INDEXED BY series_by_version JOIN workloads w ON w.id = s.workload
             LEFT JOIN usage u ON u.resolution = 'day' AND u.bucket = s.day AND u.workload = s.workload
               AND u.source = s.source AND u.class = s.class
             WHERE (s.version, s.day, s.workload, s.source, s.class) > (?1, ?2, ?3, ?4, ?5) AND s.version <= ?6
             ORDER BY s.version, s.day, s.workload, s.source, s.class LIMIT ?7",
        )?;
        let mut rows = q.query(params![v, d, w, s, c, upto, max as i64])?;
        let mut batch = DaysBatch { to: from.clone(), from, rows: Vec::new() };
        while let Some(r) = rows.next()? {
            let key: SeriesKey = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
            batch.rows.push(DayRow {
                identity: r.get(5)?,
                day: key.1,
                source: key.3.clone(),
                class: key.4.clone(),
                sums: [n(7)?, n(8)?, n(9)?, n(10)?],
                series: unpack(r.get_ref(6)?.as_blob()?).collect(),
                version: key.0,
            });
            batch.to = serde_json::to_string(&key)?;
        }
        Ok(batch)
    }

    /// Moves `destination`'s series cursor past `batch` (unless another exporter did).
    pub fn acknowledge_days(&self, destination: &str, batch: &DaysBatch) -> Result<()> {
        self.conn.execute(
            "UPDATE exports SET series_after = ?2 WHERE destination = ?1 AND series_after = ?3",
            params![destination, batch.to, batch.from],
        )?;
        Ok(())
    }

    /// The day markers `destination` has not acknowledged, up to version `upto`.
    pub fn pending_markers(&self, destination: &str, upto: i64) -> Result<Markers> {
        let from: i64 = self.conn.query_row(
            "SELECT days_after FROM exports WHERE destination = ?1",
            params![destination],
            |r| r.get(0),
        )?;
        let mut q = self.conn.prepare_cached(
            "SELECT day, whole, version FROM series_days WHERE version > ?1 AND version <= ?2 ORDER BY version",
        )?;
        let days = q
            .query_map(params![from, upto], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)?.clamp(0, 255) as u8, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Markers { days, from })
    }

    /// Moves `destination`'s marker cursor past `markers`.
    pub fn acknowledge_markers(&self, destination: &str, markers: &Markers) -> Result<()> {
        let Some(last) = markers.days.iter().map(|d| d.2).max() else { return Ok(()) };
        self.conn.execute(
            "UPDATE exports SET days_after = ?2 WHERE destination = ?1 AND days_after = ?3",
            params![destination, last, markers.from],
        )?;
        Ok(())
    }
}
