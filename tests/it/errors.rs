//! Clear errors: one line on stderr naming the object and the fix, a non-zero exit, and
//! the kernel state as it was.
use std::path::PathBuf;
use std::process::Command;

use crate::harness::*;

#[test]
fn unknown_and_invalid_interfaces() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    let pins = std::fs::read_dir(&na.pin_dir).unwrap().count();
    na.run(&["attach", "--iface", "nope-na0"]).fails_with("no such interface 'nope-na0'");
    na.run(&["attach", "--iface", "lo", "--iface", "nope-na0"]).fails_with("no such interface 'nope-na0'");
    assert!(!has_clsact("lo"), "nothing is attached when one name is bad");
    na.run(&["attach", "--iface", "a/b"]).fails_with("'a/b' is not a valid interface name");
    na.run(&["attach", "--iface", "sixteen-chars-xx"]).fails_with("is not a valid interface name");
    na.run(&["detach", "--iface", "nope-na0"]).fails_with("no such interface 'nope-na0'");
    assert_eq!(std::fs::read_dir(&na.pin_dir).unwrap().count(), pins);
}

#[test]
fn every_reader_before_load_says_to_load() {
    if !privileged() {
        return;
    }
    let na = Netattr::new();
    for args in [vec!["stats"], vec!["status"], vec!["attach", "--iface", "lo"], vec!["detach", "--all"]] {
        na.run(&args).fails_with("netattr is not loaded at");
    }
    assert!(!na.pin_dir.exists());
}

#[test]
fn non_root_user_is_told_to_use_root() {
    if !privileged() {
        return;
    }
    let na = Netattr::new();
    for verb in ["load", "stats", "cleanup"] {
        let r = run_cmd(
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
                .arg(BIN)
                .arg(verb)
                .arg("--pin-dir")
                .arg(&na.pin_dir),
        );
        r.fails_with(&format!("{verb} needs root privileges"));
    }
    assert!(!na.pin_dir.exists());
    // `check` runs unprivileged and reports the failure in its table.
    let r = run_cmd(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
            .arg(BIN)
            .args(["check", "--format", "json"]),
    );
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["ok"], false);
    let p = v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "privileges").unwrap();
    assert_eq!(p["status"], "fail");
}

#[test]
fn host_without_cgroup2_fails_loudly_and_changes_nothing() {
    if !privileged() {
        return;
    }
    let na = Netattr::new();
    let cg2 = cgroup2();
    // A private mount namespace in which the cgroup2 mount is gone.
    let script = format!("umount -l {cg} && exec {bin} \"$@\"", cg = cg2.display(), bin = BIN);
    let inner = |args: &[&str]| {
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
            .args(args)
            .arg("--pin-dir")
            .arg(&na.pin_dir);
        run_cmd(&mut c)
    };
    inner(&["load"]).fails_with("no cgroup2 filesystem is mounted");
    assert!(!na.pin_dir.exists(), "load left a pin directory behind");
    // Loaded on the host, read where cgroup2 is missing.
    na.run(&["load"]).ok();
    inner(&["stats"]).fails_with("no cgroup2 filesystem is mounted");
    let r = inner(&["check"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("cgroup2") && r.stdout.contains("FAIL"), "{}", r.stdout);
    // The host itself still has it.
    assert!(cg2.join("cgroup.procs").exists());
}

#[test]
fn pin_dir_must_be_on_bpffs() {
    if !privileged() {
        return;
    }
    let dir = PathBuf::from(format!("/tmp/netattr-test-notbpf-{}-{}", std::process::id(), uniq()));
    let run = |args: &[&str]| run_cmd(Command::new(BIN).args(args).arg("--pin-dir").arg(&dir));
    run(&["load"]).fails_with("is not on a bpf filesystem");
    assert!(!dir.exists(), "load must not create a directory outside bpffs");
    std::fs::create_dir(&dir).unwrap();
    run(&["load"]).fails_with("is not on a bpf filesystem");
    run(&["stats"]).fails_with("is not on a bpf filesystem");
    run(&["cleanup"]).fails_with("is not on a bpf filesystem");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir(&dir).unwrap();
    // A file where the directory should be.
    std::fs::write(&dir, "x").unwrap();
    run(&["load"]).fails_with("is not a directory");
    std::fs::remove_file(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    let r = run_cmd(Command::new(BIN).args(["attach"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--all-veth") && r.stdout.is_empty(), "{r:?}");
    let r = run_cmd(Command::new(BIN).args(["load", "--max-entries", "0"]));
    assert_eq!(r.code, 2, "{r:?}");
    let r = run_cmd(Command::new(BIN).args(["stats", "--format", "yaml"]));
    assert_eq!(r.code, 2, "{r:?}");
    let r = run_cmd(Command::new(BIN).args(["--version"]));
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("netattr "));
}

#[test]
fn hostile_cgroup_names_cannot_break_tables_or_terminals() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let tree_root = s.tree.rel();
    // The kernel refuses newlines in cgroup names but takes ESC and TAB.
    let evil = s.tree.cgroup("evil\u{1b}[2J\u{1b}[31mred\tcol.service");
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &tree_root]).ok();
    let h = s.tree.cgroup("host.slice/h.service");
    c.send(&evil, &h, 7950, 50000);
    for args in [vec!["stats"], vec!["resolve"], vec!["stats", "--interval", "0.1", "--count", "1"]] {
        let out = na.run(&args).ok().stdout;
        assert!(
            !out.contains('\u{1b}') && !out.contains('\t'),
            "raw control characters in {args:?}:\n{out:?}"
        );
        let line =
            out.lines().find(|l| l.contains("red")).unwrap_or_else(|| panic!("no row for the cgroup: {out}"));
        assert!(line.contains(r"evil\u{1b}[2J\u{1b}[31mred\tcol.service"), "{line}");
    }
    // JSON carries the exact name, escaped by JSON itself.
    let st = na.run(&["stats", "--format", "json"]).ok().json();
    let row = row(&st, evil.id).clone();
    assert_eq!(row["path"].as_str(), Some(evil.rel.as_str()));
}

/// A cgroup name that is not UTF-8 is carried exactly (each such byte as U+10FF00 + byte),
/// live and from the kernel's record after it is gone; tables show the byte as `\xNN`.
#[test]
fn names_that_are_not_utf8_are_carried_exactly() {
    use std::os::unix::ffi::OsStrExt;
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let dir = s.tree.root.join(std::ffi::OsStr::from_bytes(b"bad\xffname.service"));
    std::fs::create_dir(&dir).unwrap();
    let odd = Cgroup {
        id: netattr::cgroup::id_of(&dir).unwrap(),
        rel: format!("{}/bad\u{10FFFF}name.service", s.tree.rel()),
        path: dir.clone(),
    };
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let h = s.tree.cgroup("host.slice/h.service");
    c.send(&odd, &h, 7960, 30000);
    let st = na.run(&["stats", "--format", "json"]).ok().json();
    assert_eq!(row(&st, odd.id)["path"].as_str(), Some(odd.rel.as_str()), "live, by file handle");
    let table = na.run(&["stats"]).ok().stdout;
    assert!(table.contains(r"bad\xffname.service"), "{table}");
    std::fs::remove_dir(&dir).unwrap();
    let r = na.run(&["resolve", &odd.id.to_string(), "--format", "json"]).ok().json();
    assert_eq!(r["cgroups"][0]["state"], "gone", "{r}");
    assert_eq!(r["cgroups"][0]["path"].as_str(), Some(odd.rel.as_str()), "from the kernel's record");
}
