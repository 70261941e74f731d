//! Who holds an address on a node: the node itself, or a workload (its network namespace's).
//! Read by core's address book, written by the ledger and the store as `host` or the
//! workload's identity.

/// A workload holding an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The cgroup path (below the cgroup2 mount) of the namespace's first process.
    pub path: String,
    /// Its workload identity, as the ledger bills it (`container:<id>`, `pod:<uid>`, ...).
    pub identity: String,
    pub name: Option<String>,
    pub pod_namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holding {
    Host,
    Workload(Holder),
}

/// How the ledger and the store write the node's own holding.
pub const HOST: &str = "host";

impl Holding {
    /// As the ledger and the store write it: `host`, or the workload's identity.
    pub fn text(&self) -> &str {
        match self {
            Holding::Host => HOST,
            Holding::Workload(h) => &h.identity,
        }
    }

    pub fn name(&self) -> Option<&String> {
        match self {
            Holding::Host => None,
            Holding::Workload(h) => h.name.as_ref(),
        }
    }

    pub fn pod_namespace(&self) -> Option<&String> {
        match self {
            Holding::Host => None,
            Holding::Workload(h) => h.pod_namespace.as_ref(),
        }
    }
}
