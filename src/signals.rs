//! SIGINT, SIGTERM and SIGHUP as a flag, for the long-running commands (`top`,
//! `attach --watch`), so that they stop cleanly instead of dying mid-change.
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// From now on, these signals set the flag instead of ending the process.
pub fn catch() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        crate::ffi::on_signal(sig, on_signal);
    }
}

pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}
