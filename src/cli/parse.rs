//! Value parsers of the options, used where clap declares them: a bad value is refused
//! before anything runs.

/// Seconds between 0.01 and a day.
pub fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.01..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds between 0.01 and 86400")),
    }
}

/// `--limit`'s value: an amount of bytes, checked where it is declared.
pub fn bytes_arg(s: &str) -> Result<u64, String> {
    crate::model::parse_bytes(s).map_err(|e| e.to_string())
}

/// A grouping field of one node's rows (`stats --group`): node and zone are the fleet
/// store's.
pub fn group_field(s: &str) -> Result<crate::model::Field, String> {
    match crate::model::Field::parse(s).map_err(|e| e.to_string())? {
        f if f.fleet_only() => Err(format!(
            "'{s}' groups the fleet store's rows: 'netattr report --from clickhouse://HOST:8123/DB --by {s}'"
        )),
        f => Ok(f),
    }
}

/// A grouping field of a report (`report --by`); node and zone need `--from`.
pub fn report_field(s: &str) -> Result<crate::model::Field, String> {
    crate::model::Field::parse(s).map_err(|e| e.to_string())
}

/// A time (`--since`, `--until`).
pub fn time_arg(s: &str) -> Result<i64, String> {
    crate::model::parse_time(s).map_err(|e| e.to_string())
}

/// `--labels`: label keys, or * for all.
pub fn label_keys(s: &str) -> Result<crate::model::LabelKeys, String> {
    crate::model::LabelKeys::parse(s)
}
