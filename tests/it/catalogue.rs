//! The catalogue of bad invocations and environments (issue 8): each gets the documented
//! exit code (2 for usage, 1 for everything else), one clear line on stderr naming the
//! problem, nothing on stdout, and leaves the kernel state exactly as it was.
use std::process::Command;

use crate::harness::*;

/// Everything netattr could change: its pins, the test interface's filters and qdiscs,
/// and the programs on the cgroup2 root.
fn state(na: &Netattr, iface: &str) -> String {
    let mut pins: Vec<String> = std::fs::read_dir(&na.pin_dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    pins.sort();
    format!(
        "pins {pins:?}\n{}\n{}\n{}\n{}",
        tc_filters(iface, "ingress"),
        tc_filters(iface, "egress"),
        sh(&["tc", "qdisc", "show", "dev", iface]),
        sh(&["bpftool", "cgroup", "show", cgroup2().to_str().unwrap()])
    )
}

/// One case: arguments (after `netattr`), expected exit code, text the stderr line holds.
struct Case(&'static str, Vec<String>, i32, &'static str);

fn check(na: &Netattr, iface: &str, cases: Vec<Case>, how: impl Fn(&[String]) -> Command) {
    for Case(what, args, code, text) in cases {
        let before = state(na, iface);
        let r = run_cmd(&mut how(&args));
        assert_eq!(r.code, code, "{what}: {args:?} -> {r:?}");
        assert!(r.stderr.contains(text), "{what}: stderr lacks {text:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{what}: stdout must stay clean: {}", r.stdout);
        assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
        if code == 1 {
            assert_eq!(r.stderr.trim_end().lines().count(), 1, "{what}: one line: {}", r.stderr);
            assert!(r.stderr.starts_with("netattr: "), "{what}: {}", r.stderr);
        }
        assert_eq!(state(na, iface), before, "{what}: the kernel state changed");
    }
}

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn thirty_bad_invocations_fail_clearly_and_change_nothing() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let iface = c.host_if.as_str();
    let pin = na.pin_dir.to_str().unwrap().to_string();
    let with_pin = |args: &[String]| {
        let mut cmd = Command::new(BIN);
        cmd.args(args).arg("--pin-dir").arg(&pin).env_remove("NETATTR_PIN_DIR");
        cmd
    };
    let tmp = std::env::temp_dir().join(format!("netattr-test-{}-{}-cat", std::process::id(), uniq()));
    std::fs::create_dir_all(&tmp).unwrap();
    let file = tmp.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let link = tmp.join("a-link");
    std::os::unix::fs::symlink("/sys/fs/bpf", &link).unwrap();
    let other_dir = |p: &std::path::Path, args: &[&str]| -> Vec<String> {
        let mut a = v(args);
        a.extend(["--pin-dir".to_string(), p.to_str().unwrap().to_string()]);
        a
    };

    // Before load (and, below, after cleanup): every command that needs an instance.
    let before_load = || {
        vec![
            Case("stats before load", v(&["stats"]), 1, "not loaded"),
            Case("status before load", v(&["status"]), 1, "not loaded"),
            Case("attach before load", v(&["attach", "--iface", iface]), 1, "not loaded"),
            Case("attach --cgroup before load", v(&["attach", "--cgroup"]), 1, "not loaded"),
            Case("detach before load", v(&["detach", "--all"]), 1, "not loaded"),
            Case("events before load", v(&["events", "--count", "1"]), 1, "not loaded"),
            Case("resolve (all ids) before load", v(&["resolve"]), 1, "not loaded"),
            Case("interval stats before load", v(&["stats", "--interval", "1"]), 1, "not loaded"),
            Case("serve before load", v(&["serve", "--listen", "127.0.0.1:0"]), 1, "not loaded"),
        ]
    };
    check(na, iface, before_load(), with_pin);

    na.run(&["load"]).ok();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let missing_dir = tmp.join("no-such-dir").join("netattr.prom");
    check(
        na,
        iface,
        vec![
            Case("serve on a busy port", v(&["serve", "--listen", &busy_addr]), 1, "cannot listen on"),
            Case(
                "serve on no address",
                v(&["serve", "--listen", "localhost"]),
                2,
                "invalid value 'localhost'",
            ),
            Case("serve retire-after nonsense", v(&["serve", "--retire-after", "soon"]), 2, "invalid value"),
            Case("csv of a document", v(&["status", "--format", "csv"]), 1, "csv is for listings"),
            Case(
                "prometheus of a stream",
                v(&["events", "--format", "prometheus"]),
                1,
                "for 'netattr stats'",
            ),
            Case(
                "prometheus with interval",
                v(&["stats", "-o", "prometheus", "--interval", "1"]),
                1,
                "no --interval",
            ),
            Case(
                "output with interval",
                v(&["stats", "--output", "x.prom", "--interval", "1"]),
                2,
                "cannot be used with",
            ),
            Case(
                "output into a missing directory",
                v(&["stats", "--format", "prometheus", "--output", missing_dir.to_str().unwrap()]),
                1,
                "no-such-dir (create it first)",
            ),
            Case(
                "demo prefix too long",
                v(&["demo", "--prefix", "a-very-long-prefix"]),
                1,
                "1 to 12 characters",
            ),
            Case("demo prefix with /", v(&["demo", "--prefix", "a/b"]), 1, "1 to 12 characters"),
            Case("demo duration 0", v(&["demo", "--duration", "0"]), 2, "between 0.01 and 86400"),
            Case("demo clean and keep", v(&["demo", "--clean", "--keep"]), 2, "cannot be used with"),
        ],
        with_pin,
    );
    drop(busy);
    check(
        na,
        iface,
        vec![
            Case("double load", v(&["load"]), 1, "already loaded"),
            Case(
                "unknown interface",
                v(&["attach", "--iface", "nope-na0"]),
                1,
                "no such interface 'nope-na0'",
            ),
            Case(
                "one unknown among good",
                v(&["attach", "--iface", iface, "--iface", "nope-na0"]),
                1,
                "no such interface",
            ),
            Case(
                "interface name too long",
                v(&["attach", "--iface", "sixteen-chars-xx"]),
                1,
                "not a valid interface name",
            ),
            Case("interface name with /", v(&["attach", "--iface", "a/b"]), 1, "not a valid interface name"),
            Case("interface name ..", v(&["attach", "--iface", ".."]), 1, "not a valid interface name"),
            Case("empty interface name", v(&["attach", "--iface", ""]), 1, "not a valid interface name"),
            Case("detach unknown interface", v(&["detach", "--iface", "nope-na0"]), 1, "no such interface"),
            Case(
                "unknown cgroup",
                v(&["attach", "--cgroup", "/no/such/cgroup"]),
                1,
                "no cgroup '/no/such/cgroup'",
            ),
            Case("cgroup path escaping", v(&["attach", "--cgroup", "/../../etc"]), 1, "no cgroup"),
            Case("breakdown not loaded", v(&["stats", "--by", "port"]), 1, "load --breakdown port"),
            Case(
                "iface breakdown from socket",
                v(&["stats", "--by", "iface", "--source", "socket"]),
                1,
                "tc source only",
            ),
            Case("id not a number", v(&["resolve", "abc"]), 2, "invalid value 'abc'"),
            Case("negative id", v(&["resolve", "-5"]), 2, "unexpected argument"),
            Case("max-entries 0", v(&["load", "--max-entries", "0"]), 2, "0 is not in 1..=1048576"),
            Case("max-entries absurd", v(&["load", "--max-entries", "99999999999"]), 2, "invalid value"),
            Case("interval 0", v(&["stats", "--interval", "0"]), 2, "between 0.01 and 86400"),
            Case("interval not a number", v(&["stats", "--interval", "soon"]), 2, "between 0.01 and 86400"),
            Case("count without interval", v(&["stats", "--count", "3"]), 2, "--interval"),
            Case("unknown format", v(&["stats", "--format", "yaml"]), 2, "invalid value 'yaml'"),
            Case("attach without target", v(&["attach"]), 2, "--all-veth"),
            Case(
                "detach --all with --iface",
                v(&["detach", "--all", "--iface", iface]),
                2,
                "cannot be used with",
            ),
            Case("unknown subcommand", v(&["frobnicate"]), 2, "unrecognized subcommand"),
            Case("top without a terminal", v(&["top"]), 1, "needs a terminal"),
        ],
        with_pin,
    );
    // Pin directories that cannot be one.
    check(
        na,
        iface,
        vec![
            Case("pin dir is a file", other_dir(&file, &["load"]), 1, "is not a directory"),
            Case("pin dir is a symlink", other_dir(&link, &["load"]), 1, "symbolic link"),
            Case("pin dir not on bpffs", other_dir(&tmp, &["load"]), 1, "not on a bpf filesystem"),
            Case(
                "stats from a pin dir not on bpffs",
                other_dir(&tmp, &["stats"]),
                1,
                "not on a bpf filesystem",
            ),
        ],
        |args| {
            let mut cmd = Command::new(BIN);
            cmd.args(args).env_remove("NETATTR_PIN_DIR");
            cmd
        },
    );
    // Not root: every privileged command says so.
    let nobody = |args: &[String]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
            .arg(BIN)
            .args(args)
            .arg("--pin-dir")
            .arg(&pin);
        cmd
    };
    let verbs = ["load", "attach", "detach", "stats", "status", "cleanup", "resolve", "events", "top"];
    let unprivileged: Vec<Case> = verbs
        .iter()
        .map(|verb| {
            let args = match *verb {
                "attach" | "detach" => v(&[verb, "--iface", iface]),
                _ => v(&[verb]),
            };
            Case("not root", args, 1, "needs root privileges")
        })
        .collect();
    check(na, iface, unprivileged, nobody);

    // Pins left by a netattr with another map layout: refused, with the fix.
    let meta = na.pin("meta");
    let old =
        sh(&["bpftool", "-j", "map", "lookup", "pinned", meta.to_str().unwrap(), "key", "0", "0", "0", "0"]);
    assert!(old.contains("layout_version"), "{old}");
    // magic "neta", layout 1, the rest zero.
    let value =
        ["0x61", "0x74", "0x65", "0x6e", "1", "0", "0", "0"].into_iter().chain(std::iter::repeat_n("0", 16));
    let mut update =
        vec!["map", "update", "pinned", meta.to_str().unwrap(), "key", "0", "0", "0", "0", "value"];
    update.extend(value);
    sh(&[&["bpftool"][..], &update].concat());
    check(
        na,
        iface,
        vec![
            Case("stale layout: stats", v(&["stats"]), 1, "map layout 1"),
            Case("stale layout: attach", v(&["attach", "--iface", iface]), 1, "map layout 1"),
            Case("stale layout: load", v(&["load"]), 1, "map layout 1"),
        ],
        with_pin,
    );
    // cleanup still removes it all; afterwards everything is "before load" again.
    na.run(&["cleanup"]).ok();
    check(na, iface, before_load(), with_pin);
    let _ = std::fs::remove_dir_all(&tmp);
}
