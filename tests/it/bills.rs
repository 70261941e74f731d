//! Bills on real traffic: `report --prices` over a node's ledger and over the fleet store
//! (a real ClickHouse), costs equal to bytes x price to the cent, computed here by hand, with
//! two classes, two directions and a price change inside the period; the FOCUS rows checked
//! against the specification's columns and values; CloudEvents ids stable across runs.
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::harness::*;

/// Cents per GiB: egress to class a (before and after the change), to class b, to any other
/// class; ingress from any class.
const A_BEFORE: u128 = 9;
const A_AFTER: u128 = 7;
const B_EGRESS: u128 = 20;
const OTHER_EGRESS: u128 = 2;
const INGRESS: u128 = 1;

/// The cost of `bytes` at `cents` per GiB, in cents, rounded half away from zero.
fn cents(bytes: u64, cents: u128) -> u128 {
    (u128::from(bytes) * cents * 2 + (1 << 30)) / (1 << 31)
}

fn money(c: u128) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// `report --prices` (and `args`) over a ledger or, with `from`, a store, as JSON.
fn bill(n: &Node, prices: &std::path::Path, from: Option<(&ClickHouse, &str)>, args: &[&str]) -> Run {
    let mut all: Vec<String> = vec!["report".into(), "--prices".into(), prices.display().to_string()];
    match from {
        Some((ch, url)) => all
            .extend(["--from", url, "--password-file", ch.password_file.to_str().unwrap()].map(String::from)),
        None => all.extend(["--ledger".to_string(), n.ledger.display().to_string()]),
    }
    all.extend(args.iter().map(|s| s.to_string()));
    run_cmd(std::process::Command::new(BIN).args(&all))
}

#[test]
fn a_bill_is_bytes_times_price_to_the_cent_and_focus_and_cloudevents_carry_it() {
    // Two classes of the test's own, on loopback.
    let Some(s) = scene(0, false) else { return };
    let Some(ch) = ClickHouse::start() else { return };
    let dir = TempDir::new();
    let k = 100 + (uniq() % 50) * 2;
    let classes = dir.join("classes.toml");
    std::fs::write(
        &classes,
        format!("[classes]\nbill-a = [\"127.{k}.0.0/16\"]\nbill-b = [\"127.{}.0.0/16\"]\n", k + 1),
    )
    .unwrap();
    s.na.run(&["load", "--breakdown", "class", "--classes", classes.to_str().unwrap()]).ok();
    s.na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let n = Node { s, ledger: dir.join("ledger.db"), name: "a".into(), _dir: TempDir::new() };
    let send = |to: &str, dst: &str, bytes: u64| {
        let (from, to) = (n.s.tree.cgroup("shop.slice/web.service"), n.s.tree.cgroup(to));
        let dst = format!("{dst}:{}", free_port());
        let r = Peer::spawn(&to, None, &format!("tcp-recv {dst}")).ready();
        Peer::spawn(&from, None, &format!("tcp-send {dst} {bytes}")).finish();
        r.finish();
    };
    let b1 = (unix_now() / 300 + 30) * 300;
    send("shop.slice/db.service", &format!("127.{k}.0.1"), 1_500_000_000);
    send("blog.slice/app.service", &format!("127.{}.0.1", k + 1), 700_000_000);
    n.record_at(b1 + 100);
    send("shop.slice/db.service", &format!("127.{k}.0.1"), 1_200_000_000);
    n.record_at(b1 + 400);
    let change = utc(b1 + 300);
    let prices = dir.join("prices.toml");
    std::fs::write(
        &prices,
        format!(
            r#"version = "test-1"
currency = "EUR"
[[price]]
class = "bill-a"
direction = "egress"
per_gib = 0.{A_BEFORE:02}
until = "{change}"
[[price]]
class = "bill-a"
direction = "egress"
per_gib = 0.{A_AFTER:02}
from = "{change}"
[[price]]
class = "bill-b"
direction = "egress"
per_gib = 0.{B_EGRESS:02}
[[price]]
class = "*"
direction = "egress"
per_gib = 0.{OTHER_EGRESS:02}
[[price]]
class = "*"
direction = "ingress"
per_gib = 0.{INGRESS:02}
"#
        ),
    )
    .unwrap();
    let (since, until) = (b1.to_string(), (b1 + 600).to_string());
    let period = ["--since", since.as_str(), "--until", until.as_str()];
    let ledger_bill =
        bill(&n, &prices, None, &[&period[..], &["--by", "name", "--format", "json"]].concat()).ok().json();
    // By hand: each stretch's bytes per name, class and direction from the plain report.
    let mut want: BTreeMap<(String, String, String, String), String> = BTreeMap::new();
    let mut total = 0;
    for (start, end) in [(b1, b1 + 300), (b1 + 300, b1 + 600)] {
        let (s, e) = (start.to_string(), end.to_string());
        let doc = node_report(&n, &["--since", &s, "--until", &e, "--by", "name,class"]);
        for (key, [rx, tx, ..]) in groups_of(&doc, &["name", "class"]) {
            let egress = match key[1].as_str() {
                "bill-a" if start < b1 + 300 => A_BEFORE,
                "bill-a" => A_AFTER,
                "bill-b" => B_EGRESS,
                _ => OTHER_EGRESS,
            };
            for (dir, bytes, price) in [("ingress", rx, INGRESS), ("egress", tx, egress)] {
                if bytes > 0 {
                    total += cents(bytes, price);
                    want.insert(
                        (key[0].clone(), key[1].clone(), dir.into(), utc(start)),
                        money(cents(bytes, price)),
                    );
                }
            }
        }
    }
    let got: BTreeMap<(String, String, String, String), String> = ledger_bill["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let key = (
                l["group"]["name"].as_str().unwrap().to_string(),
                l["class"].as_str().unwrap().to_string(),
                l["direction"].as_str().unwrap().to_string(),
                l["charge_start"].as_str().unwrap().to_string(),
            );
            (key, l["cost"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(got, want, "the bill's costs against bytes x price by hand");
    assert!(got.keys().any(|k| k.1 == "bill-b"), "{got:?}");
    let a_stretches: BTreeSet<&String> =
        got.keys().filter(|k| k.1 == "bill-a" && k.2 == "egress").map(|k| &k.3).collect();
    assert_eq!(a_stretches.len(), 2, "class bill-a's egress priced before and after the change: {got:?}");
    eprintln!("bill: {} lines, total {} EUR", got.len(), money(total));
    assert_eq!(ledger_bill["total_cost"], money(total));
    same_shape("bill", &readme_example("bill"), &ledger_bill);
    assert_eq!(ledger_bill["unpriced_bytes"], 0);
    assert_eq!(ledger_bill["prices"]["version"], "test-1");
    // The fleet's bill of the same node is the same bill.
    let url = ch.url("fleet");
    n.export(&ch, &url, &["--init"]).ok();
    let fleet_bill =
        bill(&n, &prices, Some((&ch, &url)), &[&period[..], &["--by", "name", "--format", "json"]].concat())
            .ok()
            .json();
    assert_eq!(fleet_bill["lines"], ledger_bill["lines"]);
    assert_eq!(fleet_bill["total_cost"], ledger_bill["total_cost"]);

    // FOCUS: the columns, their types and allowed values, and costs that add up.
    let focus = bill(&n, &prices, None, &[&period[..], &["--by", "name", "--format", "focus"]].concat()).ok();
    check_focus(&focus.stdout, &money(total));
    // CloudEvents: the same ids from two runs, one per line.
    let events = |from| {
        bill(&n, &prices, from, &[&period[..], &["--by", "name", "--format", "cloudevents"]].concat()).ok()
    };
    let (first, second) = (events(None), events(None));
    let ids = |r: &Run| -> Vec<String> {
        r.stdout
            .lines()
            .map(|l| {
                let e: Value = serde_json::from_str(l).unwrap();
                assert_eq!(e["specversion"], "1.0");
                assert_eq!(e["type"], "io.netattr.network.usage");
                assert!(e["source"].as_str().unwrap().starts_with("netattr:"));
                e["id"].as_str().unwrap().to_string()
            })
            .collect()
    };
    assert_eq!(ids(&first), ids(&second), "CloudEvents ids stable across runs");
    assert_eq!(ids(&first).iter().collect::<BTreeSet<_>>().len(), want.len(), "one event, one id, per line");
    // Refusals.
    let unpriced = dir.join("partial.toml");
    std::fs::write(&unpriced, "version = \"p\"\ncurrency = \"EUR\"\n[[price]]\nclass = \"*\"\ndirection = \"egress\"\nper_gib = 1\n").unwrap();
    bill(&n, &unpriced, None, &[&period[..], &["--format", "focus"]].concat()).fails_with("have no price in");
    let partial = bill(&n, &unpriced, None, &[&period[..], &["--format", "json"]].concat()).ok().json();
    assert!(partial["unpriced_bytes"].as_u64().unwrap() > 0, "unpriced bytes counted: {partial}");
    bill(&n, &prices, None, &["--p95"])
        .fails_with("a bill (--prices, --format focus or cloudevents) has no --p95 or --limit");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "version = \"b\"\ncurrency = \"EUR\"\n[[price]]\nclass = \"*\"\ndirection = \"out\"\nper_gib = 1\n",
    )
    .unwrap();
    bill(&n, &bad, None, &[]).fails_with("direction 'out' is not egress or ingress");
}

/// UTC as netattr prints it.
fn utc(t: i64) -> String {
    netattr::model::utc(t)
}

/// A FOCUS file: the columns a FOCUS 1.0 cost and usage dataset must have, decimal and date
/// columns that parse, allowed values, BilledCost = PricingQuantity x ListUnitPrice to the
/// cent, and the rows' costs adding up to `total`.
fn check_focus(text: &str, total: &str) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mandatory = [
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
        "AvailabilityZone",
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
    ];
    for c in mandatory {
        assert!(header.iter().any(|h| h == c), "FOCUS column {c} missing: {header:?}");
    }
    // FOCUS 1.3's conditional allocation columns: empty unless a line was reallocated.
    let allocation =
        ["AllocatedMethodDetails", "AllocatedMethodId", "AllocatedResourceId", "AllocatedResourceName"];
    for h in &header {
        assert!(
            mandatory.contains(&h.as_str()) || allocation.contains(&h.as_str()) || h.starts_with("x_"),
            "{h}: not FOCUS, and not x_-prefixed"
        );
    }
    let col =
        |row: &csv::StringRecord, name: &str| row[header.iter().position(|h| h == name).unwrap()].to_string();
    let mut sum_cents = 0i64;
    for row in r.records() {
        let row = row.unwrap();
        for c in [
            "BilledCost",
            "EffectiveCost",
            "ListCost",
            "ContractedCost",
            "ConsumedQuantity",
            "PricingQuantity",
            "ListUnitPrice",
        ] {
            assert!(col(&row, c).parse::<f64>().is_ok(), "{c} is not a decimal: {}", col(&row, c));
        }
        for c in ["BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"] {
            let v = col(&row, c);
            assert!(
                v.len() == 20 && v.ends_with('Z') && v.as_bytes()[10] == b'T',
                "{c} is not ISO 8601 UTC: {v}"
            );
        }
        assert!(["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
            .contains(&col(&row, "ChargeCategory").as_str()));
        assert!(["One-Time", "Recurring", "Usage-Based"].contains(&col(&row, "ChargeFrequency").as_str()));
        assert!(
            ["Standard", "Dynamic", "Committed", "Other"].contains(&col(&row, "PricingCategory").as_str())
        );
        assert_eq!(col(&row, "ServiceCategory"), "Networking");
        assert_eq!(col(&row, "BillingCurrency"), "EUR");
        assert!(serde_json::from_str::<serde_json::Map<String, Value>>(&col(&row, "Tags")).is_ok());
        let billed = col(&row, "BilledCost");
        let (q, p): (f64, f64) =
            (col(&row, "PricingQuantity").parse().unwrap(), col(&row, "ListUnitPrice").parse().unwrap());
        let by_hand = (q * p * 100.0).round() / 100.0;
        assert!(
            (billed.parse::<f64>().unwrap() - by_hand).abs() < 0.011,
            "BilledCost {billed} against {q} x {p}"
        );
        let (whole, frac) = billed.split_once('.').unwrap();
        sum_cents += whole.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap();
    }
    assert_eq!(format!("{}.{:02}", sum_cents / 100, sum_cents % 100), total, "the FOCUS rows' costs add up");
}

/// Docker containers carrying labels (`docker run -l`): their bytes grouped by label in the
/// node's report and in the fleet store's, equal; a price override for one label value
/// applies to that tenant's lines only.
#[test]
fn docker_labels_reach_the_fleet_store_and_a_tenants_price_override() {
    let Some(s) = scene(0, false) else { return };
    if !docker() {
        return;
    }
    let Some(ch) = ClickHouse::start() else { return };
    let (shop, blog) = (
        format!("shop-{}-{}", std::process::id(), uniq()),
        format!("blog-{}-{}", std::process::id(), uniq()),
    );
    let files = "mkdir -p /www && dd if=/dev/zero of=/www/f bs=1000 count=4000 2>/dev/null";
    let server = DockerContainer::start_with(
        "lbl-server",
        &["-l", &format!("team={shop}")],
        &format!("{files} && echo ready && httpd -f -p 80 -h /www"),
    );
    server.wait_for_log("ready");
    let ip = server.ip();
    // The containers' parent cgroup, where the socket programs go.
    let parent = server.cgroup_dir().parent().unwrap().to_path_buf();
    s.na.run(&["load"]).ok();
    s.na.run(&["attach", "--cgroup", parent.to_str().unwrap()]).ok();
    let dir = TempDir::new();
    let n = Node { s, ledger: dir.join("ledger.db"), name: "a".into(), _dir: TempDir::new() };
    let client = DockerContainer::start_with(
        "lbl-client",
        &["-l", &format!("team={blog}")],
        &format!("wget -q -O /dev/null http://{ip}/f && wget -q -O /dev/null http://{ip}/f && echo done; sleep 300"),
    );
    client.wait_for_log("done");
    n.record_at(unix_now());
    let url = ch.url("fleet");
    n.export(&ch, &url, &["--init"]).ok();
    let all = ["--since", "0", "--by", "label:team"];
    let teams = |doc: &Value| -> BTreeMap<Vec<String>, [u64; 4]> {
        groups_of(doc, &["label:team"]).into_iter().filter(|(k, _)| k[0] == shop || k[0] == blog).collect()
    };
    let node = teams(&node_report(&n, &all));
    let fleet = teams(&fleet_report(&ch, &url, &all));
    assert_eq!(node.len(), 2, "both tenants billed: {node:?}");
    assert!(node[&vec![shop.clone()]][1] >= 8_000_000, "the server sent both files: {node:?}");
    assert_eq!(fleet, node, "the fleet store groups by the containers' labels as the ledger does");
    // A price override for one tenant.
    let prices = dir.join("prices.toml");
    std::fs::write(
        &prices,
        format!(
            "version = \"lbl\"\ncurrency = \"EUR\"\n[[price]]\nclass = \"*\"\ndirection = \"egress\"\nper_gib = 1\n[[price]]\nclass = \"*\"\ndirection = \"ingress\"\nper_gib = 0\n[[price]]\nlabel = \"team={shop}\"\nclass = \"*\"\ndirection = \"egress\"\nper_gib = 0.5\n"
        ),
    )
    .unwrap();
    let doc =
        bill(&n, &prices, None, &["--since", "0", "--by", "label:team", "--format", "json"]).ok().json();
    for l in doc["lines"].as_array().unwrap().iter().filter(|l| l["direction"] == "egress") {
        let team = l["group"]["label:team"].as_str().unwrap_or("");
        let want = if team == shop { "0.5" } else { "1" };
        assert_eq!(l["unit_price"], want, "{l}");
    }
    assert!(
        doc["lines"].as_array().unwrap().iter().any(|l| l["group"]["label:team"] == shop.as_str()),
        "{doc}"
    );
}
