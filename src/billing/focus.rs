//! A bill as FOCUS rows (the FinOps Open Cost and Usage Specification, 1.0 column names,
//! and 1.3's allocation columns for lines `--reallocate` split from a shared workload):
//! one row per line, written as CSV. Costs are the bill's (list, contracted, effective and
//! billed alike: netattr knows no discounts), quantities in GiB; netattr's own columns start
//! with `x_`. Every row must have a cost: unpriced bytes are refused, with the price to add.
use anyhow::{bail, Result};

use super::bill::Bill;

/// The columns, in order.
pub const COLUMNS: [&str; 49] = [
    "AllocatedMethodDetails",
    "AllocatedMethodId",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_Bytes",
    "x_Class",
    "x_Direction",
    "x_Node",
    "x_Packets",
    "x_PricesVersion",
    "x_Source",
];

/// The bill's lines as FOCUS rows: (header, rows).
pub fn rows(bill: &Bill) -> Result<crate::output::Rows> {
    let (Some(currency), Some(prices)) = (&bill.currency, &bill.prices) else {
        bail!("--format focus writes costs: pass --prices FILE")
    };
    if let Some(l) = bill.lines.iter().find(|l| l.cost.is_none()) {
        bail!(
            "{} B of class '{}', {} have no price in {}: add one (class \"{}\" or \"*\", direction \"{}\") for a FOCUS file",
            bill.unpriced_bytes,
            l.class,
            l.direction.name(),
            prices.path,
            l.class,
            l.direction.name()
        );
    }
    let account = format!("netattr:{}", bill.ledger);
    let mut out = Vec::new();
    for l in &bill.lines {
        let field = |k: &str| l.group.get(k).cloned().flatten();
        let described: Vec<String> =
            l.group.iter().map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("(none)"))).collect();
        let resource = if described.is_empty() { "all".to_string() } else { described.join(";") };
        let name = field("name").or_else(|| field("pod")).unwrap_or_else(|| resource.clone());
        let tenant = field("pod_namespace").unwrap_or_else(|| resource.clone());
        let zone = field("zone").unwrap_or_default();
        let cost = l.cost.unwrap_or_default().to_string();
        let price = l.unit_price.unwrap_or_default().to_string();
        let quantity = l.quantity_gib.to_string();
        let verb = match l.direction {
            super::prices::Direction::Egress => "sent to",
            super::prices::Direction::Ingress => "received from",
        };
        // A line split from a shared workload (`--reallocate`): how, and from whom.
        let from = field(crate::ledger::pairs::ALLOCATED_FROM);
        let (method, details) = match &from {
            Some(s) => (
                crate::model::pairs::REALLOCATION_METHOD.to_string(),
                format!("{s}'s traffic with peers other than workloads, split across the workloads it served in proportion to the bytes each exchanged with it (rx + tx over the period), by largest remainder"),
            ),
            None => (String::new(), String::new()),
        };
        let from = from.unwrap_or_default();
        let row = [
            details,
            method,
            from.clone(),
            from,
            zone.clone(),
            cost.clone(),
            account.clone(),
            account.clone(),
            currency.clone(),
            bill.until.clone(),
            bill.since.clone(),
            "Usage".into(),
            String::new(),
            format!(
                "{} GiB {verb} class {} by {resource} at {price} {currency}/GiB",
                l.quantity_gib, l.class
            ),
            "Usage-Based".into(),
            l.charge_end.clone(),
            l.charge_start.clone(),
            quantity.clone(),
            "GiB".into(),
            cost.clone(),
            price.clone(),
            cost.clone(),
            "netattr".into(),
            cost.clone(),
            price.clone(),
            "Standard".into(),
            quantity,
            "GiB".into(),
            "netattr".into(),
            "netattr".into(),
            zone.clone(),
            zone,
            resource.clone(),
            name,
            "Workload".into(),
            "Networking".into(),
            "Data Transfer".into(),
            format!("netattr/{}/{}", l.class, l.direction.name()),
            format!("{}/{}/{}", prices.version, l.class, l.direction.name()),
            tenant.clone(),
            tenant,
            serde_json::to_string(&l.group)?,
            l.bytes.to_string(),
            l.class.clone(),
            l.direction.name().into(),
            field("node").unwrap_or_default(),
            l.packets.to_string(),
            prices.version.clone(),
            bill.source.clone(),
        ];
        out.push(row.to_vec());
    }
    Ok((COLUMNS.map(String::from).to_vec(), out))
}
