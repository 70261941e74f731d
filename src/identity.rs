//! What a cgroup path says about its workload: kind, container runtime, container id, pod
//! UID. Table-driven: each runtime's naming scheme is one row, so a new runtime is a new row.
//! Pure string work on untrusted input: never panics, whatever the path.
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Container,
    Pod,
    Service,
    Session,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub kind: Kind,
    /// "docker", "containerd", "cri-o", "podman", or "cri" (a kubelet cgroupfs path that
    /// does not name its runtime).
    pub runtime: Option<&'static str>,
    pub container_id: Option<String>,
    pub pod_uid: Option<String>,
    /// Kubernetes QoS class of the pod: "guaranteed", "burstable" or "besteffort".
    pub qos: Option<&'static str>,
    /// The systemd unit (service or scope) for services and sessions.
    pub unit: Option<String>,
}

/// The identity fields every row that names a cgroup carries (`stats`, `resolve`): always
/// present, null where they do not apply, so that rows keep one shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// "container", "pod", "service", "session" or "other"; null without a path.
    pub kind: Option<Kind>,
    pub runtime: Option<&'static str>,
    pub container_id: Option<String>,
    pub pod_uid: Option<String>,
    /// The name people use: the Docker container name, or a pod's namespace/name.
    pub name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_name: Option<String>,
    /// Docker labels (resolve and events only; stats leaves them out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

impl Summary {
    pub fn of(path: Option<&str>) -> Summary {
        match path.map(|p| parse(p.trim_start_matches('…'))) {
            None => Summary::default(),
            Some(i) => Summary {
                kind: Some(i.kind),
                runtime: i.runtime,
                container_id: i.container_id,
                pod_uid: i.pod_uid,
                // A service or session is known by its unit; containers and pods get their
                // names from names.rs.
                name: i.unit,
                ..Summary::default()
            },
        }
    }
}

/// Container scopes under the systemd cgroup driver: `<prefix><64 hex>.scope`.
const SCOPES: [(&str, &str); 4] =
    [("docker-", "docker"), ("cri-containerd-", "containerd"), ("crio-", "cri-o"), ("libpod-", "podman")];

/// Container directories under the cgroupfs driver: `/<parent>/<64 hex>`.
const PARENTS: [(&str, &str); 2] = [("docker", "docker"), ("libpod_parent", "podman")];

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn qos(s: &str) -> Option<&'static str> {
    match s {
        "burstable" => Some("burstable"),
        "besteffort" => Some("besteffort"),
        _ => None,
    }
}

/// A pod UID as Kubernetes writes it: the systemd driver replaces '-' with '_'.
fn pod_uid(s: &str) -> Option<String> {
    let uid = s.replace('_', "-");
    let ok = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then_some(uid)
}

impl Identity {
    /// A pod found deeper in the path: the deepest workload wins, so a container seen above
    /// it (a Kubernetes node running in a container, as with kind) is not this row's.
    fn enter_pod(&mut self, uid: String) {
        self.pod_uid = Some(uid);
        self.kind = Kind::Pod;
        self.qos = self.qos.or(Some("guaranteed"));
        self.container_id = None;
        self.runtime = None;
    }
}

pub fn parse(path: &str) -> Identity {
    let mut id = Identity {
        kind: Kind::Other,
        runtime: None,
        container_id: None,
        pod_uid: None,
        qos: None,
        unit: None,
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut in_kubepods = false;
    for (i, part) in parts.iter().enumerate() {
        if id.kubepods_slice(part) {
            in_kubepods = true;
            continue;
        }
        if in_kubepods && id.kubepods_cgroupfs(part) {
            continue;
        }
        let parent = i.checked_sub(1).map(|p| parts[p]);
        if id.container(part, parent, i + 1 == parts.len()) {
            continue;
        }
        id.systemd(part);
    }
    id
}

impl Identity {
    fn found_container(&mut self, runtime: Option<&'static str>, cid: &str) {
        self.kind = Kind::Container;
        self.runtime = runtime;
        self.container_id = Some(cid.to_string());
    }

    /// Kubernetes, systemd driver: kubepods.slice/kubepods-burstable.slice/
    /// kubepods-burstable-pod<uid_>.slice/<runtime scope>. True when `part` is one of these.
    fn kubepods_slice(&mut self, part: &str) -> bool {
        let Some(rest) =
            part.strip_prefix("kubepods").filter(|_| part.ends_with(".slice") || part == "kubepods")
        else {
            return false;
        };
        let rest = rest.trim_end_matches(".slice").trim_start_matches('-');
        let (class, pod) = match rest.split_once("-pod") {
            Some((c, p)) => (c, Some(p)),
            None => match rest.strip_prefix("pod") {
                Some(p) => ("", Some(p)),
                None => (rest, None),
            },
        };
        if let Some(q) = qos(class) {
            self.qos = Some(q);
        }
        if let Some(uid) = pod.and_then(pod_uid) {
            self.enter_pod(uid);
        }
        true
    }

    /// Kubernetes, cgroupfs driver: /kubepods/burstable/pod<uid>/<container id>. True when
    /// `part` (under kubepods) is one of these.
    fn kubepods_cgroupfs(&mut self, part: &str) -> bool {
        if let Some(q) = qos(part).filter(|_| self.pod_uid.is_none()) {
            self.qos = Some(q);
            return true;
        }
        if let Some(uid) = part.strip_prefix("pod").and_then(pod_uid) {
            self.enter_pod(uid);
            return true;
        }
        if is_container_id(part) && self.pod_uid.is_some() {
            self.found_container(Some("cri"), part);
            return true;
        }
        false
    }

    /// A container's own cgroup: a runtime's scope, a directory under a runtime's parent, or
    /// (`last`) a 64-hex directory under a parent of the operator's.
    fn container(&mut self, part: &str, parent: Option<&str>, last: bool) -> bool {
        if let Some(scope) = part.strip_suffix(".scope") {
            if let Some((cid, runtime)) = SCOPES
                .iter()
                .find_map(|(p, r)| scope.strip_prefix(p).filter(|c| is_container_id(c)).map(|c| (c, *r)))
            {
                self.found_container(Some(runtime), cid);
                return true;
            }
        }
        if !is_container_id(part) {
            return false;
        }
        if let Some((_, runtime)) = parent.and_then(|parent| PARENTS.iter().find(|(p, _)| *p == parent)) {
            self.found_container(Some(runtime), part);
            return true;
        }
        // A container under a parent of the operator's (`docker run --cgroup-parent`, the
        // cgroupfs driver): its directory is its 64-hex id, its runtime unknown here (the
        // names ask Docker, which knows the id).
        if self.kind == Kind::Other && last {
            self.found_container(None, part);
            return true;
        }
        false
    }

    /// A systemd session or service, outside containers.
    fn systemd(&mut self, part: &str) {
        if !matches!(self.kind, Kind::Other | Kind::Service | Kind::Session) {
            return;
        }
        if part.starts_with("user-") && part.ends_with(".slice")
            || part.starts_with("session-") && part.ends_with(".scope")
        {
            self.kind = Kind::Session;
            self.unit = Some(part.to_string());
        } else if part.ends_with(".service") && self.kind != Kind::Session {
            self.kind = Kind::Service;
            self.unit = Some(part.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f";
    const UID: &str = "0a1b2c3d-1111-2222-3333-444455556666";

    fn container(path: &str, runtime: &str) -> Identity {
        let id = parse(path);
        assert_eq!(id.kind, Kind::Container, "{path}: {id:?}");
        assert_eq!(id.runtime, Some(runtime), "{path}");
        assert_eq!(id.container_id.as_deref(), Some(CID), "{path}");
        id
    }

    #[test]
    fn docker_under_both_drivers() {
        container(&format!("/system.slice/docker-{CID}.scope"), "docker");
        container(&format!("/docker/{CID}"), "docker");
    }

    #[test]
    fn containerd_crio_podman() {
        container(&format!("/system.slice/cri-containerd-{CID}.scope"), "containerd");
        container(&format!("/machine.slice/crio-{CID}.scope"), "cri-o");
        container(&format!("/machine.slice/libpod-{CID}.scope"), "podman");
        container(
            &format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{CID}.scope"),
            "podman",
        );
        container(&format!("/libpod_parent/{CID}"), "podman");
    }

    #[test]
    fn kubernetes_pods_under_the_systemd_driver() {
        let uid_ = UID.replace('-', "_");
        let pod = format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice");
        let id = parse(&pod);
        assert_eq!((id.kind, id.pod_uid.as_deref(), id.qos), (Kind::Pod, Some(UID), Some("burstable")));
        let id = container(&format!("{pod}/cri-containerd-{CID}.scope"), "containerd");
        assert_eq!((id.pod_uid.as_deref(), id.qos), (Some(UID), Some("burstable")));
        let id =
            parse(&format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice"));
        assert_eq!(id.qos, Some("besteffort"));
        let id = container(&format!("/kubepods.slice/kubepods-pod{uid_}.slice/crio-{CID}.scope"), "cri-o");
        assert_eq!((id.pod_uid.as_deref(), id.qos), (Some(UID), Some("guaranteed")));
    }

    #[test]
    fn kubernetes_pods_under_the_cgroupfs_driver() {
        let id = parse(&format!("/kubepods/burstable/pod{UID}"));
        assert_eq!((id.kind, id.pod_uid.as_deref(), id.qos), (Kind::Pod, Some(UID), Some("burstable")));
        let id = container(&format!("/kubepods/besteffort/pod{UID}/{CID}"), "cri");
        assert_eq!((id.pod_uid.as_deref(), id.qos), (Some(UID), Some("besteffort")));
        let id = container(&format!("/kubepods/pod{UID}/{CID}"), "cri");
        assert_eq!(id.qos, Some("guaranteed"));
    }

    #[test]
    fn kubernetes_in_docker_names_the_deepest_workload() {
        // kind: a node is a Docker container; its pods' cgroups nest inside it.
        let node = "1111111111111111111111111111111111111111111111111111111111111111";
        let pod = format!("/docker/{node}/kubepods/burstable/pod{UID}");
        let id = parse(&pod);
        assert_eq!(
            (id.kind, id.container_id.as_deref(), id.pod_uid.as_deref()),
            (Kind::Pod, None, Some(UID))
        );
        let id = container(&format!("{pod}/{CID}"), "cri");
        assert_eq!(id.pod_uid.as_deref(), Some(UID));
    }

    #[test]
    fn services_sessions_and_the_rest() {
        let id = parse("/system.slice/nginx.service");
        assert_eq!((id.kind, id.unit.as_deref()), (Kind::Service, Some("nginx.service")));
        let id = parse("/user.slice/user-1000.slice/session-3.scope");
        assert_eq!((id.kind, id.unit.as_deref()), (Kind::Session, Some("session-3.scope")));
        let id = parse("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service");
        assert_eq!(id.kind, Kind::Session);
        assert_eq!(parse("/").kind, Kind::Other);
        assert_eq!(parse("/system.slice").kind, Kind::Other);
        // An id that is not 64 hex characters is not a container.
        assert_eq!(parse("/system.slice/docker-1234.scope").kind, Kind::Other);
        assert_eq!(parse("/docker/not-an-id").kind, Kind::Other);
        // Under a parent of the operator's: a container, its runtime asked of the runtimes.
        let custom = parse(&format!("/tenants/a/{CID}"));
        assert_eq!(
            (custom.kind, custom.runtime, custom.container_id.as_deref()),
            (Kind::Container, None, Some(CID))
        );
    }

    #[test]
    fn garbage_never_panics() {
        for p in [
            "",
            "//",
            "/kubepods",
            "kubepods.slice/kubepods-pod.slice",
            "/kubepods/pod",
            "/kubepods/burstable/pod/",
            "/docker/",
            "docker-.scope",
            "/\u{0}/\u{ffff}",
            "/kubepods-burstable-pod\u{e9}\u{e9}.slice",
            "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z",
            ".scope",
            "-pod.slice",
        ] {
            let _ = parse(p);
        }
        let long = "/x".repeat(10_000);
        assert_eq!(parse(&long).kind, Kind::Other);
    }
}
