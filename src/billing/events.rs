//! A bill as CloudEvents (1.0, structured JSON, one per line): one event per line, with a
//! deterministic `id` (a hash of where the bytes come from, the group, class, direction and
//! charge period), so that a usage-metering service that deduplicates by id (OpenMeter and
//! the like) takes each figure once however often the same period is sent.
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::bill::Bill;

/// The event type.
pub const TYPE: &str = "io.netattr.network.usage";

/// The bill's lines as CloudEvents.
pub fn of(bill: &Bill) -> Vec<Value> {
    let source = format!("netattr:{}", bill.ledger);
    bill.lines
        .iter()
        .map(|l| {
            let group = serde_json::to_string(&l.group).unwrap_or_default();
            let key = [
                source.as_str(),
                bill.source.as_str(),
                &group,
                &l.class,
                l.direction.name(),
                &l.charge_start,
                &l.charge_end,
            ]
            .join("\u{1f}");
            let id: String =
                Sha256::digest(key.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
            let subject: Vec<String> =
                l.group.iter().map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or(""))).collect();
            json!({
                "specversion": "1.0",
                "type": TYPE,
                "source": source,
                "id": id,
                "time": l.charge_end,
                "subject": if subject.is_empty() { "all".to_string() } else { subject.join(";") },
                "datacontenttype": "application/json",
                "data": {
                    "group": l.group,
                    "class": l.class,
                    "direction": l.direction.name(),
                    "source": bill.source,
                    "charge_start": l.charge_start,
                    "charge_end": l.charge_end,
                    "bytes": l.bytes,
                    "packets": l.packets,
                    "quantity_gib": l.quantity_gib.to_string(),
                    "unit_price": l.unit_price.map(|p| p.to_string()),
                    "cost": l.cost.map(|c| c.to_string()),
                    "currency": bill.currency,
                    "prices_version": bill.prices.as_ref().map(|p| p.version.clone()),
                }
            })
        })
        .collect()
}
