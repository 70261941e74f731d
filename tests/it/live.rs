//! Rates: `stats --interval` streams one report per interval while traffic flows.
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::harness::*;

#[test]
fn interval_reports_stream_rates_of_known_traffic() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let tree_root = s.tree.rel();
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &tree_root]).ok();
    let h = s.tree.cgroup("host.slice/receiver.service");
    const RATE: u64 = 2_000_000; // bytes per second, for 6 seconds
    let r = Peer::spawn(&h, None, &format!("tcp-recv {}:7800", c.host_ip)).ready();
    let sender = c.peer(&format!("tcp-rate {}:7800 {RATE} 6", c.host_ip));
    let mut stats = na
        .cmd(&["stats", "--interval", "1", "--count", "4", "--format", "ndjson"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Vec<serde_json::Value> = BufReader::new(stats.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).expect("one JSON object per line"))
        .collect();
    assert!(stats.wait().unwrap().success());
    sender.finish();
    r.finish();
    assert_eq!(lines.len(), 4, "--count 4 gives four reports");
    let tx_rate = |v: &serde_json::Value| {
        v["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["cgroup_id"] == c.cgroup.id)
            .map(|r| r["tx_bytes_per_s"].as_f64().unwrap())
    };
    for v in &lines {
        assert_eq!(v["schema"], 1);
        assert!(v["interval_s"].as_f64().unwrap() > 0.5, "{v}");
        for row in v["cgroups"].as_array().unwrap() {
            assert!(
                row["rx_bytes_per_s"].as_f64().unwrap() >= 0.0
                    && row["tx_bytes_per_s"].as_f64().unwrap() >= 0.0
            );
        }
    }
    // The middle reports lie wholly inside the 6 s of traffic.
    for v in &lines[1..3] {
        let got = tx_rate(v).unwrap_or_else(|| panic!("no row for the sender: {v}"));
        assert!(
            (got - RATE as f64).abs() <= 0.2 * RATE as f64,
            "sender tx {got:.0} B/s, sent at {RATE} B/s: {v}"
        );
    }
}

/// A tmux session this test started; Drop kills it.
struct Tmux(String);

impl Tmux {
    fn capture(&self) -> String {
        sh(&["tmux", "capture-pane", "-p", "-t", &self.0])
    }

    fn show(&self, format: &str) -> String {
        sh(&["tmux", "display-message", "-p", "-t", &self.0, format]).trim().to_string()
    }

    /// Polls the screen (10 s at most) until `ok` holds; returns that screen.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let mut screen = String::new();
        let shown = || {
            screen = self.capture();
            ok(&screen)
        };
        if poll_until(std::time::Duration::from_secs(10), std::time::Duration::from_millis(100), shown) {
            return screen;
        }
        panic!("tmux screen never showed {what}:\n{}", self.capture());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}

#[test]
fn top_in_a_terminal_shows_rows_sorts_on_s_and_restores_the_terminal_on_q() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    let tree_root = s.tree.rel();
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &tree_root]).ok();
    let (a, b) =
        (s.tree.cgroup("system.slice/sender-a.service"), s.tree.cgroup("host.slice/receiver-b.service"));
    let r = Peer::spawn(&b, None, &format!("tcp-recv {}:7900", c.host_ip)).ready();
    let sender = Peer::spawn(&a, Some(&c.ns.name), &format!("tcp-rate {}:7900 3000000 10", c.host_ip));

    let t = Tmux(format!("netattr-test-{}-{}", std::process::id(), uniq()));
    let status_file = std::env::temp_dir().join(format!("{}.status", t.0));
    let cmd = format!("{BIN} top --pin-dir {}; echo $? > {}", na.pin_dir.display(), status_file.display());
    sh(&["tmux", "new-session", "-d", "-s", &t.0, "-x", "100", "-y", "30", &cmd]);
    sh(&["tmux", "set-option", "-w", "-t", &t.0, "remain-on-exit", "on"]);
    let pos = |screen: &str, name: &str| screen.find(name).unwrap_or(usize::MAX);
    let screen = t.wait_for("both workloads", |s| {
        s.contains("sender-a.service") && s.contains("receiver-b.service") && s.contains("M/s")
    });
    assert!(screen.contains("sort: tx/s"), "{screen}");
    assert!(
        pos(&screen, "sender-a.service") < pos(&screen, "receiver-b.service"),
        "by tx the sender leads:\n{screen}"
    );
    sh(&["tmux", "send-keys", "-t", &t.0, "s"]);
    let screen = t.wait_for("the rx order", |s| s.contains("sort: rx/s"));
    assert!(
        pos(&screen, "receiver-b.service") < pos(&screen, "sender-a.service"),
        "by rx the receiver leads:\n{screen}"
    );
    // g sums rows per name: each service is a group of one cgroup here.
    sh(&["tmux", "send-keys", "-t", &t.0, "g"]);
    let screen = t.wait_for("the rows by name", |s| s.contains("by: name") && s.contains("1 cgroup"));
    assert!(screen.contains("sender-a.service") && screen.contains("receiver-b.service"), "{screen}");
    sh(&["tmux", "send-keys", "-t", &t.0, "q"]);
    poll_until(std::time::Duration::from_secs(5), std::time::Duration::from_millis(100), || {
        t.show("#{pane_dead}") == "1"
    });
    // tmux may not have the dead pane's exit status yet: the pane's shell wrote it.
    assert_eq!(t.show("#{pane_dead} #{alternate_on}"), "1 0", "the pane ended off the alternate screen");
    let code = std::fs::read_to_string(&status_file).unwrap_or_default();
    let _ = std::fs::remove_file(&status_file);
    assert_eq!(code.trim(), "0", "top exited 0");
    sender.finish();
    r.finish();
}

#[test]
fn top_refuses_politely_without_a_terminal() {
    let Some(s) = scene(0, false) else { return };
    s.na.run(&["load"]).ok();
    s.na.run(&["top"]).fails_with("stats --interval 1");
}

#[test]
fn top_ends_when_its_terminal_goes_away() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load"]).ok();
    let t = Tmux(format!("netattr-test-{}-{}", std::process::id(), uniq()));
    let cmd = format!("exec {BIN} top --pin-dir {}", na.pin_dir.display());
    sh(&["tmux", "new-session", "-d", "-s", &t.0, "-x", "100", "-y", "30", &cmd]);
    t.wait_for("the dashboard", |s| s.contains("netattr top"));
    let pid: i32 = t.show("#{pane_pid}").parse().unwrap();
    // The terminal goes away (as when an ssh session drops): tmux closes the pty.
    sh(&["tmux", "kill-session", "-t", &t.0]);
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|st| st.rsplit(')').next().is_some_and(|r| !r.trim_start().starts_with('Z')))
    };
    if poll_until(std::time::Duration::from_secs(5), std::time::Duration::from_millis(100), || !alive()) {
        return;
    }
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    signal(pid as u32, libc::SIGKILL);
    panic!("top still runs 5 s after its terminal went away: {cpu}");
}

#[test]
fn top_follows_cleanup_and_a_new_load() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let t = Tmux(format!("netattr-test-{}-{}", std::process::id(), uniq()));
    let cmd = format!("exec {BIN} top --interval 0.3 --pin-dir {}", na.pin_dir.display());
    sh(&["tmux", "new-session", "-d", "-s", &t.0, "-x", "120", "-y", "30", &cmd]);
    t.wait_for("the dashboard", |s| s.contains("netattr top"));
    na.run(&["cleanup"]).ok();
    t.wait_for("the wait for a new load", |s| s.contains("waiting for a new load"));
    na.run(&["load"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    // Traffic that only the new instance counts, from a cgroup named for this test.
    let sender = s.tree.cgroup("system.slice/after-reload.service");
    let h = s.tree.cgroup("host.slice/receiver.service");
    let port = 9600 + (uniq() % 100) as u16;
    let r = Peer::spawn(&h, None, &format!("tcp-recv {}:{port}", c.host_ip)).ready();
    let tx = Peer::spawn(&sender, Some(&c.ns.name), &format!("tcp-rate {}:{port} 2000000 3", c.host_ip));
    t.wait_for("the new instance's rows", |s| s.contains("after-reload.service") && !s.contains("waiting"));
    tx.finish();
    r.finish();
}
