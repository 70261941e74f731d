//! The model's unit tests: units of rates, and grouping.
use super::*;
use crate::bpf::{Counters, Source};
use crate::core::row::{By, Extra};
use crate::rates::Rates;

fn pod_row(id: u64, ns: &str, pod: &str, tx: f64) -> Row {
    let mut r = Row::bare(id, Source::Socket, Extra::None, Counters { tx_bytes: 10, ..Default::default() });
    r.path = Some(format!("/kubepods/pod{id}/c{id}"));
    r.who.container_id = Some(format!("{id:064x}"));
    r.who.name = Some(format!("{ns}/{pod}"));
    r.who.pod_namespace = Some(ns.into());
    r.who.pod_name = Some(pod.into());
    r.rates = Some(Rates { tx_bytes_per_s: tx, ..Default::default() });
    r
}

#[test]
fn g_sums_a_pods_containers_then_a_namespaces_pods() {
    let mut m = Model::new(Header::default());
    let mut unresolved = Row::bare(0, Source::Socket, Extra::None, Counters::default());
    unresolved.rates = Some(Rates { tx_bytes_per_s: 1.0, ..Default::default() });
    let report = StatsReport {
        schema: 1,
        source: Source::Socket,
        by: By::Cgroup,
        time: None,
        interval_s: Some(1.0),
        pin_dir: "/sys/fs/bpf/netattr".into(),
        cgroup2_mount: "/sys/fs/cgroup".into(),
        cgroups: vec![
            pod_row(11, "shop", "web-1", 100.0),
            pod_row(12, "shop", "web-1", 50.0),
            pod_row(13, "shop", "cart-1", 30.0),
            pod_row(14, "ops", "agent-1", 20.0),
            unresolved,
        ],
        totals: Counters::default(),
        rates: None,
        health: None,
        label_keys: Vec::new(),
    };
    m.update(&report);
    assert_eq!(m.rows.len(), 5);
    assert_eq!(m.grouping_label(), "cgroup");
    m.key('g', false);
    assert_eq!(m.grouping_label(), "name");
    let named: Vec<(&str, f64, usize)> =
        m.rows.iter().map(|r| (r.name.as_str(), r.tx_s, r.members)).collect();
    assert_eq!(
        named,
        [
            ("shop/web-1", 150.0, 2),
            ("shop/cart-1", 30.0, 1),
            ("ops/agent-1", 20.0, 1),
            ("(unresolved)", 1.0, 0)
        ]
    );
    assert_eq!(m.rows[0].ident, "2 cgroups");
    assert_eq!(m.rows[0].total_bytes, 20);
    assert_eq!(m.selected_cgroup(), None, "a group is not a cgroup");
    m.key('g', false);
    let ns: Vec<(&str, f64)> = m.rows.iter().map(|r| (r.name.as_str(), r.tx_s)).collect();
    assert_eq!(ns, [("shop", 180.0), ("ops", 20.0), ("(unresolved)", 1.0)]);
    // The next report keeps the grouping; the internet rates are summed too.
    m.update(&report);
    m.set_internet(&HashMap::from([(11, 5.0), (13, 1.0)]));
    assert_eq!(m.rows[0].internet_s, Some(6.0));
    m.key('g', false);
    assert_eq!(m.rows.len(), 5);
    assert_eq!(m.selected_cgroup(), Some(11));
}

#[test]
fn rates_and_totals_use_the_same_binary_units() {
    assert_eq!(short_rate(1536.0), "1.5K/s");
    assert_eq!(short_bytes(1536), "1.50K");
    assert_eq!(short_rate(3.0 * 1024.0 * 1024.0), "3.0M/s");
    assert_eq!(short_bytes(3 * 1024 * 1024), "3M");
    assert_eq!(short_rate(1000.0), "1000B/s");
}
