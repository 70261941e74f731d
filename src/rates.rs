//! Rates from two samples of ever-growing counters. A counter that shrank was reset (the
//! counters were cleaned up and loaded again): its rate is what it counted since the reset,
//! never negative. A key that vanished has no rate; a key that appeared counts from zero.
use std::collections::HashMap;
use std::hash::Hash;

use serde::Serialize;

use crate::bpf::Counters;

/// Per-second rates of one key.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    pub rx_bytes_per_s: f64,
    pub tx_bytes_per_s: f64,
    pub rx_packets_per_s: f64,
    pub tx_packets_per_s: f64,
}

impl Rates {
    pub fn total_bytes_per_s(&self) -> f64 {
        self.rx_bytes_per_s + self.tx_bytes_per_s
    }

    pub fn add(&mut self, o: &Rates) {
        self.rx_bytes_per_s += o.rx_bytes_per_s;
        self.tx_bytes_per_s += o.tx_bytes_per_s;
        self.rx_packets_per_s += o.rx_packets_per_s;
        self.tx_packets_per_s += o.tx_packets_per_s;
    }
}

/// The growth of a counter between two samples; a counter that shrank restarted from zero.
fn delta(prev: u64, cur: u64) -> u64 {
    if cur >= prev {
        cur - prev
    } else {
        cur
    }
}

/// Rates of `cur` over `prev`, `seconds` apart.
pub fn rates(prev: Option<&Counters>, cur: &Counters, seconds: f64) -> Rates {
    let p = prev.copied().unwrap_or_default();
    let per_s = |d: u64| if seconds > 0.0 { d as f64 / seconds } else { 0.0 };
    Rates {
        rx_bytes_per_s: per_s(delta(p.rx_bytes, cur.rx_bytes)),
        tx_bytes_per_s: per_s(delta(p.tx_bytes, cur.tx_bytes)),
        rx_packets_per_s: per_s(delta(p.rx_packets, cur.rx_packets)),
        tx_packets_per_s: per_s(delta(p.tx_packets, cur.tx_packets)),
    }
}

/// The previous sample, by key.
pub struct Sampler<K> {
    prev: HashMap<K, Counters>,
}

impl<K: Eq + Hash + Clone> Default for Sampler<K> {
    fn default() -> Self {
        Sampler { prev: HashMap::new() }
    }
}

impl<K: Eq + Hash + Clone> Sampler<K> {
    /// Rates of each key of `cur` since the previous call; keys no longer present are
    /// forgotten.
    pub fn next<'a, I: IntoIterator<Item = (&'a K, &'a Counters)>>(
        &mut self,
        cur: I,
        seconds: f64,
    ) -> HashMap<K, Rates>
    where
        K: 'a,
    {
        let mut next = HashMap::new();
        let mut out = HashMap::new();
        for (k, c) in cur {
            out.insert(k.clone(), rates(self.prev.get(k), c, seconds));
            next.insert(k.clone(), *c);
        }
        self.prev = next;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(rx: u64, tx: u64) -> Counters {
        Counters { rx_bytes: rx, tx_bytes: tx, rx_packets: rx / 100, tx_packets: tx / 100 }
    }

    #[test]
    fn deltas_over_the_interval() {
        let r = rates(Some(&c(1000, 5000)), &c(3000, 5000), 2.0);
        assert_eq!(r.rx_bytes_per_s, 1000.0);
        assert_eq!(r.tx_bytes_per_s, 0.0);
        assert_eq!(r.rx_packets_per_s, 10.0);
    }

    #[test]
    fn a_reset_counts_from_zero_never_negative() {
        let r = rates(Some(&c(1_000_000, 1_000_000)), &c(400, 0), 1.0);
        assert_eq!(r.rx_bytes_per_s, 400.0);
        assert_eq!(r.tx_bytes_per_s, 0.0);
        assert!(r.rx_packets_per_s >= 0.0);
    }

    #[test]
    fn keys_appear_and_vanish() {
        let mut s: Sampler<u64> = Sampler::default();
        let first = s.next([(&1, &c(100, 100))], 1.0);
        assert_eq!(first[&1].rx_bytes_per_s, 100.0, "a new key counts from zero");
        let second = s.next([(&2, &c(50, 0))], 1.0);
        assert!(!second.contains_key(&1), "a vanished key has no rate");
        assert_eq!(second[&2].rx_bytes_per_s, 50.0);
        let third = s.next([(&1, &c(300, 300))], 0.5);
        assert_eq!(third[&1].rx_bytes_per_s, 600.0, "a key that came back starts over");
        assert_eq!(rates(None, &c(10, 10), 0.0), Rates::default(), "no time, no rate");
    }
}
