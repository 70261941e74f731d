//! Crash safety: netattr killed with SIGKILL in the middle of a command leaves nothing a
//! later `status` cannot explain or `cleanup` cannot remove.
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;

/// After whatever a killed command left: status explains it, cleanup removes it all.
fn explained_and_removable(na: &Netattr, iface: &str) {
    let st = na.run(&["status", "--format", "json"]);
    match st.code {
        0 => assert_eq!(st.json()["state"], "loaded"),
        // Killed before its first pin (the directory may exist, empty): nothing is loaded.
        1 if st.stderr.contains("not loaded") => {}
        1 => {
            // An unfinished load: status says so (state partial) and points at cleanup.
            assert_eq!(st.json()["state"], "partial", "{st:?}");
            assert!(st.stderr.contains("netattr cleanup"), "{st:?}");
            na.run(&["load"]).fails_with("unfinished netattr load");
        }
        _ => panic!("{st:?}"),
    }
    na.run(&["cleanup"]).ok();
    assert!(!na.pin_dir.exists(), "cleanup removes every pin");
    assert!(
        !tc_filters(iface, "ingress").contains("tc_ingress")
            && !tc_filters(iface, "egress").contains("tc_egress")
    );
    assert!(!has_clsact(iface), "no qdisc of netattr's is left");
}

#[test]
fn sigkill_during_load_or_attach_leaves_explainable_removable_state() {
    let Some(s) = scene(1, false) else { return };
    let (na, c) = (&s.na, &s.c[0]);
    // How long a load takes here, to spread the kills over it.
    let t = std::time::Instant::now();
    na.run(&["load"]).ok();
    let load_time = t.elapsed();
    na.run(&["cleanup"]).ok();
    for i in 0..8u32 {
        let mut child = na.cmd(&["load"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(load_time * i / 8);
        let _ = Command::new("kill").args(["-KILL", &child.id().to_string()]).status();
        let _ = child.wait();
        explained_and_removable(na, &c.host_if);
    }
    for i in 0..6u32 {
        na.run(&["load"]).ok();
        let mut child = na
            .cmd(&["attach", "--iface", &c.host_if])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(3) * i);
        let _ = Command::new("kill").args(["-KILL", &child.id().to_string()]).status();
        let _ = child.wait();
        explained_and_removable(na, &c.host_if);
    }
}

#[test]
fn a_partial_pin_set_is_reported_and_cleaned() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    // What a load killed between its first pin and `meta` leaves: some of netattr's pins.
    std::fs::create_dir_all(&na.pin_dir).unwrap();
    sh(&[
        "bpftool",
        "map",
        "create",
        na.pin("stats_map").to_str().unwrap(),
        "type",
        "hash",
        "key",
        "8",
        "value",
        "8",
        "entries",
        "4",
        "name",
        "stats_map",
    ]);
    let st = na.run(&["status", "--format", "json"]);
    assert_eq!(st.code, 1);
    assert_eq!(st.json()["state"], "partial");
    assert_eq!(st.json()["pins"], serde_json::json!(["stats_map"]));
    na.run(&["stats"]).fails_with("unfinished netattr load");
    na.run(&["load"]).fails_with("unfinished netattr load");
    na.run(&["cleanup"]).ok();
    assert!(!na.pin_dir.exists());
    na.run(&["load"]).ok();
}
