//! The SQL pieces the ledger's reports share: a grouping field as an expression, the filter of
//! the usage rows a report reads, and the parameters of one report's statements.
use anyhow::Result;
use rusqlite::types::Value;

use super::Resolution;
use crate::model::Field;

/// The SQL expression of a grouping field, and its parameter (a label's JSON path).
pub(super) fn sql(f: &Field) -> (&'static str, Option<String>) {
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
        // The pair table's: its own query (super::pairs).
        Field::Peer | Field::PeerNamespace => ("NULL", None),
    }
}

/// Which usage rows a query reads: the bucket range of a resolution, the source, totals or
/// class rows, and the classes picked (none: all).
pub(super) const FILTER: &str = "u.bucket >= ? AND u.bucket < ? AND u.source = ? AND (u.class <> '') = ?
                      AND (? = '[]' OR u.class IN (SELECT value FROM json_each(?)))";

/// The parts of a query that every statement of one `Ask` shares.
pub(super) struct Sql<'a> {
    /// The grouping expressions, joined.
    pub keys: String,
    /// Their parameters (label paths).
    pub key_params: Vec<Value>,
    pub source: &'a str,
    /// The class breakdown's rows where grouped or picked by class, else the totals.
    pub classes: bool,
    /// The classes picked, as a JSON array.
    pub only: String,
}

impl<'a> Sql<'a> {
    pub fn new(by: &[Field], picked: &[String], source: &'a str) -> Result<Sql<'a>> {
        let (mut exprs, mut key_params): (Vec<&str>, Vec<Value>) = (Vec::new(), Vec::new());
        for f in by {
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
            classes: by.contains(&Field::Class) || !picked.is_empty(),
            only: serde_json::to_string(picked)?,
        })
    }

    /// The parameters of one `(u.resolution = ? AND FILTER)`.
    pub fn filter(&self, res: Resolution, since: i64, until: i64) -> Vec<Value> {
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
    pub fn around(&self, filters: Vec<Value>) -> Vec<Value> {
        let mut all = self.key_params.clone();
        all.extend(filters);
        all.extend(self.key_params.iter().cloned());
        all
    }
}
