//! Choosing interfaces: by name (validated) or every veth of this network namespace.
use anyhow::{bail, Result};

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
    if !all_veth && names.is_empty() {
        return Ok(vec![]);
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
