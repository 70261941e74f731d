//! A prices file: what a GiB costs, per destination class and direction, in one currency,
//! each price valid for a period, with overrides for workloads carrying a label value (a
//! tenant's contract). Prices are data, not code: a bill names the file's version and
//! SHA-256, so that last month's bill can be made again.
//!
//! ```toml
//! version = "2026-11"
//! currency = "EUR"
//! [[price]]
//! class = "internet"        # a destination class, or "*" for any (and for totals)
//! direction = "egress"      # egress (sent, tx) or ingress (received, rx)
//! per_gib = 0.09
//! from = "2026-11-01"       # optional, inclusive; until: optional, exclusive
//! [[price]]
//! label = "team=shop"       # an override for the workloads with this label value
//! class = "internet"
//! direction = "egress"
//! per_gib = 0.05
//! ```
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result};
use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::model::parse_time;

/// Which way bytes went, as clouds price them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Received by the workload (rx).
    Ingress,
    /// Sent by the workload (tx).
    Egress,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: String,
    currency: String,
    #[serde(default)]
    price: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    class: String,
    direction: String,
    per_gib: toml::Value,
    label: Option<String>,
    from: Option<String>,
    until: Option<String>,
}

/// One price.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// A class, or "*" for any.
    pub class: String,
    pub direction: Direction,
    pub per_gib: Decimal,
    /// (label key, value) of an override.
    pub label: Option<(String, String)>,
    /// Valid from (inclusive) and until (exclusive), unix seconds.
    pub from: i64,
    pub until: i64,
}

/// A prices file, read and checked.
#[derive(Debug, Clone)]
pub struct Prices {
    pub path: String,
    pub version: String,
    pub currency: String,
    pub sha256: String,
    pub prices: Vec<Price>,
}

impl Prices {
    pub fn read(path: &Path) -> Result<Prices> {
        let text =
            std::fs::read(path).with_context(|| format!("cannot read prices file {}", path.display()))?;
        let sha256 = Sha256::digest(&text).iter().map(|b| format!("{b:02x}")).collect();
        let text = String::from_utf8(text)
            .with_context(|| format!("prices file {} is not UTF-8", path.display()))?;
        Prices::parse(&text, path, sha256)
    }

    fn parse(text: &str, path: &Path, sha256: String) -> Result<Prices> {
        let bad = |what: String| anyhow::anyhow!("prices file {}: {what}", path.display());
        let file: File = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        if file.currency.len() != 3 || !file.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(bad(format!(
                "currency '{}' is not an ISO 4217 code such as EUR or USD",
                file.currency
            )));
        }
        let mut prices = Vec::new();
        for (i, e) in file.price.iter().enumerate() {
            let at = |what: String| bad(format!("price {}: {what}", i + 1));
            let direction = match e.direction.as_str() {
                "egress" | "tx" => Direction::Egress,
                "ingress" | "rx" => Direction::Ingress,
                d => return Err(at(format!("direction '{d}' is not egress or ingress"))),
            };
            let per_gib = match &e.per_gib {
                toml::Value::Float(f) => Decimal::from_str(&f.to_string()).ok(),
                toml::Value::Integer(n) => Some(Decimal::from(*n)),
                toml::Value::String(s) => Decimal::from_str(s).ok(),
                _ => None,
            };
            let per_gib = match per_gib {
                Some(p) if p >= Decimal::ZERO => p,
                _ => return Err(at(format!("per_gib {} is not a price (a number, 0 or more)", e.per_gib))),
            };
            let label = match &e.label {
                None => None,
                Some(l) => match l.split_once('=') {
                    Some((k, v)) if !k.is_empty() => Some((k.to_string(), v.to_string())),
                    _ => return Err(at(format!("label '{l}' is not KEY=VALUE"))),
                },
            };
            let time = |t: &Option<String>, default: i64, what: &str| -> Result<i64> {
                let Some(t) = t else { return Ok(default) };
                let v = parse_time(t).map_err(|e| at(format!("{what}: {e}")))?;
                if v % 300 != 0 {
                    return Err(at(format!(
                        "{what} '{t}' is not on a 5-minute boundary (the ledger's buckets)"
                    )));
                }
                Ok(v)
            };
            let (from, until) = (time(&e.from, i64::MIN, "from")?, time(&e.until, i64::MAX, "until")?);
            if until <= from {
                return Err(at("'until' is not after 'from'".into()));
            }
            prices.push(Price { class: e.class.clone(), direction, per_gib, label, from, until });
        }
        for (i, a) in prices.iter().enumerate() {
            for b in &prices[i + 1..] {
                let same = a.class == b.class && a.direction == b.direction && a.label == b.label;
                if same && a.from < b.until && b.from < a.until {
                    return Err(bad(format!(
                        "two prices for class '{}', {}{} overlap in time: give each its own from/until",
                        a.class,
                        a.direction.name(),
                        a.label.as_ref().map(|(k, v)| format!(", label {k}={v}")).unwrap_or_default()
                    )));
                }
            }
        }
        Ok(Prices {
            path: path.display().to_string(),
            version: file.version,
            currency: file.currency,
            sha256,
            prices,
        })
    }

    /// The label keys the overrides look at.
    pub fn label_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> =
            self.prices.iter().filter_map(|p| p.label.as_ref().map(|l| l.0.clone())).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The times within (since, until) where a price starts or ends.
    pub fn changes(&self, since: i64, until: i64) -> Vec<i64> {
        let mut at: Vec<i64> =
            self.prices.iter().flat_map(|p| [p.from, p.until]).filter(|t| *t > since && *t < until).collect();
        at.sort_unstable();
        at.dedup();
        at
    }

    /// The price of a GiB of `class` in `direction` at `at` for a workload with `labels`
    /// (key, value): an override for one of its labels first, then the class's own price,
    /// then any class's ("*").
    pub fn price(
        &self,
        class: &str,
        direction: Direction,
        at: i64,
        labels: &[(String, Option<String>)],
    ) -> Option<&Price> {
        let valid = |p: &&Price| p.direction == direction && p.from <= at && at < p.until;
        let label_ok = |p: &Price| match &p.label {
            None => true,
            Some((k, v)) => labels.iter().any(|(lk, lv)| lk == k && lv.as_deref() == Some(v.as_str())),
        };
        let rank = |p: &Price| (p.label.is_some(), p.class == class);
        self.prices
            .iter()
            .filter(valid)
            .filter(|p| (p.class == class || p.class == "*") && label_ok(p))
            .max_by_key(|p| rank(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Prices> {
        Prices::parse(text, Path::new("p.toml"), String::new())
    }

    #[test]
    fn the_most_specific_valid_price_applies_and_bad_files_are_refused() {
        let p = parse(
            r#"version = "v1"
currency = "EUR"
[[price]]
class = "*"
direction = "egress"
per_gib = 0.01
[[price]]
class = "internet"
direction = "egress"
per_gib = 0.09
until = "2026-11-15"
[[price]]
class = "internet"
direction = "egress"
per_gib = "0.08"
from = "2026-11-15"
[[price]]
label = "team=shop"
class = "internet"
direction = "egress"
per_gib = 0.05
"#,
        )
        .unwrap();
        let nov10 = parse_time("2026-11-10").unwrap();
        let nov20 = parse_time("2026-11-20").unwrap();
        let none: Vec<(String, Option<String>)> = vec![];
        let shop = vec![("team".to_string(), Some("shop".to_string()))];
        let price = |class, at, labels: &[(String, Option<String>)]| {
            p.price(class, Direction::Egress, at, labels).map(|p| p.per_gib.to_string())
        };
        assert_eq!(price("internet", nov10, &none).as_deref(), Some("0.09"));
        assert_eq!(price("internet", nov20, &none).as_deref(), Some("0.08"));
        assert_eq!(price("internet", nov20, &shop).as_deref(), Some("0.05"));
        assert_eq!(price("private", nov20, &shop).as_deref(), Some("0.01"));
        assert!(p.price("internet", Direction::Ingress, nov10, &none).is_none());
        assert_eq!(p.changes(nov10, nov20), vec![parse_time("2026-11-15").unwrap()]);
        for (bad, why) in [
            ("version = \"v\"\ncurrency = \"euro\"\n", "ISO 4217"),
            ("version = \"v\"\ncurrency = \"EUR\"\n[[price]]\nclass = \"*\"\ndirection = \"up\"\nper_gib = 1\n", "not egress or ingress"),
            ("version = \"v\"\ncurrency = \"EUR\"\n[[price]]\nclass = \"*\"\ndirection = \"tx\"\nper_gib = -1\n", "is not a price"),
            ("version = \"v\"\ncurrency = \"EUR\"\n[[price]]\nclass = \"*\"\ndirection = \"tx\"\nper_gib = 1\nfrom = \"2026-11-01T00:01:00Z\"\n", "5-minute boundary"),
            ("version = \"v\"\ncurrency = \"EUR\"\n[[price]]\nclass = \"*\"\ndirection = \"tx\"\nper_gib = 1\n[[price]]\nclass = \"*\"\ndirection = \"egress\"\nper_gib = 2\n", "overlap"),
            ("version = \"v\"\ncurrency = \"EUR\"\nextra = 1\n", "unknown field"),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
