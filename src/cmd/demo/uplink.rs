//! The demo's pretend internet: a network namespace `<prefix>-inet` behind an uplink veth
//! `<prefix>-u` (203.0.113.1/30 on the host, .2 in the namespace), holding a sink at
//! 198.51.100.10:9000 that reads and discards. The host routes 198.51.100.10 over the
//! uplink and masquerades what it forwards there (an nftables table of the demo's), as a
//! node does for its containers, so the bulk workload's uploads leave "the node" through NAT
//! and netattr's `internet` class shows who sends them. IPv4 forwarding is turned on while
//! the demo runs and put back after; the value it had waits in /run so that `--clean`
//! puts it back after a killed demo too. All addresses are documentation ranges.
use std::fs;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

use super::sh::{ip_cmd as ip, run_ok};

/// The sink's address: the "internet" the bulk workload uploads to.
pub const INTERNET: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
pub const SINK_PORT: u16 = 9000;
const HOST_SIDE: &str = "203.0.113.1";
const FAR_SIDE: &str = "203.0.113.2";
const FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

fn ns(prefix: &str) -> String {
    format!("{prefix}-inet")
}

fn link(prefix: &str) -> String {
    format!("{prefix}-u")
}

fn table(prefix: &str) -> String {
    format!("{}_demo", prefix.replace('-', "_"))
}

fn saved_forward(prefix: &str) -> PathBuf {
    PathBuf::from(format!("/run/netattr-demo-{prefix}.ip_forward"))
}

/// Builds the uplink and the namespace beyond it, lets the workloads' host-side veths
/// forward there, and starts the sink (in `<slice>/<prefix>-inet.service`).
pub fn start(prefix: &str, slice: &std::path::Path, veths: &[String], keep: bool) -> Result<Child> {
    let (ns, up) = (ns(prefix), link(prefix));
    ip(&["netns", "add", &ns])?;
    ip(&["link", "add", &up, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
    ip(&["addr", "add", &format!("{HOST_SIDE}/30"), "dev", &up])?;
    ip(&["link", "set", &up, "up"])?;
    ip(&["-n", &ns, "addr", "add", &format!("{FAR_SIDE}/30"), "dev", "eth0"])?;
    ip(&["-n", &ns, "addr", "add", &format!("{INTERNET}/32"), "dev", "lo"])?;
    ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
    ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    ip(&["-n", &ns, "route", "add", "default", "via", HOST_SIDE])?;
    ip(&["route", "add", &format!("{INTERNET}/32"), "via", FAR_SIDE, "dev", &up])?;
    let was = fs::read_to_string(FORWARD).context("reading net.ipv4.ip_forward")?;
    if was.trim() != "1" {
        fs::write(saved_forward(prefix), &was).context("keeping net.ipv4.ip_forward's value")?;
        fs::write(FORWARD, "1").context("turning on IPv4 forwarding")?;
    }
    let t = table(prefix);
    run(Command::new("nft").args(["add", "table", "ip", &t]), "nft (nftables)")?;
    run(
        Command::new("nft").args([
            "add",
            "chain",
            "ip",
            &t,
            "post",
            "{ type nat hook postrouting priority 100; }",
        ]),
        "nft",
    )?;
    run(Command::new("nft").args(["add", "rule", "ip", &t, "post", "oifname", &up, "masquerade"]), "nft")?;
    // Where a firewall drops forwarded packets by policy (Docker sets it so), the demo's
    // own links are let through, by rules that name them (removed by `remove`).
    if forward_drops() {
        for v in veths.iter().chain([&up]) {
            for dir in ["-i", "-o"] {
                run(Command::new("iptables").args(["-I", "FORWARD", dir, v, "-j", "ACCEPT"]), "iptables")?;
            }
        }
    }
    let dir = slice.join(format!("{ns}.service"));
    fs::create_dir_all(&dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
    let procs = fs::OpenOptions::new().write(true).open(dir.join("cgroup.procs"))?;
    let netns = fs::File::open(format!("/run/netns/{ns}")).with_context(|| format!("opening netns {ns}"))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["demo-server", "--sink", &SINK_PORT.to_string()]).stdin(Stdio::null()).stdout(Stdio::null());
    crate::ffi::spawn_into(&mut cmd, procs.as_raw_fd(), netns.as_raw_fd(), keep)
        .context("starting the internet's sink")
}

/// Removes what `start` made; quiet and idempotent. `veths` are the links that may have
/// forwarding rules.
pub fn remove(prefix: &str, veths: &[String]) {
    let up = link(prefix);
    for v in veths.iter().chain([&up]) {
        for dir in ["-i", "-o"] {
            // Each rule was inserted once; delete until there is none.
            for _ in 0..4 {
                if !run_ok(Command::new("iptables").args(["-D", "FORWARD", dir, v, "-j", "ACCEPT"])) {
                    break;
                }
            }
        }
    }
    run_ok(Command::new("nft").args(["delete", "table", "ip", &table(prefix)]));
    run_ok(Command::new("ip").args(["link", "delete", &up]));
    run_ok(Command::new("ip").args(["netns", "delete", &ns(prefix)]));
    if let Ok(was) = fs::read_to_string(saved_forward(prefix)) {
        if fs::write(FORWARD, was.trim()).is_ok() {
            let _ = fs::remove_file(saved_forward(prefix));
        }
    }
}

/// The cgroup directory of the sink, for the caller's cleanup.
pub fn service(prefix: &str) -> String {
    format!("{}.service", ns(prefix))
}

fn forward_drops() -> bool {
    Command::new("iptables")
        .args(["-S", "FORWARD"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("-P FORWARD DROP"))
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        anyhow::bail!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}
