//! The demo's three workloads, as Docker containers (from the local image that
//! `scripts/docker-image.sh` builds) or as network namespaces with their own cgroups, each
//! serving on port 80 behind a veth. `remove` takes away everything a demo with this prefix
//! made, whether it ended well or was killed: it runs before a demo starts and after it ends.
use std::fs;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::sh::{ip_cmd, run_ok};
use super::traffic::{Role, PORT, ROLES};
use crate::cgroup;
pub use crate::cli::Runtime;

pub const IMAGE: &str = "netattr-busybox:latest";

/// A running workload: where its server answers and the host side of its veth.
pub struct Workload {
    pub role: Role,
    pub ip: Ipv4Addr,
    pub host_veth: String,
}

pub struct Workloads {
    pub runtime: Runtime,
    pub list: Vec<Workload>,
    servers: Vec<Child>,
}

/// Picks the runtime: Docker only when asked or when it can run the demo right now.
pub fn choose(asked: Runtime) -> Result<Runtime> {
    let engine = run_ok(Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]));
    let image = engine && run_ok(Command::new("docker").args(["image", "inspect", IMAGE]));
    match asked {
        Runtime::Docker if !engine => {
            bail!("no Docker engine answers (docker version): start it, or use --runtime netns")
        }
        Runtime::Docker if !image => {
            bail!(
                "Docker has no image {IMAGE}: build it with scripts/docker-image.sh, or use --runtime netns"
            )
        }
        Runtime::Auto if image => Ok(Runtime::Docker),
        Runtime::Auto => {
            if engine {
                eprintln!("netattr: demo: no image {IMAGE} (scripts/docker-image.sh builds it): using network namespaces");
            }
            Ok(Runtime::Netns)
        }
        other => Ok(other),
    }
}

impl Workloads {
    pub fn start(prefix: &str, runtime: Runtime, keep: bool) -> Result<Workloads> {
        let mut w = Workloads { runtime, list: Vec::new(), servers: Vec::new() };
        for (n, role) in ROLES.iter().enumerate() {
            match runtime {
                Runtime::Docker => w.list.push(docker_start(prefix, role)?),
                _ => {
                    let (workload, child) = netns_start(prefix, n as u8, role, keep)?;
                    w.list.push(workload);
                    w.servers.push(child);
                }
            }
        }
        let veths: Vec<String> = ROLES.iter().map(|r| veth(prefix, r.name)).collect();
        w.servers.push(super::uplink::start(prefix, &slice(prefix)?, &veths, keep)?);
        for wl in &w.list {
            wait_listening(wl)?;
        }
        Ok(w)
    }

    /// Stops the namespace servers (Docker's are stopped by `remove`).
    pub fn stop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.servers.clear();
    }
}

/// Removes every container, namespace, veth and cgroup of the demo `prefix`. Quiet and
/// idempotent: what is not there is skipped.
pub fn remove(prefix: &str) {
    if run_ok(Command::new("docker").args(["version"])) {
        for role in ROLES {
            quiet(Command::new("docker").args(["rm", "-f", &name(prefix, role.name)]));
        }
    }
    for role in ROLES {
        quiet(Command::new("ip").args(["netns", "delete", &name(prefix, role.name)]));
        quiet(Command::new("ip").args(["link", "delete", &veth(prefix, role.name)]));
    }
    let veths: Vec<String> = ROLES.iter().map(|r| veth(prefix, r.name)).collect();
    super::uplink::remove(prefix, &veths);
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", ledger(prefix).display()));
    }
    if let Ok(slice) = slice(prefix) {
        let services = ROLES.iter().map(|r| format!("{}.service", name(prefix, r.name)));
        for service in services.chain([super::uplink::service(prefix)]) {
            let dir = slice.join(service);
            kill_cgroup(&dir);
            let _ = retry_rmdir(&dir);
        }
        let _ = retry_rmdir(&slice);
    }
}

/// The ledger the demo records into.
pub fn ledger(prefix: &str) -> PathBuf {
    PathBuf::from(format!("/run/netattr-demo-{prefix}.db"))
}

pub fn name(prefix: &str, role: &str) -> String {
    format!("{prefix}-{role}")
}

/// The host side of a namespace workload's veth: at most 15 bytes with a 12-byte prefix.
fn veth(prefix: &str, role: &str) -> String {
    format!("{prefix}-{}", &role[..1])
}

fn slice(prefix: &str) -> Result<PathBuf> {
    Ok(cgroup::mount_point()?.join(format!("{prefix}.slice")))
}

fn docker_start(prefix: &str, role: &Role) -> Result<Workload> {
    let name = name(prefix, role.name);
    // The uploader sends a burst a second (busybox has no pacing tool): about role.upload
    // bytes per second on average, to the demo's internet (behind Docker's own masquerade).
    let upload = match role.upload {
        Some(rate) => format!(
            "{{ while :; do head -c {rate} /dev/zero | nc -w 2 {} {}; sleep 1; done & }} && ",
            super::uplink::INTERNET,
            super::uplink::SINK_PORT
        ),
        None => String::new(),
    };
    let script = format!(
        "mkdir -p /www && head -c {} /dev/zero > /www/object && {upload}exec httpd -f -p {PORT} -h /www",
        role.object
    );
    let out = Command::new("docker")
        .args(["run", "-d", "--name", &name, "--label", &format!("netattr.demo={prefix}"), IMAGE, "sh", "-c"])
        .arg(&script)
        .output()
        .context("running docker")?;
    if !out.status.success() {
        bail!("docker run {name}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let ip =
        docker_output(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", &name])?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| anyhow!("container {name} has no IPv4 address ('{ip}')"))?;
    // The host side of the container's eth0 is the link whose index is eth0's iflink.
    let iflink: u32 = docker_output(&["exec", &name, "cat", "/sys/class/net/eth0/iflink"])?
        .parse()
        .map_err(|_| anyhow!("reading the veth of container {name}"))?;
    let host_veth = crate::netlink::links()?
        .into_iter()
        .find(|l| l.index == iflink)
        .map(|l| l.name)
        .ok_or_else(|| {
            anyhow!("the host side of container {name}'s veth (ifindex {iflink}) is not in this namespace")
        })?;
    Ok(Workload { role: *role, ip, host_veth })
}

fn docker_output(args: &[&str]) -> Result<String> {
    let out = Command::new("docker").args(args).output().context("running docker")?;
    if !out.status.success() {
        bail!("docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A namespace workload: netns `<prefix>-<role>` behind veth `<prefix>-<r>`, addresses from
/// 10.213.<hash of prefix>.<4n>/30, a cgroup `<prefix>.slice/<prefix>-<role>.service`, and
/// this binary's `demo-server` in both.
fn netns_start(prefix: &str, n: u8, role: &Role, keep: bool) -> Result<(Workload, Child)> {
    let ns = name(prefix, role.name);
    let host = veth(prefix, role.name);
    let third = prefix.bytes().fold(7u8, |h, b| h.wrapping_mul(31).wrapping_add(b));
    let host_ip = Ipv4Addr::new(10, 213, third, 4 * n + 1);
    let ip = Ipv4Addr::new(10, 213, third, 4 * n + 2);
    ip_cmd(&["netns", "add", &ns])?;
    ip_cmd(&["link", "add", &host, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
    ip_cmd(&["addr", "add", &format!("{host_ip}/30"), "dev", &host])?;
    ip_cmd(&["link", "set", &host, "up"])?;
    ip_cmd(&["-n", &ns, "addr", "add", &format!("{ip}/30"), "dev", "eth0"])?;
    ip_cmd(&["-n", &ns, "link", "set", "eth0", "up"])?;
    ip_cmd(&["-n", &ns, "link", "set", "lo", "up"])?;
    ip_cmd(&["-n", &ns, "route", "add", "default", "via", &host_ip.to_string()])?;

    let dir = slice(prefix)?.join(format!("{ns}.service"));
    fs::create_dir_all(&dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
    let procs = fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
        .with_context(|| format!("opening {}/cgroup.procs", dir.display()))?;
    let netns = fs::File::open(format!("/run/netns/{ns}")).with_context(|| format!("opening netns {ns}"))?;
    let (procs_fd, netns_fd) = (procs.as_raw_fd(), netns.as_raw_fd());
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["demo-server", "--object", &role.object.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(rate) = role.upload {
        let to = format!("{}:{}", super::uplink::INTERNET, super::uplink::SINK_PORT);
        cmd.args(["--upload", &to, "--upload-rate", &rate.to_string()]);
    }
    // "0" moves the writer itself into the cgroup; the server dies with the demo unless it
    // is kept.
    let child = crate::ffi::spawn_into(&mut cmd, procs_fd, netns_fd, keep)
        .with_context(|| format!("starting the {} server in {ns}", role.name))?;
    Ok((Workload { role: *role, ip, host_veth: host }, child))
}

/// Waits (at most 10 s) until the workload's server accepts connections.
fn wait_listening(w: &Workload) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = std::net::SocketAddr::from((w.ip, PORT));
    loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(_) => return Ok(()),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => bail!("the {} workload at {addr} does not answer: {e}", w.role.name),
        }
    }
}

/// Kills whatever still runs in a demo cgroup (a server left by a killed demo).
fn kill_cgroup(dir: &std::path::Path) {
    if let Ok(pids) = fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in pids.lines().filter_map(|p| p.parse::<i32>().ok()) {
            crate::ffi::kill(pid);
        }
    }
}

/// rmdir, retried for a second: a killed process leaves its cgroup a moment later.
fn retry_rmdir(dir: &std::path::Path) -> std::io::Result<()> {
    for _ in 0..20 {
        match fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => std::thread::sleep(Duration::from_millis(50)),
            other => return other,
        }
    }
    fs::remove_dir(dir)
}

fn quiet(cmd: &mut Command) {
    let _ = run_ok(cmd);
}
