//! Names people use for workloads, looked up only for the rows that need them:
//! - Docker: the container name and labels from the Engine API on its unix socket; for a
//!   container already removed (`docker run --rm`), Docker's own recent event history,
//!   which still carries its name;
//! - Kubernetes: a pod's namespace and name from the kubelet's pod log directories
//!   (`/var/log/pods/<namespace>_<name>_<uid>`), and its labels from the runtime's records
//!   of its sandbox (containerd's API, CRI-O's state: `podlabels`), so no API server is
//!   needed.
//!
//! A missing socket or directory is not an error: rows just have no name. A socket that
//! answers garbage or does not answer costs one warning on stderr and a bounded wait.
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::identity::Summary;

mod fetched;
use fetched::{Fetched, Health};

/// Where names and labels are looked up, and which label keys are kept.
#[derive(Debug, Clone)]
pub struct Sources {
    pub docker_socket: PathBuf,
    pub pods_dir: PathBuf,
    pub containerd_socket: PathBuf,
    pub containerd_namespace: String,
    pub crio_dir: PathBuf,
    pub keys: crate::model::LabelKeys,
}

/// What Docker says about a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiContainer {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiEvent {
    #[serde(default)]
    actor: Option<ApiActor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiActor {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

/// Parses `GET /containers/json`.
pub fn parse_containers(body: &[u8]) -> Result<HashMap<String, DockerInfo>> {
    let list: Vec<ApiContainer> =
        serde_json::from_slice(body).context("unexpected /containers/json reply")?;
    Ok(list
        .into_iter()
        .map(|c| {
            let name = c.names.first().map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default();
            (c.id, DockerInfo { name, labels: c.labels.unwrap_or_default() })
        })
        .collect())
}

/// Parses `GET /events` (a stream of JSON objects): container id -> name and labels, from
/// the attributes Docker attaches to each container event.
pub fn parse_events(body: &[u8]) -> Result<HashMap<String, DockerInfo>> {
    let mut out = HashMap::new();
    for ev in serde_json::Deserializer::from_slice(body).into_iter::<ApiEvent>() {
        let Some(actor) = ev.context("unexpected /events reply")?.actor else { continue };
        let mut attrs = actor.attributes;
        let Some(name) = attrs.remove("name") else { continue };
        attrs.remove("image");
        attrs.remove("exitCode");
        out.insert(actor.id, DockerInfo { name, labels: attrs });
    }
    Ok(out)
}

/// Parses a kubelet pod log directory name: `<namespace>_<name>_<uid>`.
pub fn parse_pod_dir(name: &str) -> Option<(String, String, String)> {
    let mut it = name.splitn(3, '_');
    let (ns, pod, uid) = (it.next()?, it.next()?, it.next()?);
    (!ns.is_empty() && !pod.is_empty() && uid.len() == 36).then(|| (ns.into(), pod.into(), uid.into()))
}

/// Looks names up lazily and keeps them. A name missing from a table fetched before
/// `fresh_after` is fetched again, once: a long-running consumer moves `fresh_after` on
/// (`events` at each record, `serve` and `top` at each report), so it names containers and
/// pods that appear after its first lookups, at the cost of one fetch per miss and period.
pub struct Names {
    sources: Sources,
    /// Docker events since this unix time are searched for removed containers.
    since: u64,
    containers: Fetched<HashMap<String, DockerInfo>>,
    history: Fetched<HashMap<String, DockerInfo>>,
    pods: Fetched<HashMap<String, (String, String)>>,
    pod_labels: Fetched<crate::podlabels::PodLabels>,
    fresh_after: Instant,
    docker_health: Health,
    containerd_health: Health,
}

impl Names {
    pub fn new(sources: &Sources, since: u64) -> Self {
        Names {
            sources: sources.clone(),
            since,
            containers: Fetched::none(),
            history: Fetched::none(),
            pods: Fetched::none(),
            pod_labels: Fetched::none(),
            fresh_after: Instant::now(),
            docker_health: Health::default(),
            containerd_health: Health::default(),
        }
    }

    /// From now on, a name missing from what was fetched until now is fetched again.
    pub fn refresh_on_miss(&mut self) {
        self.fresh_after = Instant::now();
    }

    /// Forgets what was fetched.
    pub fn forget(&mut self) {
        self.containers = Fetched::none();
        self.history = Fetched::none();
        self.pods = Fetched::none();
        self.pod_labels = Fetched::none();
    }

    /// Fills the name fields of `s` where a source knows them.
    pub fn enrich(&mut self, s: &mut Summary) {
        if let Some(uid) = s.pod_uid.clone() {
            if let Some((ns, pod)) = self.pod(&uid) {
                s.pod_namespace = Some(ns.clone());
                s.pod_name = Some(pod.clone());
                s.name = Some(format!("{ns}/{pod}"));
            }
            if let Some(labels) = self.labels_of_pod(&uid) {
                s.labels = Some(self.sources.keys.keep(labels));
            }
        }
        // Docker's, and a container whose runtime the path does not say (one under a
        // --cgroup-parent): Docker names it when it knows the id.
        if s.runtime == Some("docker") || s.runtime.is_none() && s.container_id.is_some() {
            if let Some(info) = s.container_id.as_deref().and_then(|id| self.docker(id)) {
                s.runtime = Some("docker");
                s.name = Some(info.name);
                s.labels = Some(self.sources.keys.keep(info.labels));
            }
        }
    }

    fn pod(&mut self, uid: &str) -> Option<(String, String)> {
        if self.pods.stale(self.fresh_after, |m| m.contains_key(uid)) {
            let table = match fs::read_dir(&self.sources.pods_dir) {
                Ok(rd) => rd
                    .flatten()
                    .filter_map(|e| parse_pod_dir(&e.file_name().to_string_lossy()))
                    .map(|(ns, pod, uid)| (uid, (ns, pod)))
                    .collect(),
                Err(_) => HashMap::new(),
            };
            self.pods.set(table);
        }
        self.pods.get().and_then(|m| m.get(uid)).cloned()
    }

    /// A pod's labels, from containerd's sandboxes and CRI-O's; a containerd that fails
    /// costs one warning, is left alone for a while like Docker's socket, and leaves the pods
    /// it would have labelled without labels.
    fn labels_of_pod(&mut self, uid: &str) -> Option<BTreeMap<String, String>> {
        if self.pod_labels.stale(self.fresh_after, |m| m.contains_key(uid)) {
            let src = &self.sources;
            let mut table = if self.containerd_health.resting() {
                Default::default()
            } else {
                let found = crate::podlabels::containerd(
                    &src.containerd_socket,
                    &src.containerd_namespace,
                    DOCKER_DEADLINE,
                );
                found.unwrap_or_else(|e| {
                    self.containerd_health.rest();
                    self.containerd_health.warn_once(|| {
                        format!("netattr: no pod labels from {e:#} (pods keep their names; see --containerd-socket)")
                    });
                    Default::default()
                })
            };
            table.extend(crate::podlabels::crio(&self.sources.crio_dir));
            self.pod_labels.set(table);
        }
        self.pod_labels.get().and_then(|m| m.get(uid)).cloned()
    }

    fn docker(&mut self, id: &str) -> Option<DockerInfo> {
        if !self.sources.docker_socket.exists() || self.docker_health.resting() {
            return None;
        }
        if self.containers.stale(self.fresh_after, |m| m.contains_key(id)) {
            let r = self.get("/containers/json?all=1").and_then(|b| parse_containers(&b));
            if r.is_err() {
                // Do not wait on a broken socket again for a while.
                self.docker_health.rest();
            }
            let table = self.or_warn(r);
            self.containers.set(table);
        }
        if let Some(i) = self.containers.get().and_then(|m| m.get(id)) {
            return Some(i.clone());
        }
        if self.docker_health.resting() {
            return None;
        }
        if self.history.stale(self.fresh_after, |m| m.contains_key(id)) {
            // `until` is now to the nanosecond: already past when Docker reads it, so it
            // sends its history and closes instead of streaming until the second ends.
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let until = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
            let filters = "%7B%22type%22%3A%5B%22container%22%5D%7D"; // {"type":["container"]}
            let path =
                format!("/events?since={}&until={until}&filters={filters}", self.since.saturating_sub(1));
            let r = self.get(&path).and_then(|b| parse_events(&b));
            let table = self.or_warn(r);
            self.history.set(table);
        }
        self.history.get().and_then(|m| m.get(id)).cloned()
    }

    fn or_warn(&mut self, r: Result<HashMap<String, DockerInfo>>) -> HashMap<String, DockerInfo> {
        r.unwrap_or_else(|e| {
            let socket = self.sources.docker_socket.display();
            self.docker_health.warn_once(|| {
                format!("netattr: no container names from {socket}: {e:#} (rows keep their ids; see --docker-socket)")
            });
            HashMap::new()
        })
    }

    /// One GET on the Docker socket, bounded in time and size.
    fn get(&self, path: &str) -> Result<Vec<u8>> {
        http_get(&self.sources.docker_socket, path, DOCKER_DEADLINE)
    }
}

/// How long a Docker (or containerd) API call may take in all.
const DOCKER_DEADLINE: Duration = Duration::from_secs(3);
/// The largest reply read (a host with many containers stays far below).
const MAX_REPLY: usize = 64 << 20;

/// An HTTP/1.0 GET over a unix socket: HTTP/1.0 keeps the reply free of chunked encoding and
/// lets the server close the connection when done (Docker's server does). The deadline
/// bounds the whole exchange, so a server that hangs or drips costs at most `deadline`.
/// (libcurl did this too, but loading it and its 28 libraries cost 8 ms of CPU on every
/// netattr invocation.)
pub fn http_get(socket: &Path, path: &str, deadline: Duration) -> Result<Vec<u8>> {
    use std::io::{Read, Write};
    let end = std::time::Instant::now() + deadline;
    let mut s = std::os::unix::net::UnixStream::connect(socket).context("connecting")?;
    s.set_write_timeout(Some(deadline))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: docker\r\nAccept: application/json\r\n\r\n")
        .context("sending")?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 << 10];
    loop {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            bail!("no complete reply within {} s", deadline.as_secs());
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) if buf.len() + n > MAX_REPLY => bail!("reply larger than {} MiB", MAX_REPLY >> 20),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                bail!("no complete reply within {} s", deadline.as_secs())
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("reading the reply"),
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(body_at) = resp.parse(&buf).context("not an HTTP reply")? else {
        bail!("incomplete HTTP reply");
    };
    if resp.headers.iter().any(|h| h.name.eq_ignore_ascii_case("transfer-encoding")) {
        bail!("unexpected chunked reply to an HTTP/1.0 request");
    }
    match resp.code {
        Some(200) => Ok(buf[body_at..].to_vec()),
        code => bail!("HTTP {} for {path}", code.unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_replies() {
        let body = br#"[{"Id":"abc","Names":["/web-1"],"Labels":{"app":"web"}},{"Id":"def","Names":[],"Labels":null}]"#;
        let m = parse_containers(body).unwrap();
        assert_eq!(m["abc"].name, "web-1");
        assert_eq!(m["abc"].labels["app"], "web");
        assert_eq!(m["def"].name, "");
        let ev = br#"{"Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"name":"short","image":"x","team":"a"}}}
{"Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"name":"short","exitCode":"0"}}}"#;
        let h = parse_events(ev).unwrap();
        assert_eq!(h["abc"].name, "short");
        for garbage in [&b"nope"[..], b"{", b"[{\"Id\":1}]", b"\xff\xfe"] {
            assert!(parse_containers(garbage).is_err());
        }
        assert!(parse_events(b"{\"Actor\":").is_err());
    }

    #[test]
    fn pod_directories() {
        let uid = "0a1b2c3d-1111-2222-3333-444455556666";
        assert_eq!(
            parse_pod_dir(&format!("kube-system_coredns-5d78c9869d-abcde_{uid}")),
            Some(("kube-system".into(), "coredns-5d78c9869d-abcde".into(), uid.into()))
        );
        assert_eq!(parse_pod_dir("no-underscores"), None);
        assert_eq!(parse_pod_dir("ns_name_short"), None);
        assert_eq!(parse_pod_dir("_name_0a1b2c3d-1111-2222-3333-444455556666"), None);
    }
}
