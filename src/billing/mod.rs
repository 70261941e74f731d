//! Bills: a report's bytes priced per destination class and direction (`report --prices`),
//! over a ledger or the fleet store. A line is a group, a class, a direction and a price's
//! stretch of the period: its bytes, their GiB, the unit price and the cost, rounded to the
//! cent once per line. Bytes no price covers are listed unpriced and counted, never dropped.
//! The same lines are written as FOCUS rows (`focus`) and CloudEvents (`events`).
mod bill;
pub mod events;
pub mod focus;
pub mod prices;

use std::collections::BTreeMap;
use std::io::{self, Write};

use anyhow::Result;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::ledger::query::{Ask, Field, Group, Period};
use crate::model::utc;
use crate::output::{self, Report};
pub use bill::{Bill, Line, PricesUsed};
use prices::{Direction, Prices};

/// Where the bytes come from: the groups of an ask (a ledger's or the fleet store's).
pub type Fetch<'a> = &'a dyn Fn(Ask<'_>) -> Result<Vec<Group>>;

/// A line's key: the group's values, class, direction, start of its stretch, unit price.
type Key = (Vec<Option<String>>, String, Direction, i64, Option<Decimal>);

/// A line's sums.
struct Sum {
    group: BTreeMap<String, Option<String>>,
    bytes: u64,
    packets: u64,
    end: i64,
}

const GIB: Decimal = Decimal::from_parts(1 << 30, 0, 0, false, 0);

/// What a bill asks for.
pub struct BillAsk<'a> {
    pub origin: String,
    pub source: String,
    pub period: Period,
    pub by: &'a [Field],
    pub classes: &'a [String],
    /// Shared workloads whose traffic is split across those they served (`--reallocate`).
    pub reallocate: &'a [String],
}

/// The bill of `ask` with `prices` (none: usage lines without prices, for CloudEvents).
pub fn build(fetch: Fetch<'_>, ask: BillAsk<'_>, prices: Option<&Prices>) -> Result<Bill> {
    let labels: Vec<Field> = prices
        .map(|p| p.label_keys())
        .unwrap_or_default()
        .into_iter()
        .map(Field::Label)
        .filter(|f| !ask.by.contains(f))
        .collect();
    let mut with_class: Vec<Field> = ask.by.to_vec();
    with_class.push(Field::Class);
    with_class.extend(labels.iter().cloned());
    let mut without: Vec<Field> = ask.by.to_vec();
    without.extend(labels.iter().cloned());
    // The class breakdown's rows where the data has them; else the totals, as class "*".
    let whole = Ask {
        period: ask.period,
        by: &with_class,
        classes: ask.classes,
        p95: false,
        reallocate: ask.reallocate,
    };
    let mut first = Some(fetch(whole)?);
    let by_class = first.as_ref().is_some_and(|g| !g.is_empty());
    let fields = if by_class { &with_class } else { &without };
    let mut cuts = vec![ask.period.since];
    cuts.extend(prices.map(|p| p.changes(ask.period.since, ask.period.until)).unwrap_or_default());
    cuts.push(ask.period.until);
    let mut sums: BTreeMap<Key, Sum> = BTreeMap::new();
    for w in cuts.windows(2) {
        let (start, end) = (w[0], w[1]);
        let period = Period { since: start, until: end };
        let classes = if by_class { ask.classes } else { &[] };
        // One price for the whole period: the class rows read above are the lines' rows.
        let groups = match first.take() {
            Some(g) if by_class && cuts.len() == 2 => g,
            _ => fetch(Ask { period, by: fields, classes, p95: false, reallocate: ask.reallocate })?,
        };
        for g in groups {
            add_group(&mut sums, &g, (start, end), &ask, &labels, by_class, prices);
        }
    }
    let mut lines: Vec<Line> = sums.into_iter().map(|(key, sum)| line(key, sum)).collect();
    lines.sort_by(|a, b| b.cost.cmp(&a.cost).then(b.bytes.cmp(&a.bytes)));
    Ok(Bill {
        schema: output::SCHEMA,
        ledger: ask.origin,
        source: ask.source,
        since: utc(ask.period.since),
        until: utc(ask.period.until),
        by: ask.by.iter().map(Field::label).collect(),
        currency: prices.map(|p| p.currency.clone()),
        prices: prices.map(|p| PricesUsed {
            path: p.path.clone(),
            version: p.version.clone(),
            sha256: p.sha256.clone(),
        }),
        total_cost: lines.iter().filter_map(|l| l.cost).sum(),
        unpriced_bytes: lines.iter().filter(|l| l.cost.is_none()).map(|l| l.bytes).sum(),
        lines,
    })
}

/// Adds group `g` of the stretch `(start, end)` to the lines' sums, a line per direction,
/// priced for its class and labels.
fn add_group(
    sums: &mut BTreeMap<Key, Sum>,
    g: &Group,
    (start, end): (i64, i64),
    ask: &BillAsk<'_>,
    labels: &[Field],
    by_class: bool,
    prices: Option<&Prices>,
) {
    let value = |f: &Field| g.group.get(&f.label()).cloned().flatten();
    let mut group: BTreeMap<String, Option<String>> = ask.by.iter().map(|f| (f.label(), value(f))).collect();
    // A group split from a shared workload (`--reallocate`) stays its own line.
    let from = crate::ledger::pairs::ALLOCATED_FROM;
    if let Some(v) = g.group.get(from) {
        group.insert(from.to_string(), v.clone());
    }
    let class =
        if by_class { g.group.get("class").cloned().flatten().unwrap_or_default() } else { "*".into() };
    let label_values: Vec<(String, Option<String>)> = labels
        .iter()
        .chain(ask.by.iter())
        .filter_map(|f| match f {
            Field::Label(k) => Some((k.clone(), value(f))),
            _ => None,
        })
        .collect();
    for (direction, bytes, packets) in
        [(Direction::Ingress, g.rx_bytes, g.rx_packets), (Direction::Egress, g.tx_bytes, g.tx_packets)]
    {
        if bytes == 0 {
            continue;
        }
        let price = prices.and_then(|p| p.price(&class, direction, start, &label_values)).map(|p| p.per_gib);
        let key = (group.values().cloned().collect(), class.clone(), direction, start, price);
        let e = sums.entry(key).or_insert_with(|| Sum { group: group.clone(), bytes: 0, packets: 0, end });
        e.bytes += bytes;
        e.packets += packets;
    }
}

/// A line from its key and sums: GiB to 9 places, the cost to the cent.
fn line((_, class, direction, start, price): Key, Sum { group, bytes, packets, end }: Sum) -> Line {
    let round = |d: Decimal, places| d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    Line {
        group,
        class,
        direction,
        charge_start: utc(start),
        charge_end: utc(end),
        bytes,
        packets,
        quantity_gib: round(Decimal::from(bytes) / GIB, 9),
        unit_price: price,
        cost: price.map(|p| round(Decimal::from(bytes) * p / GIB, 2)),
    }
}

impl Report for Bill {
    const ROWS: Option<&'static str> = Some("lines");

    fn render_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let prices =
            self.prices.as_ref().map(|p| format!(", prices {} ({})", p.version, p.path)).unwrap_or_default();
        writeln!(out, "{} to {}, source {}{prices}", self.since, self.until, self.source)?;
        let mut header: Vec<String> = self.by.iter().map(|b| b.to_uppercase()).collect();
        header.extend(
            ["CLASS", "DIRECTION", "FROM", "UNTIL", "BYTES", "GIB", "PER GIB", "COST"].map(String::from),
        );
        let n = header.len();
        let mut t = output::table(header);
        for l in &self.lines {
            let mut cells = output::group_cells(&self.by, &l.group);
            cells.extend([
                l.class.clone(),
                l.direction.name().into(),
                l.charge_start.clone(),
                l.charge_end.clone(),
                output::bytes(l.bytes),
                l.quantity_gib.round_dp(3).to_string(),
                l.unit_price.map_or_else(|| "-".into(), |p| p.to_string()),
                l.cost.map_or_else(|| "unpriced".into(), |c| c.to_string()),
            ]);
            output::add_row(&mut t, cells);
        }
        output::align_right(&mut t, &(n - 4..n).collect::<Vec<_>>());
        output::write_table(out, &t)?;
        let currency = self.currency.as_deref().unwrap_or("");
        writeln!(out, "total {} {currency}", self.total_cost)?;
        if self.unpriced_bytes > 0 {
            writeln!(
                out,
                "unpriced: {} (no price in the file covers them)",
                output::bytes(self.unpriced_bytes)
            )?;
        }
        Ok(())
    }

    fn csv(&self) -> Option<(Vec<String>, Vec<Vec<String>>)> {
        let mut header = self.by.clone();
        header.extend(
            [
                "class",
                "direction",
                "charge_start",
                "charge_end",
                "bytes",
                "packets",
                "quantity_gib",
                "unit_price",
                "cost",
            ]
            .map(String::from),
        );
        let rows = self
            .lines
            .iter()
            .map(|l| {
                let mut cells: Vec<String> =
                    self.by.iter().map(|b| l.group.get(b).cloned().flatten().unwrap_or_default()).collect();
                cells.extend([
                    l.class.clone(),
                    l.direction.name().into(),
                    l.charge_start.clone(),
                    l.charge_end.clone(),
                    l.bytes.to_string(),
                    l.packets.to_string(),
                    l.quantity_gib.to_string(),
                    l.unit_price.map(|p| p.to_string()).unwrap_or_default(),
                    l.cost.map(|c| c.to_string()).unwrap_or_default(),
                ]);
                cells
            })
            .collect();
        Some((header, rows))
    }

    fn focus(&self) -> Option<Result<output::Rows>> {
        Some(focus::rows(self))
    }

    fn cloudevents(&self) -> Option<Result<Vec<serde_json::Value>>> {
        Some(Ok(events::of(self)))
    }
}
