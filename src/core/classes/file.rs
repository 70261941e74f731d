//! A classes file: its TOML read and checked (names, prefixes, a prefix in one class only)
//! before anything changes, with every error naming the file and the fix.
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use serde::Deserialize;

use crate::bpf::layout::{BUILTIN_CLASSES, CLASS_HOST, CLASS_INTERNET, CLASS_NAME, CLASS_NON_IP};

/// The prefixes of the built-in classes (`host` is the host's addresses, `internet` what no
/// prefix matches, `non-ip` what has no address).
pub fn builtin_prefixes(name: &str) -> &'static [&'static str] {
    match name {
        "loopback" => &["127.0.0.0/8", "::1/128"],
        // With the unspecified addresses, which only local protocols send from (DHCP,
        // duplicate address detection), never the internet.
        "link-local" => &["169.254.0.0/16", "fe80::/10", "0.0.0.0/8", "::/128"],
        "multicast" => &["224.0.0.0/4", "255.255.255.255/32", "ff00::/8"],
        "private" => &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"],
        _ => &[],
    }
}

/// A classes file (TOML):
///
/// ```toml
/// [classes]
/// in-zone = ["10.1.0.0/16", "fd00:1::/48"]
/// partner = ["203.0.113.0/24"]
/// private = ["10.0.0.0/8"]   # replaces the built-in class's prefixes
///
/// [zones]                    # with the node's --zone: its own zone's prefixes are the
/// eu-a = ["10.1.0.0/16"]     # class 'same-zone', the other zones' 'cross-zone'
/// eu-b = ["10.2.0.0/16", "fd00:2::/48"]
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    classes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    zones: BTreeMap<String, Vec<String>>,
}

/// The classes a node in `zone` counts its zones as.
pub const SAME_ZONE: &str = "same-zone";
pub const CROSS_ZONE: &str = "cross-zone";

/// The classes a file asks for: name -> prefixes.
pub type ClassFile = BTreeMap<String, Vec<IpNet>>;

/// Reads and checks a classes file for a node in `zone`; every error names the file and what
/// to fix.
pub fn read_file(path: &Path, zone: Option<&str>) -> Result<ClassFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read classes file {}", path.display()))?;
    let file = parse(&text, zone).with_context(|| format!("classes file {}", path.display()))?;
    // Its prefixes against each other's and the built-in classes', before anything changes.
    owners(&with_builtins(Some(&file))).with_context(|| format!("classes file {}", path.display()))?;
    Ok(file)
}

/// Parses the text of a classes file for a node in `zone`.
pub fn parse(text: &str, zone: Option<&str>) -> Result<ClassFile> {
    let doc: FileDoc = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", one_line(&e.to_string())))?;
    let mut out = ClassFile::new();
    for name in [SAME_ZONE, CROSS_ZONE] {
        if doc.classes.contains_key(name) {
            bail!("class '{name}' is made from [zones] and the node's --zone: rename the class");
        }
    }
    out.extend(zone_classes(&doc.zones, zone)?);
    for (name, prefixes) in doc.classes {
        check_name(&name)?;
        if name == BUILTIN_CLASSES[CLASS_HOST as usize]
            || name == BUILTIN_CLASSES[CLASS_NON_IP as usize]
            || name == BUILTIN_CLASSES[CLASS_INTERNET as usize]
        {
            bail!(
                "class '{name}' cannot be given prefixes: 'host' is this host's own addresses (kept \
                 current by netattr), 'internet' what no prefix matches and 'non-ip' traffic without \
                 an address; remove it from the file"
            );
        }
        let mut nets = Vec::with_capacity(prefixes.len());
        for p in &prefixes {
            nets.push(parse_prefix(&name, p)?);
        }
        nets.sort();
        nets.dedup();
        out.insert(name, nets);
    }
    Ok(out)
}

/// The classes `same-zone` (the prefixes of `zone`) and `cross-zone` (the other zones').
fn zone_classes(zones: &BTreeMap<String, Vec<String>>, zone: Option<&str>) -> Result<ClassFile> {
    let mut out = ClassFile::new();
    if zones.is_empty() {
        return Ok(out);
    }
    let Some(zone) = zone else {
        bail!("it maps zones to prefixes: give this node's zone with --zone (or NETATTR_ZONE)")
    };
    if !zones.contains_key(zone) {
        let known: Vec<&str> = zones.keys().map(String::as_str).collect();
        bail!("zone '{zone}' is not in its [zones] ({}): fix --zone or the file", known.join(", "));
    }
    for (name, prefixes) in zones {
        let class = if name == zone { SAME_ZONE } else { CROSS_ZONE };
        let nets = out.entry(class.to_string()).or_default();
        for p in prefixes {
            nets.push(parse_prefix(&format!("zone {name}"), p)?);
        }
    }
    for nets in out.values_mut() {
        nets.sort();
        nets.dedup();
    }
    Ok(out)
}

/// toml's messages span lines (a caret under the spot); an error is one line here.
fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty() && *l != "|").collect::<Vec<_>>().join(" ")
}

fn check_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    if name.is_empty()
        || name.len() >= CLASS_NAME
        || !name.chars().all(ok_char)
        || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        bail!(
            "'{name}' is not a class name: use 1 to {} lowercase letters, digits, '-', '_' or '.', \
             starting with a letter or digit",
            CLASS_NAME - 1
        );
    }
    Ok(())
}

fn parse_prefix(class: &str, p: &str) -> Result<IpNet> {
    let net = match p.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => match p.parse::<IpAddr>() {
            Ok(a) => IpNet::from(a),
            Err(_) => bail!(
                "class '{class}': '{p}' is not a CIDR prefix: write an address and a prefix length \
                 such as 192.0.2.0/24 or 2001:db8::/32"
            ),
        },
    };
    if net.trunc() != net {
        bail!("class '{class}': '{p}' has bits set after its prefix length: write {}", net.trunc());
    }
    // An IPv4-mapped IPv6 prefix is the IPv4 prefix (packets are classed so): one key, so
    // that the same addresses in two classes are told at once.
    if let IpNet::V6(v6) = net {
        if let (Some(v4), true) = (v6.addr().to_ipv4_mapped(), v6.prefix_len() >= 96) {
            if let Ok(n) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96) {
                return Ok(IpNet::V4(n));
            }
        }
    }
    Ok(net)
}

/// The built-in classes with `file`'s over them: name -> prefixes.
pub(super) fn with_builtins(file: Option<&ClassFile>) -> BTreeMap<String, Vec<IpNet>> {
    let mut classes: BTreeMap<String, Vec<IpNet>> = BUILTIN_CLASSES
        .iter()
        .map(|n| (n.to_string(), builtin_prefixes(n).iter().filter_map(|p| p.parse().ok()).collect()))
        .collect();
    for (name, nets) in file.into_iter().flatten() {
        classes.insert(name.clone(), nets.clone());
    }
    classes
}

/// The class of each prefix; a prefix in two classes is refused.
pub(super) fn owners(classes: &BTreeMap<String, Vec<IpNet>>) -> Result<BTreeMap<IpNet, &str>> {
    let mut owner: BTreeMap<IpNet, &str> = BTreeMap::new();
    for (name, nets) in classes {
        for net in nets {
            if let Some(other) = owner.insert(*net, name) {
                let builtin = |n: &str| if BUILTIN_CLASSES.contains(&n) { " (built in)" } else { "" };
                bail!(
                    "{net} is in both class '{other}'{} and class '{name}'{}: a prefix belongs to one \
                     class (to move a built-in prefix, list that class in the file with the prefixes it keeps)",
                    builtin(other),
                    builtin(name)
                );
            }
        }
    }
    Ok(owner)
}
