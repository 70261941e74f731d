//! The ledger's rollup alone: `bench_roll init LEDGER` makes an empty ledger of this
//! netattr's schema (for a script to fill with 5-minute rows); `bench_roll roll LEDGER`
//! rolls every hour, day (with its 5-minute profiles, `series`) and month that is over, as
//! the recorder does slice by slice, and prints the rows, slices and this thread's CPU.
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
    let started = netattr::ffi::thread_cpu_time();
    let (mut rows, mut slices) = (0, 0);
    loop {
        let done = l.roll(i64::MAX / 2, Duration::from_secs(3600)).unwrap();
        if done.slices == 0 {
            break;
        }
        (rows, slices) = (rows + done.rows, slices + done.slices);
    }
    let cpu = netattr::ffi::thread_cpu_time().saturating_sub(started);
    println!("rolled {rows} rows in {slices} slices, {:.1} s CPU", cpu.as_secs_f64());
}
