//! How rows are grouped: by a workload's name, its pod, kind, runtime, identity, label, or
//! its destination class.
use anyhow::{bail, Result};

/// What a report groups by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Name,
    PodNamespace,
    Pod,
    Kind,
    Runtime,
    Identity,
    Class,
    Label(String),
    /// The node a row was counted on (the fleet store's rows only).
    Node,
    /// The zone of that node (the fleet store's rows only).
    Zone,
    /// Who a workload talked to (`--breakdown peer`): the peer workload's name, `host`,
    /// `via <address>`, `(other peers)` or a class.
    Peer,
    /// The peer workload's pod namespace.
    PeerNamespace,
}

impl Field {
    pub fn parse(s: &str) -> Result<Field> {
        Ok(match s {
            "name" => Field::Name,
            "pod_namespace" | "namespace" => Field::PodNamespace,
            "pod" | "pod_name" => Field::Pod,
            "kind" => Field::Kind,
            "runtime" => Field::Runtime,
            "identity" | "workload" => Field::Identity,
            "class" => Field::Class,
            "node" => Field::Node,
            "zone" => Field::Zone,
            "peer" => Field::Peer,
            "peer_namespace" => Field::PeerNamespace,
            _ => match s.strip_prefix("label:") {
                Some(k) if !k.is_empty() => Field::Label(k.to_string()),
                _ => bail!(
                    "cannot group by '{s}': use name, pod_namespace, pod, kind, runtime, identity, class, label:KEY, node, zone, peer or peer_namespace"
                ),
            },
        })
    }

    /// A field of the pair table (who a workload talked to).
    pub fn of_peers(&self) -> bool {
        matches!(self, Field::Peer | Field::PeerNamespace)
    }

    /// Only the fleet store knows it (a node's ledger is one node).
    pub fn fleet_only(&self) -> bool {
        matches!(self, Field::Node | Field::Zone)
    }

    pub fn label(&self) -> String {
        match self {
            Field::Name => "name".into(),
            Field::PodNamespace => "pod_namespace".into(),
            Field::Pod => "pod".into(),
            Field::Kind => "kind".into(),
            Field::Runtime => "runtime".into(),
            Field::Identity => "identity".into(),
            Field::Class => "class".into(),
            Field::Label(k) => format!("label:{k}"),
            Field::Node => "node".into(),
            Field::Zone => "zone".into(),
            Field::Peer => "peer".into(),
            Field::PeerNamespace => "peer_namespace".into(),
        }
    }
}
