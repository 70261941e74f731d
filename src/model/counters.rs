//! What is counted: bytes and packets each way, and which hooks counted them.
use serde::{Deserialize, Serialize};

/// Which hooks a counter comes from (`enum netattr_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// clsact classifiers on interfaces (L2 bytes)
    Tc,
    /// cgroup_skb programs on a cgroup (L3 bytes)
    Socket,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Tc => "tc",
            Source::Socket => "socket",
        }
    }
}

/// Bytes and packets received and sent (`struct counters` in the kernel's maps).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.rx_bytes += o.rx_bytes;
        self.tx_bytes += o.tx_bytes;
        self.rx_packets += o.rx_packets;
        self.tx_packets += o.tx_packets;
    }

    pub fn total_bytes(&self) -> u64 {
        self.rx_bytes + self.tx_bytes
    }

    /// What was counted since `earlier`, or None when any counter is below it (a reset).
    pub fn since(&self, earlier: &Counters) -> Option<Counters> {
        Some(Counters {
            rx_bytes: self.rx_bytes.checked_sub(earlier.rx_bytes)?,
            tx_bytes: self.tx_bytes.checked_sub(earlier.tx_bytes)?,
            rx_packets: self.rx_packets.checked_sub(earlier.rx_packets)?,
            tx_packets: self.tx_packets.checked_sub(earlier.tx_packets)?,
        })
    }
}

/// A destination class's id in one load (names by id: `class_names`).
pub type ClassId = u16;
