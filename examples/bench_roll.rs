//! The ledger's rollup alone: `bench_roll init LEDGER` makes an empty ledger of this
//! netattr's schema (for a script to fill with 5-minute rows); `bench_roll roll LEDGER`
//! rolls every hour, day (with its 5-minute profiles, `series`) and month that is over, as
//! the recorder does slice by slice, and prints the rows, slices and this thread's CPU (in
//! all, and each slice's: a recorder's cycle rolls at least one).
// Tests and benchmarks fail loudly: unwrap and expect are how they say what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::Duration;

use netattr::ledger::Ledger;

fn main() {
    let mut args = std::env::args().skip(1);
    let (what, path) = (args.next().unwrap_or_default(), args.next().expect("LEDGER"));
    let mut l = Ledger::open_rw(std::path::Path::new(&path)).unwrap();
    if what != "roll" {
        return;
    }
    // One slice a call, as a recorder's cycle does at least: each slice's CPU.
    let (mut rows, mut each) = (0, Vec::new());
    loop {
        let started = netattr::ffi::thread_cpu_time();
        let done = l.roll(i64::MAX / 2, Duration::ZERO).unwrap();
        if done.slices == 0 {
            break;
        }
        each.push(netattr::ffi::thread_cpu_time().saturating_sub(started).as_secs_f64() * 1000.0);
        rows += done.rows;
    }
    let total: f64 = each.iter().sum();
    each.sort_by(f64::total_cmp);
    let at = |q: f64| {
        each.get(((each.len() as f64 * q) as usize).min(each.len().saturating_sub(1))).copied().unwrap_or(0.0)
    };
    println!(
        "rolled {rows} rows in {} slices, {:.1} s CPU; a slice's CPU: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        each.len(),
        total / 1000.0,
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
