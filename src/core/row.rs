//! A row of a counter report: one cgroup (or one of its interfaces or ports) of one source,
//! with its identity and counters. `stats`, `reap`, `serve`, `top` and the demo all print
//! these rows.
use serde::Serialize;

use crate::bpf::layout::{proto_name, CGID_OVERFLOW, CGID_UNRESOLVED};
use crate::bpf::{Counters, Source};
use crate::identity::Summary;
use crate::rates::Rates;

/// What a row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// A real cgroup.
    Cgroup,
    /// Traffic whose owner could not be told (cgroup id 0).
    Unresolved,
    /// Traffic of cgroups that did not fit in the map.
    Overflow,
}

impl Bucket {
    pub fn of(id: u64) -> Bucket {
        match id {
            CGID_UNRESOLVED => Bucket::Unresolved,
            CGID_OVERFLOW => Bucket::Overflow,
            _ => Bucket::Cgroup,
        }
    }
}

/// How rows are split: per cgroup, per (cgroup, interface), per (cgroup, protocol, port),
/// per (cgroup, destination class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum By {
    Cgroup,
    Iface,
    Port,
    Class,
    Peer,
}

/// Identifies a row across samples: cgroup, interface (or class id), protocol (or peer
/// kind), port, peer address.
pub type RowKey = (u64, u32, u8, u16, u128);

/// What a row adds to its cgroup: an interface, a protocol and port, or a destination class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extra {
    None,
    Iface(u32, Option<String>),
    Port(u8, u16),
    /// A destination class: its id and name.
    Class(u16, String),
    /// A peer within a destination class (its id and name).
    Peer(u16, String, super::peers::Peer),
}

/// A row as read from the maps, before naming.
#[derive(Debug, Clone)]
pub struct RawRow {
    pub key: RowKey,
    pub extra: Extra,
    pub counters: Counters,
}

/// One row; serialised by hand below (the JSON fields in this order), as serde's
/// `flatten` would turn every row into a map with a field-by-field detour.
#[derive(Debug, Clone)]
pub struct Row {
    /// The cgroup v2 id; 0 for the unresolved bucket, null for the overflow bucket (its
    /// map key, 2^64-1, does not survive JSON readers that use doubles, such as jq).
    pub cgroup_id: u64,
    pub bucket: Bucket,
    /// Path relative to the cgroup2 mount; for a removed cgroup, the path the kernel
    /// recorded at its first packet; null for the buckets and where nothing is known.
    pub path: Option<String>,
    /// The cgroup has been removed since it was counted.
    pub gone: bool,
    /// What the path says (kind, runtime, container_id, pod_uid); nulls for the buckets.
    pub who: Summary,
    pub source: Source,
    /// With --by iface: the interface (its name, null if it is gone).
    pub ifindex: Option<u32>,
    pub iface: Option<Option<String>>,
    /// With --by port: "tcp", "udp", ... and the service port (0 where there is none).
    pub protocol: Option<String>,
    pub port: Option<u16>,
    /// With --by class: the destination class ("internet", "private", ...).
    pub class: Option<String>,
    /// With --by peer: who the bytes went to or came from.
    pub peer: Option<super::peername::PeerName>,
    pub counters: Counters,
    /// With --interval: rates over the interval.
    pub rates: Option<Rates>,
}

impl Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Row", 26)?;
        let id = (self.cgroup_id != CGID_OVERFLOW).then_some(self.cgroup_id);
        st.serialize_field("cgroup_id", &id)?;
        st.serialize_field("bucket", &self.bucket)?;
        st.serialize_field("path", &self.path)?;
        st.serialize_field("gone", &self.gone)?;
        let w = &self.who;
        st.serialize_field("kind", &w.kind)?;
        st.serialize_field("runtime", &w.runtime)?;
        st.serialize_field("container_id", &w.container_id)?;
        st.serialize_field("pod_uid", &w.pod_uid)?;
        st.serialize_field("name", &w.name)?;
        st.serialize_field("pod_namespace", &w.pod_namespace)?;
        st.serialize_field("pod_name", &w.pod_name)?;
        if let Some(l) = &w.labels {
            st.serialize_field("labels", l)?;
        }
        st.serialize_field("source", &self.source)?;
        if let Some(i) = self.ifindex {
            st.serialize_field("ifindex", &i)?;
        }
        if let Some(i) = &self.iface {
            st.serialize_field("iface", i)?;
        }
        if let Some(p) = &self.protocol {
            st.serialize_field("protocol", p)?;
        }
        if let Some(p) = self.port {
            st.serialize_field("port", &p)?;
        }
        if let Some(c) = &self.class {
            st.serialize_field("class", c)?;
        }
        if let Some(p) = &self.peer {
            p.serialize_fields(&mut st)?;
        }
        serialize_amounts(&mut st, &self.counters, self.rates.as_ref())?;
        st.end()
    }
}

/// The counters' four fields, then the four rates where there are rates: the tail of every
/// row and group document.
pub fn serialize_amounts<S: serde::ser::SerializeStruct>(
    st: &mut S,
    c: &Counters,
    rates: Option<&Rates>,
) -> Result<(), S::Error> {
    st.serialize_field("rx_bytes", &c.rx_bytes)?;
    st.serialize_field("tx_bytes", &c.tx_bytes)?;
    st.serialize_field("rx_packets", &c.rx_packets)?;
    st.serialize_field("tx_packets", &c.tx_packets)?;
    if let Some(r) = rates {
        st.serialize_field("rx_bytes_per_s", &r.rx_bytes_per_s)?;
        st.serialize_field("tx_bytes_per_s", &r.tx_bytes_per_s)?;
        st.serialize_field("rx_packets_per_s", &r.rx_packets_per_s)?;
        st.serialize_field("tx_packets_per_s", &r.tx_packets_per_s)?;
    }
    Ok(())
}

impl Row {
    /// A row without a path or identity (`--no-resolve`, and the start of every row).
    pub fn bare(id: u64, source: Source, extra: Extra, counters: Counters) -> Row {
        let mut r = Row {
            cgroup_id: id,
            bucket: Bucket::of(id),
            path: None,
            gone: false,
            who: Summary::default(),
            source,
            ifindex: None,
            iface: None,
            protocol: None,
            port: None,
            class: None,
            peer: None,
            counters,
            rates: None,
        };
        match extra {
            Extra::None => {}
            Extra::Iface(i, name) => {
                r.ifindex = Some(i);
                r.iface = Some(name);
            }
            Extra::Port(p, port) => {
                r.protocol = Some(proto_name(p));
                r.port = Some(port);
            }
            Extra::Class(_, name) => r.class = Some(name),
            Extra::Peer(_, name, peer) => {
                r.peer = Some(super::peername::PeerName::unnamed(&peer, &name));
                r.class = Some(name);
            }
        }
        r
    }

    /// The label tables print for the row's cgroup.
    pub fn label(&self) -> String {
        match (self.bucket, &self.path) {
            (Bucket::Unresolved, _) => "(unresolved)".to_string(),
            (Bucket::Overflow, _) => "(overflow: map full)".to_string(),
            (Bucket::Cgroup, Some(p)) => p.clone(),
            (Bucket::Cgroup, None) if self.gone => "(gone)".to_string(),
            (Bucket::Cgroup, None) => "(not resolved)".to_string(),
        }
    }
}

/// The identity a named row is billed under: its container, else its pod, else its systemd
/// unit, else its cgroup path, else its id; the buckets as themselves. `container:<id>`,
/// `pod:<uid>`, `unit:<name>`, `path:<path>`, `cgroup:<id>` or `bucket:unresolved|overflow`.
pub fn identity_of(r: &Row) -> String {
    let w = &r.who;
    match r.bucket {
        Bucket::Unresolved => "bucket:unresolved".to_string(),
        Bucket::Overflow => "bucket:overflow".to_string(),
        Bucket::Cgroup => match (&w.container_id, &w.pod_uid, w.kind, &r.path) {
            (Some(c), ..) => format!("container:{c}"),
            (None, Some(p), ..) => format!("pod:{p}"),
            (
                None,
                None,
                Some(crate::identity::Kind::Service | crate::identity::Kind::Session),
                Some(path),
            ) => {
                format!("unit:{}", path.rsplit('/').next().unwrap_or(path))
            }
            (None, None, _, Some(path)) => format!("path:{path}"),
            (None, None, _, None) => format!("cgroup:{}", r.cgroup_id),
        },
    }
}

/// How rows are ordered: largest first by this key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    Rx,
    Tx,
    Total,
}

impl SortKey {
    /// What orders by this key: the rates where there are rates (interval mode), else the
    /// counters.
    pub fn of(self, c: &Counters, rates: Option<&Rates>) -> u64 {
        match (self, rates) {
            (SortKey::Rx, Some(x)) => x.rx_bytes_per_s as u64,
            (SortKey::Tx, Some(x)) => x.tx_bytes_per_s as u64,
            (SortKey::Total, Some(x)) => x.total_bytes_per_s() as u64,
            (SortKey::Rx, None) => c.rx_bytes,
            (SortKey::Tx, None) => c.tx_bytes,
            (SortKey::Total, None) => c.total_bytes(),
        }
    }
}

/// Cgroup rows by the sort key (largest first, then by id), cut to `top`; the unresolved and
/// overflow rows always follow, so that no traffic is hidden by the cut. Sorts a small key
/// per row and then moves each (large) row once.
pub fn sort_and_cut(rows: &mut Vec<Row>, key: SortKey, top: Option<usize>) {
    let k = |r: &Row| key.of(&r.counters, r.rates.as_ref());
    // Buckets last (unresolved, then overflow: key 0 before 2^64-1), cgroups by size, then
    // id, then the breakdown's interface, protocol (or class) and port.
    type Order = (bool, std::cmp::Reverse<u64>, u64, u32, String, u16, String, usize);
    let mut order: Vec<Order> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let bucket = r.bucket != Bucket::Cgroup;
            (
                bucket,
                std::cmp::Reverse(if bucket { 0 } else { k(r) }),
                r.cgroup_id,
                r.ifindex.unwrap_or(0),
                r.protocol.clone().or_else(|| r.class.clone()).unwrap_or_default(),
                r.port.unwrap_or(0),
                r.peer.as_ref().map(|p| p.peer.clone()).unwrap_or_default(),
                i,
            )
        })
        .collect();
    order.sort_unstable();
    let limit = top.unwrap_or(usize::MAX);
    let mut slots: Vec<Option<Row>> = rows.drain(..).map(Some).collect();
    let mut cgroups = 0;
    for (bucket, .., i) in order {
        if !bucket {
            if cgroups == limit {
                continue;
            }
            cgroups += 1;
        }
        rows.extend(slots[i].take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: u64, rx: u64, tx: u64) -> Row {
        Row::bare(id, Source::Tc, Extra::None, Counters { rx_bytes: rx, tx_bytes: tx, ..Default::default() })
    }

    #[test]
    fn sorts_cuts_and_keeps_buckets() {
        let mut rows = vec![r(u64::MAX, 0, 0), r(10, 1, 100), r(11, 50, 0), r(0, 5, 5), r(12, 50, 1)];
        sort_and_cut(&mut rows, SortKey::Total, Some(2));
        let ids: Vec<u64> = rows.iter().map(|r| r.cgroup_id).collect();
        assert_eq!(ids, vec![10, 12, 0, u64::MAX]);
        let mut rows = vec![r(10, 1, 100), r(11, 50, 0), r(12, 50, 1)];
        sort_and_cut(&mut rows, SortKey::Rx, None);
        let ids: Vec<u64> = rows.iter().map(|r| r.cgroup_id).collect();
        assert_eq!(ids, vec![11, 12, 10]);
    }

    #[test]
    fn every_bucket_row_of_a_breakdown_survives_the_cut() {
        let port = |id: u64, p: u16| {
            Row::bare(id, Source::Tc, Extra::Port(6, p), Counters { tx_bytes: 1, ..Default::default() })
        };
        let mut rows = vec![port(0, 80), port(0, 0), port(u64::MAX, 0), port(7, 1), port(8, 2)];
        sort_and_cut(&mut rows, SortKey::Total, Some(1));
        let keys: Vec<(u64, u16)> = rows.iter().map(|r| (r.cgroup_id, r.port.unwrap())).collect();
        assert_eq!(keys, vec![(7, 1), (0, 0), (0, 80), (u64::MAX, 0)]);
    }

    #[test]
    fn a_row_serialises_its_fields_in_the_documented_order() {
        let mut row = r(7, 1, 2);
        row.rates = Some(Rates { rx_bytes_per_s: 1.5, ..Default::default() });
        let v = serde_json::to_value(&row).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "cgroup_id",
                "bucket",
                "path",
                "gone",
                "kind",
                "runtime",
                "container_id",
                "pod_uid",
                "name",
                "pod_namespace",
                "pod_name",
                "source",
                "rx_bytes",
                "tx_bytes",
                "rx_packets",
                "tx_packets",
                "rx_bytes_per_s",
                "tx_bytes_per_s",
                "rx_packets_per_s",
                "tx_packets_per_s"
            ]
        );
        let port = Row::bare(0, Source::Socket, Extra::Port(6, 80), Counters::default());
        let v = serde_json::to_value(&port).unwrap();
        assert_eq!(
            (v["protocol"].as_str(), v["port"].as_u64(), v["bucket"].as_str()),
            (Some("tcp"), Some(80), Some("unresolved"))
        );
    }

    #[test]
    fn overflow_id_is_null_in_json() {
        let v = serde_json::to_value(r(u64::MAX, 0, 0)).unwrap();
        assert!(v["cgroup_id"].is_null());
        assert_eq!(v["source"], "tc");
        assert!(v.get("port").is_none(), "breakdown fields appear only with --by");
    }
}
