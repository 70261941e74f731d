//! Choosing interfaces, and netattr's record of what it did to each (the pinned
//! `attachments` map: which hooks it attached, and whether it added the clsact qdisc).
use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use crate::bpf::percpu;
use crate::bpf::Attachment;
use crate::netlink::{self, Link};

/// Linux interface names: 1 to 15 bytes, no '/', ':' or whitespace.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0');
    if bad {
        bail!("'{name}' is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces; see 'ip link')");
    }
    Ok(())
}

/// The interfaces named, all of which must exist; or every veth with `all_veth`.
pub fn select(all_veth: bool, names: &[String]) -> Result<Vec<Link>> {
    for n in names {
        validate_name(n)?;
    }
    let links = netlink::links()?;
    if all_veth {
        return Ok(links.into_iter().filter(Link::is_veth).collect());
    }
    let mut out: Vec<Link> = Vec::new();
    for n in names {
        match links.iter().find(|l| &l.name == n) {
            Some(l) if !out.contains(l) => out.push(l.clone()),
            Some(_) => {}
            None => bail!("no such interface '{n}' in this network namespace (see 'ip link')"),
        }
    }
    Ok(out)
}

pub fn record(map: &MapHandle, ifindex: u32) -> Result<Option<Attachment>> {
    Ok(map
        .lookup(&ifindex.to_ne_bytes(), MapFlags::ANY)
        .context("reading netattr's attachment records")?
        .and_then(|b| Attachment::from_bytes(&b)))
}

pub fn save(map: &MapHandle, ifindex: u32, rec: &Attachment) -> Result<()> {
    map.update(&ifindex.to_ne_bytes(), &rec.to_bytes(), MapFlags::ANY)
        .context("writing netattr's attachment records")
}

pub fn forget(map: &MapHandle, ifindex: u32) -> Result<()> {
    match map.delete(&ifindex.to_ne_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == libbpf_rs::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).context("removing an attachment record"),
    }
}

/// Every record: (ifindex, record).
pub fn records(map: &MapHandle) -> Result<Vec<(u32, Attachment)>> {
    Ok(percpu::read_all(map)?
        .into_iter()
        .filter_map(|e| {
            let idx = u32::from_ne_bytes(e.key.get(..4)?.try_into().ok()?);
            Some((idx, Attachment::from_bytes(e.values.first()?)?))
        })
        .collect())
}
