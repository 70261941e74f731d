//! Time and amounts as people write them: a report's period, named or from times with
//! their zone, the calendar, UTC times, byte amounts (checked where clap declares the
//! options that take them).
use anyhow::{bail, Result};
use serde::Serialize;

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

/// A time as `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DDTHH:MM[:SS]` with `Z` or an offset
/// such as `+01:00` (UTC when neither), or unix seconds. A day a month does not have is
/// refused, not carried into the next month.
pub fn parse_time(s: &str) -> Result<i64> {
    let bad = || {
        anyhow::anyhow!(
            "'{s}' is not a time between 1970 and 9999: write YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] followed by Z or an offset such as +01:00, or unix seconds"
        )
    };
    if let Ok(n) = s.parse::<i64>() {
        return if (0..=LAST_TIME).contains(&n) { Ok(n) } else { Err(bad()) };
    }
    let (date, rest) = s.split_once('T').unwrap_or((s, "00:00:00Z"));
    let (time, offset) = match rest.strip_suffix('Z') {
        Some(t) => (t, 0),
        None => match rest.rfind(['+', '-']) {
            Some(at) => {
                let (t, o) = rest.split_at(at);
                let (hh, mm) = o[1..].split_once(':').ok_or_else(bad)?;
                let (hh, mm): (i64, i64) = (hh.parse().map_err(|_| bad())?, mm.parse().map_err(|_| bad())?);
                if hh > 23 || mm > 59 || o.len() != 6 {
                    return Err(bad());
                }
                (t, if o.starts_with('-') { -1 } else { 1 } * (hh * 3600 + mm * 60))
            }
            None => (rest, 0),
        },
    };
    let d: Vec<i64> = date.split('-').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    let t: Vec<i64> = time.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    let [y, m, day] = d[..] else { return Err(bad()) };
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || t.len() < 2 || t.len() > 3 {
        return Err(bad());
    }
    let (y2, m2) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let month_days = days_from_civil(y2, m2 as u32, 1) - days_from_civil(y, m as u32, 1);
    if !(1..=month_days).contains(&day) {
        bail!("'{s}': {y:04}-{m:02} has {month_days} days");
    }
    let (h, min, sec) = (t[0], t[1], t.get(2).copied().unwrap_or(0));
    if !(0..24).contains(&h) || !(0..60).contains(&min) || !(0..60).contains(&sec) {
        return Err(bad());
    }
    let at = days_from_civil(y, m as u32, day as u32) * 86_400 + h * 3600 + min * 60 + sec - offset;
    if (0..=LAST_TIME).contains(&at) {
        Ok(at)
    } else {
        Err(bad())
    }
}

/// A byte amount such as `500GiB`, `2TB`, `1.5GB`, `1048576`: exact for whole numbers, up
/// to what a counter holds (2^64 - 1).
pub fn parse_bytes(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => bail!("'{s}' has an unknown unit: use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"),
    };
    let too_many = || anyhow::anyhow!("'{s}' is more bytes than a counter holds (at most {})", u64::MAX);
    let bytes: u128 = if let Ok(n) = num.parse::<u128>() {
        n.checked_mul(u128::from(mult)).ok_or_else(too_many)?
    } else {
        let n: f64 = num
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && !num.is_empty())
            .ok_or_else(|| anyhow::anyhow!("'{s}' is not an amount of bytes (e.g. 500GiB, 2TB)"))?;
        let b = n * mult as f64;
        if b >= u64::MAX as f64 {
            return Err(too_many());
        }
        b.round() as u128
    };
    u64::try_from(bytes).map_err(|_| too_many())
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

/// The wall clock in unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc(t: i64) -> String {
    let (y, m, d) = civil(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}
