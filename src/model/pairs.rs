//! Who talks to whom, each byte once: the pair table from the workloads' own views.
//!
//! Each counted workload W has a view: its bytes per peer, where a peer is the workload that
//! held the address (`Workload`), or what it could not be told to be (`Host`, an address no
//! workload held: `Via`, the peers past the kernel's map: `Other`, a class not counted per
//! peer: `Class`). Between two counted workloads both ends have a view, and where NAT stands
//! between them only one of the two names the other: the receiver of a DNATed request sees
//! the real sender, the sender only the service address; the sender of a reply sees the real
//! client, the client only the service address again; a masqueraded sender's receiver sees
//! the host. Both ends count the same packets at the same layer, so for each direction the
//! larger of the two views is the one that saw all of the pair's bytes:
//!
//!   bytes(W -> V) = max(W's tx to V, V's rx from W)
//!
//! What that adds to W's own view (its surplus) is what W counted under a peer it could not
//! name: it is taken from W's unnamed rows (addresses and the host first, then the other
//! peers, then class rows, largest first in each), so that W's total stays its total and
//! each byte is on one row. What no counted workload explains stays on its unnamed row
//! ("via <address>").
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Counters;

/// The peer label of the other-peers row (and its text in the ledger and the store).
pub const OTHER_PEERS: &str = "(other peers)";

/// Who a view's row is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerRef {
    /// A workload, by its key (the same key as a view's `w`).
    Workload(String),
    /// One of the node's own addresses, which no single workload holds.
    Host,
    /// An address no workload held (a service's ClusterIP, a remote node's address, ...).
    Via(String),
    /// The peers the kernel's peer map had no room for.
    Other,
    /// A class not counted per peer: the class is the peer.
    Class,
}

impl PeerRef {
    /// A stored peer row's peer (as the ledger and the store write it: an address, the
    /// other-peers row, `''` for a class) named by `holder`, who held its address at the time
    /// (as written: `host` or a workload's identity, with the workload's name).
    pub fn of(peer: &str, holder: Option<(&str, Option<&str>)>) -> PeerRef {
        match (peer, holder) {
            ("", _) => PeerRef::Class,
            (OTHER_PEERS, _) => PeerRef::Other,
            (a, None) => PeerRef::Via(a.to_string()),
            (_, Some((super::HOST, _))) => PeerRef::Host,
            (_, Some((identity, name))) => PeerRef::Workload(name.unwrap_or(identity).to_string()),
        }
    }

    /// The order unnamed rows give up their bytes to a surplus (None: named, never).
    fn reducible(&self) -> Option<u8> {
        match self {
            PeerRef::Workload(_) => None,
            PeerRef::Host | PeerRef::Via(_) => Some(0),
            PeerRef::Other => Some(1),
            PeerRef::Class => Some(2),
        }
    }
}

/// One row of a workload's view (or of the pair table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub w: String,
    pub class: String,
    pub peer: PeerRef,
    pub counters: Counters,
    /// A row reallocated to `w`: the shared workload whose traffic it was (`reallocate`).
    pub from: Option<String>,
}

impl View {
    pub fn new(w: String, class: String, peer: PeerRef, counters: Counters) -> View {
        View { w, class, peer, counters, from: None }
    }
}

/// How `reallocate` splits a shared workload's traffic (FOCUS's AllocatedMethodId).
pub const REALLOCATION_METHOD: &str = "netattr-peer-bytes";

/// Splits each shared workload's rows with peers other than workloads (the internet, the
/// host, addresses, classes) across the workloads it exchanged bytes with, in proportion to
/// those bytes (rx + tx, all classes): each counter of a row is split by largest remainder
/// (the shares floor'd, the bytes left over one each to the largest fractions, ties by
/// workload), so the shares add up to the row exactly. Its rows with workloads stay as they
/// are (they are its clients' rows too, seen from the other end). A shared workload that
/// served no workload keeps its rows. The reallocated rows carry `from`.
pub fn reallocate(rows: Vec<View>, shared: &[String]) -> Vec<View> {
    let mut weights: BTreeMap<&str, BTreeMap<String, u128>> = BTreeMap::new();
    for r in &rows {
        if let (true, PeerRef::Workload(c)) = (shared.contains(&r.w), &r.peer) {
            if !shared.contains(c) {
                *weights.entry(r.w.as_str()).or_default().entry(c.clone()).or_default() +=
                    u128::from(r.counters.total_bytes());
            }
        }
    }
    let weights: BTreeMap<String, Vec<(String, u128)>> = weights
        .into_iter()
        .map(|(s, w)| (s.to_string(), w.into_iter().filter(|(_, b)| *b > 0).collect::<Vec<_>>()))
        .filter(|(_, w)| !w.is_empty())
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(clients) = weights.get(&r.w).filter(|_| !matches!(r.peer, PeerRef::Workload(_))) else {
            out.push(r);
            continue;
        };
        let c = r.counters;
        let parts: Vec<[u64; 4]> = {
            let split = |v: u64| split(v, clients);
            let (a, b, d, e) =
                (split(c.rx_bytes), split(c.tx_bytes), split(c.rx_packets), split(c.tx_packets));
            (0..clients.len()).map(|i| [a[i], b[i], d[i], e[i]]).collect()
        };
        for ((client, _), [rx, tx, rxp, txp]) in clients.iter().zip(parts) {
            let counters = Counters { rx_bytes: rx, tx_bytes: tx, rx_packets: rxp, tx_packets: txp };
            if counters != Counters::default() {
                out.push(View {
                    w: client.clone(),
                    class: r.class.clone(),
                    peer: r.peer.clone(),
                    counters,
                    from: Some(r.w.clone()),
                });
            }
        }
    }
    out
}

/// `v` split in proportion to `weights` by largest remainder: the shares add up to `v`.
fn split(v: u64, weights: &[(String, u128)]) -> Vec<u64> {
    let total: u128 = weights.iter().map(|w| w.1).sum();
    let v128 = u128::from(v);
    let mut shares: Vec<u64> = weights.iter().map(|w| (v128 * w.1 / total) as u64).collect();
    let left = v - shares.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Largest fraction first, then the earlier workload (weights are in key order).
    order.sort_by_key(|&i| (std::cmp::Reverse(v128 * weights[i].1 % total), i));
    for &i in order.iter().take(left as usize) {
        shares[i] += 1;
    }
    shares
}

/// The pair table of `views`: every byte between two counted workloads once per direction,
/// on the row of each end (W's row says what W sent to V and received from V); every other
/// byte on its workload's unnamed row. Rows come out in (w, peer, class) order.
pub fn pairs(views: &[View]) -> Vec<View> {
    let counted: BTreeSet<&str> = views.iter().map(|v| v.w.as_str()).collect();
    // Each workload's view of each named peer, its classes summed (the class of its largest).
    let mut own: HashMap<(&str, &str), (Counters, &str, u64)> = HashMap::new();
    for v in views {
        if let PeerRef::Workload(p) = &v.peer {
            let e =
                own.entry((v.w.as_str(), p.as_str())).or_insert((Counters::default(), v.class.as_str(), 0));
            e.0.add(&v.counters);
            if v.counters.total_bytes() > e.2 {
                (e.1, e.2) = (v.class.as_str(), v.counters.total_bytes());
            }
        }
    }
    let mut keys: BTreeSet<(&str, &str)> = own.keys().copied().collect();
    for (w, p) in own.keys() {
        if counted.contains(p) {
            keys.insert((p, w));
        }
    }
    let mut out = Vec::new();
    let mut surplus: HashMap<&str, Counters> = HashMap::new();
    for (w, p) in keys {
        let none = (Counters::default(), "", 0);
        let mine = own.get(&(w, p)).unwrap_or(&none);
        let theirs = if counted.contains(p) { own.get(&(p, w)).unwrap_or(&none) } else { &none };
        let m = mine.0;
        let t = theirs.0;
        // Per direction, the view with more bytes, its packets with it.
        let (tx_bytes, tx_packets) =
            if m.tx_bytes >= t.rx_bytes { (m.tx_bytes, m.tx_packets) } else { (t.rx_bytes, t.rx_packets) };
        let (rx_bytes, rx_packets) =
            if m.rx_bytes >= t.tx_bytes { (m.rx_bytes, m.rx_packets) } else { (t.tx_bytes, t.tx_packets) };
        let c = Counters { rx_bytes, tx_bytes, rx_packets, tx_packets };
        let s = surplus.entry(w).or_default();
        s.add(&Counters {
            rx_bytes: rx_bytes - m.rx_bytes,
            tx_bytes: tx_bytes - m.tx_bytes,
            rx_packets: rx_packets.saturating_sub(m.rx_packets),
            tx_packets: tx_packets.saturating_sub(m.tx_packets),
        });
        let class = if mine.2 > 0 || theirs.1.is_empty() { mine.1 } else { theirs.1 };
        out.push(View::new(w.to_string(), class.to_string(), PeerRef::Workload(p.to_string()), c));
    }
    // Each workload's unnamed rows, in the order they give up bytes to its surplus.
    let mut unnamed: BTreeMap<(&str, u8, std::cmp::Reverse<u64>, &PeerRef, &str), Counters> = BTreeMap::new();
    for v in views {
        if let Some(rank) = v.peer.reducible() {
            let k = (v.w.as_str(), rank, std::cmp::Reverse(0), &v.peer, v.class.as_str());
            unnamed.entry(k).or_default().add(&v.counters);
        }
    }
    // Largest first within a rank: re-keyed by size now that same-key rows are summed.
    let mut ordered: Vec<_> = unnamed
        .into_iter()
        .map(|((w, rank, _, peer, class), c)| ((w, rank, std::cmp::Reverse(c.total_bytes()), peer, class), c))
        .collect();
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    for ((w, _, _, peer, class), mut c) in ordered {
        if let Some(s) = surplus.get_mut(w) {
            take(&mut s.tx_bytes, &mut c.tx_bytes);
            take(&mut s.rx_bytes, &mut c.rx_bytes);
            take(&mut s.tx_packets, &mut c.tx_packets);
            take(&mut s.rx_packets, &mut c.rx_packets);
        }
        if c != Counters::default() {
            out.push(View::new(w.to_string(), class.to_string(), peer.clone(), c));
        }
    }
    out.sort_by(|a, b| (&a.w, &a.peer, &a.class).cmp(&(&b.w, &b.peer, &b.class)));
    out
}

/// Moves what it can of `need` out of `have`.
fn take(need: &mut u64, have: &mut u64) {
    let n = (*need).min(*have);
    *need -= n;
    *have -= n;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(rx: u64, tx: u64) -> Counters {
        Counters { rx_bytes: rx, tx_bytes: tx, rx_packets: rx / 100, tx_packets: tx / 100 }
    }

    fn v(w: &str, peer: PeerRef, counters: Counters) -> View {
        View::new(w.into(), "private".into(), peer, counters)
    }

    fn wl(s: &str) -> PeerRef {
        PeerRef::Workload(s.into())
    }

    fn total(rows: &[View], w: &str) -> Counters {
        let mut t = Counters::default();
        for r in rows.iter().filter(|r| r.w == w) {
            t.add(&r.counters);
        }
        t
    }

    #[test]
    fn the_nat_truth_table_resolves_to_the_real_ends_each_byte_once() {
        // A sends 300 to B directly, 200 to each of B1 and B2 through a service address
        // (A sees the service address both ways); B1 sends 150 to A masqueraded (A sees the
        // host); replies are 10 each way.
        let views = vec![
            v("A", wl("B"), c(10, 300)),
            v("A", PeerRef::Via("vip".into()), c(20, 400)),
            v("A", PeerRef::Host, c(150, 10)),
            v("B", wl("A"), c(300, 10)),
            v("B1", wl("A"), c(210, 160)),
            v("B2", wl("A"), c(200, 10)),
        ];
        let p = pairs(&views);
        let row = |w: &str, peer: PeerRef| p.iter().find(|r| r.w == w && r.peer == peer).map(|r| r.counters);
        assert_eq!(row("A", wl("B")), Some(c(10, 300)));
        assert_eq!(row("A", wl("B1")), Some(c(160, 210)));
        assert_eq!(row("A", wl("B2")), Some(c(10, 200)));
        assert_eq!(row("B1", wl("A")), Some(c(210, 160)));
        // A's unnamed rows gave all their bytes to the pairs: nothing is left "via".
        assert_eq!(row("A", PeerRef::Via("vip".into())), None);
        assert_eq!(row("A", PeerRef::Host), None);
        // Every workload keeps its total, and each byte between them is once per direction.
        for w in ["A", "B", "B1", "B2"] {
            assert_eq!(total(&p, w), total(&views, w), "{w}");
        }
    }

    #[test]
    fn a_shared_workloads_traffic_is_split_exactly_by_its_clients_bytes() {
        // The ingress served A (2 parts) and B (1 part); its 1,000 B from the internet and
        // its 10 packets are split 667/333 and 7/3: the shares add up to the row.
        let rows = vec![
            v("ingress", wl("A"), c(0, 200)),
            v("ingress", wl("B"), c(0, 100)),
            View::new(
                "ingress".into(),
                "internet".into(),
                PeerRef::Class,
                Counters { rx_bytes: 1000, tx_bytes: 1, rx_packets: 10, tx_packets: 1 },
            ),
        ];
        let out = reallocate(rows, &["ingress".to_string()]);
        let got: Vec<(String, u64, u64, u64, u64)> = out
            .iter()
            .filter(|r| r.from.is_some())
            .map(|r| {
                (
                    r.w.clone(),
                    r.counters.rx_bytes,
                    r.counters.tx_bytes,
                    r.counters.rx_packets,
                    r.counters.tx_packets,
                )
            })
            .collect();
        assert_eq!(got, vec![("A".into(), 667, 1, 7, 1), ("B".into(), 333, 0, 3, 0)]);
        assert!(out
            .iter()
            .all(|r| r.from.as_deref() == Some("ingress") || matches!(r.peer, PeerRef::Workload(_))));
        assert_eq!(split(10, &[("x".into(), 1), ("y".into(), 1), ("z".into(), 1)]), vec![4, 3, 3]);
    }

    #[test]
    fn what_no_counted_workload_explains_stays_via_its_address() {
        let views = vec![
            v("A", PeerRef::Via("203.0.113.9".into()), c(5, 700)),
            v("A", wl("X"), c(0, 40)), // X is not counted anywhere: A's own view stands
            v("A", PeerRef::Class, c(1, 2)),
        ];
        let p = pairs(&views);
        assert_eq!(p.len(), 3);
        assert_eq!(total(&p, "A"), total(&views, "A"));
        assert!(p.iter().any(|r| r.peer == PeerRef::Via("203.0.113.9".into()) && r.counters == c(5, 700)));
    }
}
