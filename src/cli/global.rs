//! The options every subcommand takes: where the instance is pinned, the output format, and
//! where workloads' names and labels are looked up.
use std::path::PathBuf;

use clap::Args;

use crate::cli::parse;
use crate::output::Format;

pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/netattr";

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Directory in bpffs where this netattr instance pins its programs and maps
    #[arg(long, global = true, env = "NETATTR_PIN_DIR", default_value = DEFAULT_PIN_DIR, value_name = "DIR")]
    pub pin_dir: PathBuf,
    /// Output format for data on stdout
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The Docker Engine API socket, for container names and labels
    #[arg(long, global = true, default_value = "/var/run/docker.sock", value_name = "PATH")]
    pub docker_socket: PathBuf,
    /// The kubelet's pod log directory (<namespace>_<name>_<uid> entries), for pod names
    #[arg(long, global = true, default_value = "/var/log/pods", value_name = "DIR")]
    pub pods_dir: PathBuf,
    /// containerd's API socket, for pod labels (the CRI writes them on each pod's sandbox)
    #[arg(
        long,
        global = true,
        env = "NETATTR_CONTAINERD_SOCKET",
        default_value = "/run/containerd/containerd.sock",
        value_name = "PATH"
    )]
    pub containerd_socket: PathBuf,
    /// containerd's namespace of the kubelet's pods
    #[arg(
        long,
        global = true,
        env = "NETATTR_CONTAINERD_NAMESPACE",
        default_value = "k8s.io",
        value_name = "NS"
    )]
    pub containerd_namespace: String,
    /// CRI-O's container state directory (<id>/userdata/config.json), for pod labels
    #[arg(
        long,
        global = true,
        default_value = "/var/lib/containers/storage/overlay-containers",
        value_name = "DIR"
    )]
    pub crio_dir: PathBuf,
    /// Label keys kept from Docker and pods, comma-separated, or * for all; serve puts the
    /// listed ones on its series as label_<key>
    #[arg(long, global = true, env = "NETATTR_LABELS", default_value = "*", value_parser = parse::label_keys, value_name = "KEYS")]
    pub labels: crate::model::LabelKeys,
    /// Print libbpf's own diagnostics on stderr
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

impl Global {
    /// What the core needs of these options.
    pub fn place(&self) -> crate::core::Place {
        crate::core::Place {
            pin_dir: self.pin_dir.clone(),
            names: crate::names::Sources {
                docker_socket: self.docker_socket.clone(),
                pods_dir: self.pods_dir.clone(),
                containerd_socket: self.containerd_socket.clone(),
                containerd_namespace: self.containerd_namespace.clone(),
                crio_dir: self.crio_dir.clone(),
                keys: self.labels.clone(),
            },
        }
    }
}
