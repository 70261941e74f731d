//! rtnetlink dumps: interfaces with their link kind, this host's addresses, and the tc
//! filters on a clsact hook.
use anyhow::{bail, Context, Result};
use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use netlink_packet_route::tc::{TcAttribute, TcFilterBpfOption, TcMessage, TcOption};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// An interface of this network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// IFLA_INFO_KIND: "veth", "bridge", ...; None for physical devices and loopback.
    pub kind: Option<String>,
    /// IFLA_LINK: for a veth, its peer's ifindex (in the peer's network namespace).
    pub peer: Option<u32>,
    /// IFLA_LINK_NETNSID: set when the peer lives in another network namespace.
    pub peer_netnsid: Option<i32>,
}

impl Link {
    pub fn is_veth(&self) -> bool {
        self.kind.as_deref() == Some("veth")
    }

    /// A veth whose other end is already in another network namespace: the host side of
    /// a container's link, settled (runtimes create both ends here, then move one).
    pub fn is_host_side_veth(&self) -> bool {
        self.is_veth() && self.peer_netnsid.is_some()
    }
}

/// A tc filter as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub priority: u16,
    pub handle: u32,
    pub kind: String,
    /// For a bpf filter: the id of its program.
    pub prog_id: Option<u32>,
}

fn dump(request: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>> {
    let mut socket = Socket::new(NETLINK_ROUTE).context("opening an rtnetlink socket")?;
    socket.bind_auto().context("binding an rtnetlink socket")?;
    socket.connect(&SocketAddr::new(0, 0)).context("connecting an rtnetlink socket")?;

    let mut packet = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(request));
    packet.header.flags = NLM_F_DUMP | NLM_F_REQUEST;
    packet.header.sequence_number = 1;
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf[..]);
    socket.send(&buf, 0).context("sending an rtnetlink request")?;

    let mut out = Vec::new();
    loop {
        let (data, _) = socket.recv_from_full().context("reading an rtnetlink reply")?;
        let mut offset = 0;
        while offset < data.len() {
            let msg: NetlinkMessage<RouteNetlinkMessage> =
                NetlinkMessage::deserialize(&data[offset..]).context("decoding an rtnetlink reply")?;
            let len = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        bail!(std::io::Error::from_raw_os_error(-code.get()));
                    }
                }
                NetlinkPayload::InnerMessage(m) => out.push(m),
                _ => {}
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
}

/// Every interface in netattr's network namespace.
pub fn links() -> Result<Vec<Link>> {
    let msgs =
        dump(RouteNetlinkMessage::GetLink(LinkMessage::default())).context("listing network interfaces")?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(link_from(l)),
            _ => None,
        })
        .collect())
}

/// Every address configured on an interface of netattr's network namespace.
pub fn addresses() -> Result<Vec<std::net::IpAddr>> {
    use netlink_packet_route::address::{AddressAttribute, AddressMessage};
    let msgs = dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))
        .context("listing this host's addresses")?;
    let mut out: Vec<std::net::IpAddr> = msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) => Some(a.attributes),
            _ => None,
        })
        .flat_map(|attrs| {
            // IFA_LOCAL is the interface's own address on a point-to-point link, where
            // IFA_ADDRESS is the peer's; elsewhere they are the same.
            let local = attrs.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            local.or_else(|| {
                attrs.iter().find_map(|a| match a {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            })
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

fn link_from(msg: LinkMessage) -> Link {
    let mut link =
        Link { index: msg.header.index, name: String::new(), kind: None, peer: None, peer_netnsid: None };
    for attr in msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name = n,
            LinkAttribute::Link(p) => link.peer = Some(p),
            LinkAttribute::LinkNetNsId(n) => link.peer_netnsid = Some(n),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(k) = info {
                        link.kind = Some(match k {
                            InfoKind::Veth => "veth".to_string(),
                            other => other.to_string(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    link
}

/// The filters on one clsact hook (`parent` is TC_H_CLSACT | TC_H_MIN_INGRESS or _EGRESS).
/// An interface without a clsact qdisc has none.
pub fn filters(ifindex: u32, parent: u32) -> Result<Vec<Filter>> {
    let mut req = TcMessage::with_index(ifindex as i32);
    req.header.parent = parent.into();
    let msgs = match dump(RouteNetlinkMessage::GetTrafficFilter(req)) {
        Ok(m) => m,
        // No qdisc at that parent: nothing attached.
        Err(e) if is_errno(&e, libc::EINVAL) || is_errno(&e, libc::ENOENT) => return Ok(vec![]),
        Err(e) => return Err(e.context(format!("listing tc filters of interface {ifindex}"))),
    };
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewTrafficFilter(f) => Some(filter_from(f)),
            _ => None,
        })
        .collect())
}

fn filter_from(msg: TcMessage) -> Filter {
    let mut f = Filter {
        priority: (msg.header.info >> 16) as u16,
        handle: msg.header.handle.into(),
        kind: String::new(),
        prog_id: None,
    };
    for attr in msg.attributes {
        match attr {
            TcAttribute::Kind(k) => f.kind = k,
            TcAttribute::Options(opts) => {
                for o in opts {
                    if let TcOption::Bpf(TcFilterBpfOption::ProgId(id)) = o {
                        f.prog_id = Some(id);
                    }
                }
            }
            _ => {}
        }
    }
    f
}

/// Whether an error chain bottoms out in the given errno.
pub fn is_errno(e: &anyhow::Error, errno: i32) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().and_then(|io| io.raw_os_error()) == Some(errno)
            || c.downcast_ref::<nix::errno::Errno>().map(|n| *n as i32) == Some(errno)
    })
}

/// A link appearing or going away in netattr's network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    New(Link),
    Gone(u32),
}

/// rtnetlink link notifications (RTNLGRP_LINK).
pub struct LinkWatcher {
    socket: Socket,
}

impl LinkWatcher {
    pub fn new() -> Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE).context("opening an rtnetlink socket")?;
        socket.bind_auto().context("binding an rtnetlink socket")?;
        socket.add_membership(1 /* RTNLGRP_LINK */).context("subscribing to link events")?;
        Ok(LinkWatcher { socket })
    }

    /// The events that arrive within `timeout` (none if nothing happened).
    pub fn next(&mut self, timeout: std::time::Duration) -> Result<Vec<LinkEvent>> {
        use std::os::fd::AsRawFd;
        if !crate::ffi::poll_readable(self.socket.as_raw_fd(), timeout) {
            return Ok(vec![]); // timeout, or EINTR from a signal: the caller checks its flag
        }
        let (data, _) = self.socket.recv_from_full().context("reading link events")?;
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < data.len() {
            let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..]) else { break };
            let len = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                    out.push(LinkEvent::New(link_from(l)))
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                    out.push(LinkEvent::Gone(l.header.index))
                }
                _ => {}
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
        Ok(out)
    }
}
