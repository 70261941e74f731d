//! What a bill is: its lines and what it was made with.
use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::prices::Direction;

/// The prices a bill was made with.
#[derive(Debug, Clone, Serialize)]
pub struct PricesUsed {
    pub path: String,
    pub version: String,
    pub sha256: String,
}

/// One line of a bill.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub group: BTreeMap<String, Option<String>>,
    /// The destination class, or "*" where the data has no class breakdown.
    pub class: String,
    pub direction: Direction,
    pub charge_start: String,
    pub charge_end: String,
    pub bytes: u64,
    pub packets: u64,
    /// bytes / 2^30, to 9 decimal places.
    pub quantity_gib: Decimal,
    /// Per GiB; null where no price covers the line.
    pub unit_price: Option<Decimal>,
    /// bytes x unit price / 2^30, to the cent; null where unpriced.
    pub cost: Option<Decimal>,
}

/// A bill: `report --prices`.
#[derive(Debug, Serialize)]
pub struct Bill {
    pub schema: u32,
    /// The ledger file or the fleet store the bytes come from.
    pub ledger: String,
    pub source: String,
    pub since: String,
    pub until: String,
    pub by: Vec<String>,
    pub currency: Option<String>,
    pub prices: Option<PricesUsed>,
    pub lines: Vec<Line>,
    /// The sum of the lines' costs.
    pub total_cost: Decimal,
    /// Bytes of lines no price covers.
    pub unpriced_bytes: u64,
}
