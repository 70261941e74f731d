//! A recorder in the background, and waiting on the cycles it notes in its ledger.
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::*;

/// A netattr command running in the background (a recorder, a stream), its stdout and
/// stderr in files the test reads as it goes; Drop stops it with SIGTERM.
pub struct Background {
    child: std::process::Child,
    log: std::path::PathBuf,
    out: std::path::PathBuf,
}

impl Background {
    pub fn record(na: &Netattr, ledger: &Path, log: std::path::PathBuf) -> Background {
        Background::record_with(na, ledger, log, &[])
    }

    /// `record` with `args` too.
    pub fn record_with(na: &Netattr, ledger: &Path, log: std::path::PathBuf, args: &[&str]) -> Background {
        let base = ["record", "--ledger", ledger.to_str().unwrap(), "--interval", "0.2"];
        Background::spawn(na.cmd(&[&base[..], args].concat()), log)
    }

    /// `cmd` started, its stderr to `log` and its stdout to `log` with ".out" added.
    pub fn spawn(mut cmd: Command, log: std::path::PathBuf) -> Background {
        let mut out = log.clone().into_os_string();
        out.push(".out");
        let out = std::path::PathBuf::from(out);
        cmd.stdout(std::fs::File::create(&out).unwrap()).stderr(std::fs::File::create(&log).unwrap());
        Background { child: cmd.spawn().unwrap(), log, out }
    }

    /// What it wrote on stderr so far.
    pub fn said(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What it wrote on stdout so far.
    pub fn printed(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits (20 s at most) until its stderr holds `text`.
    pub fn wait_said(&self, text: &str) {
        wait_until(&format!("'{text}' on stderr"), Duration::from_secs(20), || self.said().contains(text));
    }

    /// Waits (20 s at most) until it holds a BPF map open: it has opened the instance.
    pub fn wait_open(&self) {
        let fds = format!("/proc/{}/fd", self.child.id());
        wait_until("the instance opened", Duration::from_secs(20), || {
            std::fs::read_dir(&fds)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("bpf-map")))
        });
    }

    /// Whether it still runs (not ended, not a zombie waiting for its wait).
    pub fn running(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        stat.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().is_empty() && !r.trim_start().starts_with('Z'))
    }

    /// SIGINT to its process group (Ctrl-C on a terminal: it was spawned as the leader of a
    /// group of its own), then waits (20 s at most) for it to end: with exit 0, or by the
    /// signal (a shell whose pipeline ends by it, or exit 130 as a shell says so).
    pub fn stop_group(mut self) {
        use std::os::unix::process::ExitStatusExt;
        signal_group(self.child.id(), libc::SIGINT);
        let mut status = None;
        wait_until("the end on SIGINT", Duration::from_secs(20), || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        let by_sigint = |s: std::process::ExitStatus| {
            s.signal() == Some(libc::SIGINT) || s.code() == Some(128 + libc::SIGINT)
        };
        let ok = status.is_some_and(|s| s.success() || by_sigint(s));
        assert!(ok, "{status:?}: {}", self.said());
    }

    /// SIGKILL, and the wait.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (20 s at most) for it to end; it must exit 0. Returns (stdout,
    /// stderr).
    pub fn stop(mut self) -> (String, String) {
        signal(self.child.id(), libc::SIGTERM);
        let mut status = None;
        wait_until("the end on SIGTERM", Duration::from_secs(20), || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        let (out, err) = (self.printed(), self.said());
        assert!(status.is_some_and(|s| s.success()), "{status:?}: {err}");
        (out, err)
    }
}

impl Drop for Background {
    /// SIGTERM (a recorder's last cycle) and the wait, unless it ended already.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), libc::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// The cycles the recorder writing the ledger at `ledger` has noted (0 before its first).
pub fn recorder_cycles(ledger: &Path) -> i64 {
    let c = rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY);
    c.and_then(|c| c.query_row("SELECT cycles FROM recorder WHERE id = 1", [], |r| r.get(0))).unwrap_or(0)
}

/// Waits (20 s at most) until the ledger's recorder has noted `more` cycles than now.
pub fn wait_for_cycles(ledger: &Path, more: i64) {
    let want = recorder_cycles(ledger) + more;
    wait_until(&format!("{more} recorder cycles in {}", ledger.display()), Duration::from_secs(20), || {
        recorder_cycles(ledger) >= want
    });
}

/// A column of the ledger's recorder row (None before its first cycle).
fn recorder_column(ledger: &Path, column: &str) -> Option<i64> {
    let c = rusqlite::Connection::open_with_flags(ledger, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    c.query_row(&format!("SELECT {column} FROM recorder WHERE id = 1"), [], |r| r.get(0)).ok()?
}

/// Waits (20 s at most) until the ledger's recorder has had a cycle at `t` or later by its
/// own clock (NETATTR_CLOCK_SHIFT moves it).
pub fn wait_for_recorder_clock(ledger: &Path, t: i64) {
    wait_until(&format!("a recorder cycle at {t} or later"), Duration::from_secs(20), || {
        recorder_column(ledger, "at").is_some_and(|at| at >= t)
    });
}

/// Waits (20 s at most) until the ledger holds every read of its recorder before `t`.
pub fn wait_for_complete_until(ledger: &Path, t: i64) {
    wait_until(&format!("every read before {t} billed"), Duration::from_secs(20), || {
        recorder_column(ledger, "complete_until").is_some_and(|c| c >= t)
    });
}
