//! Pod labels where a Kubernetes node keeps them without an API server. containerd's CRI
//! plugin writes each pod's labels on the pod's sandbox container (its spec's labels, the
//! kubelet's `io.kubernetes.pod.*` ones and its own `io.cri-containerd.kind=sandbox`), in
//! containerd's namespace for Kubernetes (`k8s.io`); they are read over containerd's API on
//! its unix socket (containerd-client). CRI-O keeps them in each sandbox's `config.json`
//! (the `io.kubernetes.cri-o.Labels` annotation), read from its state directory.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

/// A pod's labels by its uid.
pub type PodLabels = HashMap<String, BTreeMap<String, String>>;

const KIND: &str = "io.cri-containerd.kind";
const UID: &str = "io.kubernetes.pod.uid";
/// Label prefixes the runtimes and the kubelet write for their own bookkeeping: not the pod's.
const OWN: [&str; 4] = ["io.kubernetes.", "io.cri-containerd.", "io.containerd.", "io.cri-o."];

/// The pod uid and the pod's own labels, from a sandbox's labels (None for anything else).
pub fn from_sandbox(labels: &HashMap<String, String>) -> Option<(String, BTreeMap<String, String>)> {
    if labels.get(KIND).is_some_and(|k| k != "sandbox") {
        return None;
    }
    let uid = labels.get(UID)?.clone();
    let own = labels.iter().filter(|(k, _)| !OWN.iter().any(|p| k.starts_with(p)));
    Some((uid, own.map(|(k, v)| (k.clone(), v.clone())).collect()))
}

/// Every pod's labels from the sandboxes in `namespace` of the containerd at `socket`, within
/// `deadline`. No socket there: none (not a containerd node).
pub fn containerd(socket: &Path, namespace: &str, deadline: Duration) -> Result<PodLabels> {
    use containerd_client::services::v1::{containers_client::ContainersClient, ListContainersRequest};
    if !socket.exists() {
        return Ok(PodLabels::new());
    }
    let filter = format!("labels.\"{KIND}\"==sandbox");
    let mut request = tonic::Request::new(ListContainersRequest { filters: vec![filter] });
    let ns = namespace.parse().with_context(|| format!("containerd namespace '{namespace}'"))?;
    request.metadata_mut().insert("containerd-namespace", ns);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let listed = runtime.block_on(async {
        tokio::time::timeout(deadline, async {
            let channel = containerd_client::connect(socket).await?;
            let reply = ContainersClient::new(channel).list(request).await?;
            anyhow::Ok(reply.into_inner().containers)
        })
        .await
    });
    let what = || format!("containerd at {}", socket.display());
    let containers = listed
        .map_err(|_| anyhow::anyhow!("no answer in {deadline:?}"))
        .with_context(what)?
        .with_context(what)?;
    Ok(containers.iter().filter_map(|c| from_sandbox(&c.labels)).collect())
}

/// Every pod's labels from CRI-O's sandboxes: `<dir>/<id>/userdata/config.json` whose
/// annotations say a sandbox (`io.kubernetes.cri-o.ContainerType`) and hold the labels
/// (`io.kubernetes.cri-o.Labels`, a JSON object). No directory: none.
pub fn crio(dir: &Path) -> PodLabels {
    let Ok(entries) = std::fs::read_dir(dir) else { return PodLabels::new() };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("userdata/config.json")).ok())
        .filter_map(|body| crio_sandbox(&body))
        .collect()
}

/// A CRI-O sandbox's pod uid and labels, from its OCI config (None for anything else).
pub fn crio_sandbox(config: &[u8]) -> Option<(String, BTreeMap<String, String>)> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        annotations: HashMap<String, String>,
    }
    let c: Config = serde_json::from_slice(config).ok()?;
    if c.annotations.get("io.kubernetes.cri-o.ContainerType").map(String::as_str) != Some("sandbox") {
        return None;
    }
    let labels: HashMap<String, String> =
        serde_json::from_str(c.annotations.get("io.kubernetes.cri-o.Labels")?).ok()?;
    from_sandbox(&labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_sandbox_gives_its_pod_uid_and_the_pods_own_labels() {
        let l = map(&[
            ("io.cri-containerd.kind", "sandbox"),
            ("io.kubernetes.pod.uid", "u1"),
            ("io.kubernetes.pod.name", "web-1"),
            ("team", "shop"),
            ("app.kubernetes.io/name", "web"),
        ]);
        let (uid, own) = from_sandbox(&l).unwrap();
        assert_eq!(uid, "u1");
        assert_eq!(
            own.into_iter().collect::<Vec<_>>(),
            [
                ("app.kubernetes.io/name".to_string(), "web".to_string()),
                ("team".to_string(), "shop".to_string())
            ]
        );
        let app = map(&[("io.cri-containerd.kind", "container"), ("io.kubernetes.pod.uid", "u1")]);
        assert!(from_sandbox(&app).is_none(), "an app container's labels are not the pod's");
        assert!(from_sandbox(&map(&[("team", "shop")])).is_none(), "no pod uid: not a pod");
    }

    #[test]
    fn a_crio_sandbox_config_gives_its_labels() {
        let labels = r#"{"io.kubernetes.pod.uid":"u2","io.kubernetes.pod.namespace":"shop","team":"shop"}"#;
        let config = serde_json::json!({"ociVersion": "1.0.2", "annotations": {
            "io.kubernetes.cri-o.ContainerType": "sandbox", "io.kubernetes.cri-o.Labels": labels}});
        let (uid, own) = crio_sandbox(config.to_string().as_bytes()).unwrap();
        assert_eq!((uid.as_str(), own.len(), own["team"].as_str()), ("u2", 1, "shop"));
        let app = serde_json::json!({"annotations": {"io.kubernetes.cri-o.ContainerType": "container",
            "io.kubernetes.cri-o.Labels": labels}});
        assert!(crio_sandbox(app.to_string().as_bytes()).is_none());
        assert!(crio_sandbox(b"not json").is_none());
    }
}
