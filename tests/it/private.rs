//! What netattr writes is private and reached safely: the ledger and --output files, the
//! links at their paths, readers without write access; and report's exit codes.
use crate::harness::*;

fn mode_and_owner(p: &str) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).unwrap();
    (m.mode() & 0o7777, m.uid())
}

/// `netattr ARGS` as user nobody (uid and gid 65534, no other group).
fn as_nobody(na: &Netattr, args: &[&str]) -> Run {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "--pin-dir"])
        .arg(&na.pin_dir)
        .args(args);
    run_cmd(&mut cmd)
}

/// The ledger and its -wal and -shm are made 0640 whatever the umask, an existing file keeps
/// its owner and mode, a link another user planted is not followed, an SQLite file of
/// something else is left alone, and a reader without write access (a member of the
/// file's group) reads the live ledger and a copy; one who may not read is told who may.
#[test]
fn the_ledger_is_private_reached_safely_and_readable_without_write_access() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    let dir = TempDir::new();
    sh(&["chmod", "0755", dir.0.to_str().unwrap()]);
    // A database of something else.
    let other = dir.join("other.db");
    sh(&["sqlite3", other.to_str().unwrap(), "CREATE TABLE t (x); INSERT INTO t VALUES (1);"]);
    let before = std::fs::read(&other).unwrap();
    na.run(&["record", "--once", "--ledger", other.to_str().unwrap()])
        .fails_with("is an SQLite database of something else (1 tables, no netattr schema)");
    assert!(std::fs::read(&other).unwrap() == before, "left as it was");
    // A link planted by another user in a shared sticky directory.
    let shared = shared_sticky_dir(&dir);
    let victim = dir.join("victim.db");
    let planted = shared.join("l.db");
    plant_link(&victim, &planted);
    na.run(&["record", "--once", "--ledger", planted.to_str().unwrap()])
        .fails_with("is a symbolic link owned by user 65534");
    assert!(!victim.exists(), "nothing made where the link points");
    // A new ledger: 0640, and so are its -wal and -shm, kept when the recorder closes.
    let ledger = dir.join("l.db");
    let l = ledger.to_str().unwrap();
    let mut cmd = na.cmd(&["record", "--once", "--ledger", l]);
    run_cmd(cmd.pre_exec_umask(0o022)).ok();
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode_and_owner(&format!("{l}{suffix}")), (0o640, 0), "{l}{suffix}");
    }
    // A reader outside its group is told who may read it.
    as_nobody(na, &["report", "--ledger", l]).fails_with("cannot be read by this user (mode 0640");
    // In its group (the operator's chgrp), the reader reads it while a recorder runs and
    // after, without write access to the file or its directory.
    sh(&["chgrp", "65534", l, &format!("{l}-wal"), &format!("{l}-shm")]);
    {
        let _rec = Background::record(na, &ledger, dir.join("record.log"));
        wait_for_cycles(&ledger, 1);
        let r = as_nobody(na, &["report", "--ledger", l, "--since", "0", "--format", "json"]).ok();
        assert!(r.json()["groups"].is_array());
    }
    let r = as_nobody(na, &["report", "--ledger", l, "--since", "0", "--format", "json"]).ok();
    assert!(r.json()["groups"].is_array());
    // The recorder kept the group and mode the operator gave the files.
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(format!("{l}{suffix}")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.gid()), (0o640, 65534), "{l}{suffix}");
    }
    // A copy (SQLite's backup, as docs/ledger.md says), read by a user who may not write
    // beside it.
    let copy = dir.join("copy.db");
    sh(&["sqlite3", l, &format!(".backup {}", copy.display())]);
    sh(&["chmod", "0644", copy.to_str().unwrap()]);
    as_nobody(na, &["report", "--ledger", copy.to_str().unwrap(), "--since", "0"]).ok();
    // An existing file's owner and mode are kept.
    // (SQLite's own shell removed -wal and -shm when it closed the file: the recorder makes
    // them again, with the file's owner and mode.)
    sh(&["chown", "65534:65534", l]);
    sh(&["chmod", "0600", l]);
    na.run(&["record", "--once", "--ledger", l]).ok();
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode_and_owner(&format!("{l}{suffix}")), (0o600, 65534), "{l}{suffix}");
    }
}

trait Umask {
    fn pre_exec_umask(&mut self, mask: libc::mode_t) -> &mut Self;
}

impl Umask for std::process::Command {
    /// Runs the command under `mask`.
    fn pre_exec_umask(&mut self, mask: libc::mode_t) -> &mut Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: umask(2) is async-signal-safe and touches no memory of ours.
        unsafe {
            self.pre_exec(move || {
                libc::umask(mask);
                Ok(())
            })
        }
    }
}

/// `--output` keeps a replaced file's owner and mode, makes a new one 0640, and refuses a
/// link another user planted (before, it replaced a root 0600 file through it, as 0644).
#[test]
fn output_keeps_owner_and_mode_and_refuses_another_users_link() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    let dir = TempDir::new();
    let fresh = dir.join("fresh.prom");
    na.run(&["stats", "--format", "prometheus", "--output", fresh.to_str().unwrap()]).ok();
    assert_eq!(mode_and_owner(fresh.to_str().unwrap()), (0o640, 0));
    let theirs = dir.join("theirs.prom");
    std::fs::write(&theirs, "old").unwrap();
    sh(&["chown", "65534:65534", theirs.to_str().unwrap()]);
    sh(&["chmod", "0604", theirs.to_str().unwrap()]);
    na.run(&["stats", "--format", "prometheus", "--output", theirs.to_str().unwrap()]).ok();
    assert_eq!(mode_and_owner(theirs.to_str().unwrap()), (0o604, 65534));
    assert!(std::fs::read_to_string(&theirs).unwrap().contains("netattr_rx_bytes_total"));
    // A root 0600 file, and another user's link to it in a shared sticky directory.
    let secret = dir.join("secret");
    std::fs::write(&secret, "root's").unwrap();
    sh(&["chmod", "0600", secret.to_str().unwrap()]);
    let shared = shared_sticky_dir(&dir);
    let link = shared.join("netattr.prom");
    plant_link(&secret, &link);
    na.run(&["stats", "--output", link.to_str().unwrap()])
        .fails_with("is a symbolic link owned by user 65534");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root's");
    assert_eq!(mode_and_owner(secret.to_str().unwrap()), (0o600, 0));
}

/// `report --limit`: exact to the byte up to what a counter holds, refused beyond it before
/// anything runs, and "groups over the limit" (exit 3) told apart from an error (exit 1).
#[test]
fn report_limit_is_exact_and_its_exit_code_apart_from_errors() {
    let dir = TempDir::new();
    let absent = dir.join("absent.db");
    let r = run_cmd(std::process::Command::new(BIN).args([
        "report",
        "--ledger",
        absent.to_str().unwrap(),
        "--limit",
        "1",
    ]));
    assert_eq!(r.code, 1, "an error: {r:?}");
    let r = run_cmd(std::process::Command::new(BIN).args(["report", "--limit", "18446744073709551616"]));
    assert_eq!(r.code, 2, "a usage error: {r:?}");
    assert!(r.stderr.contains("more bytes than a counter holds"), "{}", r.stderr);
}

/// A world-writable sticky directory in `dir`, as /tmp is.
fn shared_sticky_dir(dir: &TempDir) -> std::path::PathBuf {
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    sh(&["chmod", "1777", shared.to_str().unwrap()]);
    shared
}

/// A symbolic link at `link` to `target`, made by user nobody (another user than netattr's).
fn plant_link(target: &std::path::Path, link: &std::path::Path) {
    let ln = run_cmd(std::process::Command::new("setpriv").args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "ln",
        "-s",
        target.to_str().unwrap(),
        link.to_str().unwrap(),
    ]));
    assert_eq!(ln.code, 0, "{ln:?}");
}
