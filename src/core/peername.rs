//! How a peer row names its peer: the workload that holds the address (from the address
//! book), the host, the bare address, the other-peers row, or the class itself.
use std::net::IpAddr;

use serde::ser::SerializeStruct;

use super::peers::Peer;

/// What a peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// A workload on this node held the address.
    Workload,
    /// One of this node's own addresses.
    Host,
    /// An address no workload of this node held.
    Address,
    /// The addresses of a peer class the peer map had no room for.
    Other,
    /// A class not counted per peer (the internet by default).
    Class,
}

impl PeerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerKind::Workload => "workload",
            PeerKind::Host => "host",
            PeerKind::Address => "address",
            PeerKind::Other => "other",
            PeerKind::Class => "class",
        }
    }
}

/// A peer as rows show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerName {
    /// What people call it: the workload's name (its path when it has none), "host", the
    /// address, "(other peers)", or the class's name.
    pub peer: String,
    pub kind: PeerKind,
    pub address: Option<IpAddr>,
    /// The peer workload's cgroup path and pod namespace, where it has them.
    pub path: Option<String>,
    pub namespace: Option<String>,
}

use crate::model::pairs::OTHER_PEERS;

impl PeerName {
    /// The name a peer has before the address book is asked.
    pub fn unnamed(peer: &Peer, class: &str) -> PeerName {
        let (peer, kind, address) = match peer {
            Peer::Addr(ip) => (ip.to_string(), PeerKind::Address, Some(*ip)),
            Peer::Other => (OTHER_PEERS.to_string(), PeerKind::Other, None),
            Peer::Class => (class.to_string(), PeerKind::Class, None),
        };
        PeerName { peer, kind, address, path: None, namespace: None }
    }

    /// The row's peer fields, in the documented order.
    pub fn serialize_fields<S: SerializeStruct>(&self, st: &mut S) -> Result<(), S::Error> {
        st.serialize_field("peer", &self.peer)?;
        st.serialize_field("peer_kind", self.kind.as_str())?;
        st.serialize_field("peer_address", &self.address.map(|a| a.to_string()))?;
        st.serialize_field("peer_path", &self.path)?;
        st.serialize_field("peer_namespace", &self.namespace)
    }
}
