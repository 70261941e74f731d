//! Docker fixtures: the test image, containers this test started.
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;

pub const IMAGE: &str = "netattr-busybox:latest";

/// True when a Docker engine answers (and the test image exists). Skipping is an error
/// when CI is set.
pub fn docker() -> bool {
    if !docker_up() {
        skip("no Docker engine", "no Docker engine answers (.ci/run starts dockerd)");
        return false;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/docker-image.sh");
    sh(&[script, IMAGE]);
    true
}

/// True when a Docker engine answers.
pub fn docker_up() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Docker container this test started; Drop removes it.
pub struct DockerContainer {
    pub name: String,
    pub id: String,
}

impl DockerContainer {
    /// `docker run -d --name <unique>-<role> IMAGE sh -c <script>`.
    pub fn start(role: &str, script: &str) -> Self {
        DockerContainer::start_with(role, &[], script)
    }

    /// `start`, with `args` given to `docker run` too.
    pub fn start_with(role: &str, args: &[&str], script: &str) -> Self {
        let name = format!("netattr-test-{}-{}-{role}", pid(), uniq());
        quiet(&["docker", "rm", "-f", &name]);
        let run =
            [&["docker", "run", "-d", "--name", &name][..], args, &[IMAGE, "sh", "-c", script]].concat();
        let id = sh(&run).trim().to_string();
        DockerContainer { name, id }
    }

    pub fn inspect(&self, format: &str) -> String {
        sh(&["docker", "inspect", "-f", format, &self.name]).trim().to_string()
    }

    /// Waits (15 s at most) until the container has printed `text`.
    pub fn wait_for_log(&self, text: &str) {
        let printed = || {
            let out = Command::new("docker").args(["logs", &self.name]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).contains(text)
        };
        if !poll_until(Duration::from_secs(15), Duration::from_millis(100), printed) {
            panic!("{} did not print {text:?} within 15 s", self.name);
        }
    }

    pub fn ip(&self) -> String {
        self.inspect("{{.NetworkSettings.IPAddress}}")
    }

    /// The container's cgroup directory, from its init process.
    pub fn cgroup_dir(&self) -> PathBuf {
        let pid = self.inspect("{{.State.Pid}}");
        let line = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let rel = line.lines().find_map(|l| l.strip_prefix("0::")).unwrap().to_string();
        cgroup2().join(rel.trim_start_matches('/'))
    }
}

impl Drop for DockerContainer {
    fn drop(&mut self) {
        quiet(&["docker", "rm", "-f", &self.name]);
    }
}

/// `docker run --rm` in the foreground; returns once the container is gone.
pub fn docker_run_rm(role: &str, script: &str) -> String {
    let name = format!("netattr-test-{}-{}-{role}", pid(), uniq());
    sh(&["docker", "run", "--rm", "--name", &name, IMAGE, "sh", "-c", script]);
    name
}

/// The address of Docker's default bridge on the host: its IPAM gateway, or, where the
/// engine leaves that out (it does when it adopts an existing docker0), docker0's address.
pub fn docker_gateway() -> String {
    let g = sh(&["docker", "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "bridge"]);
    if !g.trim().is_empty() {
        return g.trim().to_string();
    }
    let a = sh(&["ip", "-4", "-o", "addr", "show", "docker0"]);
    a.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .expect("docker0 has an IPv4 address")
        .to_string()
}
