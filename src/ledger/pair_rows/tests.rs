use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use crate::bpf::Source;
use crate::ledger::ask::Ask;
use crate::ledger::bill::InstanceKey;
use crate::ledger::peers::PeerReading;
use crate::ledger::{Ledger, TempFile};
use crate::model::Field;
use crate::model::{Counters, Holder, Holding, Period, Reading, Workload};

/// The pair table of `period` by name and peer, as text.
fn pairs(l: &Ledger, since: i64, until: i64) -> String {
    let ask = Ask {
        period: Period { since, until },
        by: &[Field::Name, Field::Peer],
        classes: &[],
        p95: false,
        reallocate: &[],
    };
    format!("{:#?}", crate::ledger::pairs::groups(l, &ask, "socket").unwrap())
}

#[test]
fn rolled_up_days_give_the_pair_table_their_five_minute_rows_give() {
    let t = TempFile::new("pair-days");
    let mut l = Ledger::open_rw(&t.0).unwrap();
    let inst = InstanceKey { key: "b/1/1".into(), boot_id: "b".into(), loaded_at: 1, pin_dir: "/p".into() };
    let t0 = crate::model::days_from_civil(2026, 11, 1) * 86_400;
    let who: Vec<Rc<Workload>> = (0..3)
        .map(|i| Rc::new(Workload { identity: format!("unit:w{i}.service"), ..Workload::default() }))
        .collect();
    let holding = |i: usize| {
        Holding::Workload(Holder {
            path: format!("/w{i}"),
            identity: who[i].identity.clone(),
            name: None,
            pod_namespace: Some(format!("ns{i}")),
        })
    };
    let (a1, a2): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
    l.note_addresses(t0 - 60, [(&a1, &holding(0)), (&a2, &holding(1))]).unwrap();
    // w0 sends to 10.0.0.2 (w1's, then w2's from the middle of the second day) and to an
    // address nobody holds; w1 receives from w0's address. Two days and a half, every 20
    // minutes.
    let (mut sent, mut at, mut k) = ([0u64; 3], t0, 0u64);
    while at < t0 + 2 * 86_400 + 43_200 {
        if at == t0 + 86_400 + 40_800 {
            l.note_addresses(at, [(&a2, &holding(2))]).unwrap();
        }
        k += 1;
        for (i, s) in sent.iter_mut().enumerate() {
            *s += 1000 + k * (i as u64 + 1);
        }
        let usage: Vec<Reading> = (0..3)
            .map(|i| Reading {
                source: Source::Socket,
                cgroup_id: 100 + i as u64,
                class: String::new(),
                counters: Counters { tx_bytes: sent[i], tx_packets: k, ..Counters::default() },
                who: who[i].clone(),
                at,
                last: false,
            })
            .collect();
        l.bill(&inst, &usage, at, true).unwrap();
        let peer = |cgroup_id, peer: &str, counters| PeerReading {
            source: Source::Socket,
            cgroup_id,
            class: "private".into(),
            peer: peer.into(),
            counters,
        };
        let rows = [
            peer(100, "10.0.0.2", Counters { tx_bytes: sent[0] / 2, tx_packets: k, ..Counters::default() }),
            peer(100, "10.0.0.9", Counters { tx_bytes: sent[0] / 2, tx_packets: k, ..Counters::default() }),
            peer(101, "10.0.0.1", Counters { rx_bytes: sent[0] / 2, rx_packets: k, ..Counters::default() }),
        ];
        assert_eq!(l.bill_peers(&inst.key, at, &rows, &[]).unwrap(), (3, vec![]));
        at += 1200;
    }
    let periods = [
        (t0, t0 + 2 * 86_400),
        (t0 - 3600, t0 + 3 * 86_400),
        (t0 + 7000, t0 + 86_400 + 50_000),
        (t0, t0 + 86_400),
    ];
    let before: Vec<String> = periods.iter().map(|(s, u)| pairs(&l, *s, *u)).collect();
    while l.roll(t0 + 40 * 86_400, Duration::from_secs(10)).unwrap().slices > 0 {}
    let whole: i64 =
        l.conn.query_row("SELECT count(*) FROM series_days WHERE whole = 3", [], |r| r.get(0)).unwrap();
    assert_eq!(whole, 3, "the three days' peer rows rolled up");
    for (i, (s, u)) in periods.iter().enumerate() {
        assert_eq!(pairs(&l, *s, *u), before[i], "[{s}, {u}) from the days' rows");
    }
    // Day t0 is read from its day rows alone: without its 5-minute rows, the same.
    l.conn.execute("DELETE FROM peers WHERE bucket >= ?1 AND bucket < ?2", [t0, t0 + 86_400]).unwrap();
    assert_eq!(pairs(&l, t0, t0 + 86_400), before[3]);
    // The reused address's second day is read from its 5-minute rows: both holders named.
    assert!(before[0].contains("unit:w1.service") && before[0].contains("unit:w2.service"), "{}", before[0]);
}
