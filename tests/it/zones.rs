//! Zones counted in the kernel: a classes file maps zones to prefixes, the node's --zone makes
//! its own zone's prefixes the class same-zone and the others' cross-zone, and real traffic
//! between host workloads and two stand-in containers, one in each zone (IPv4 and IPv6), lands
//! in the right cell in both directions, within the accounting contract's bounds.
use std::collections::BTreeMap;

use crate::harness::*;

/// The most a packet adds beyond its payload (headers), as in the truth table.
const PER_PACKET: u64 = 100;

#[test]
fn same_zone_and_cross_zone_are_counted_in_the_kernel_both_ways_ipv4_and_ipv6() {
    let Some(s) = scene(2, false) else { return };
    let (za, zb) = (&s.c[0], &s.c[1]);
    // IPv6 on both containers' links: fd00:233:N::/64 in zone eu-a, fd00:234:N::/64 in eu-b.
    let n = 1 + (std::process::id() + uniq()) % 250;
    let mut v6 = Vec::new();
    for (c, net) in [(za, format!("fd00:233:{n}")), (zb, format!("fd00:234:{n}"))] {
        sh(&["ip", "-6", "addr", "add", &format!("{net}::1/64"), "dev", &c.host_if, "nodad"]);
        sh(&["ip", "-n", &c.ns.name, "-6", "addr", "add", &format!("{net}::2/64"), "dev", "eth0", "nodad"]);
        v6.push(format!("{net}::2"));
    }
    let subnet = |ip: &str| format!("{}.0/24", ip.rsplit_once('.').unwrap().0);
    let dir = TempDir::new();
    let classes = dir.join("zones.toml");
    std::fs::write(
        &classes,
        format!(
            "[zones]\neu-a = [\"{}\", \"fd00:233:{n}::/48\"]\neu-b = [\"{}\", \"fd00:234:{n}::/48\"]\n",
            subnet(&za.ip),
            subnet(&zb.ip)
        ),
    )
    .unwrap();
    let na = &s.na;
    let load = |zone: Option<&str>| {
        let mut args = vec!["load", "--breakdown", "class", "--classes", classes.to_str().unwrap()];
        args.extend(zone.map(|z| ["--zone", z]).into_iter().flatten());
        na.run(&args)
    };
    // A zone is needed, and must be one of the file's.
    load(None).fails_with("give this node's zone with --zone");
    load(Some("eu-c")).fails_with("zone 'eu-c' is not in its [zones] (eu-a, eu-b)");
    load(Some("eu-a")).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    // Each way: a host workload sends to a container (its tx), a container sends to a host
    // workload (its rx); the remote address is the container's, in zone eu-a or eu-b.
    let flows = [
        (za, za.ip.clone(), "same-zone", 300_000u64),
        (zb, zb.ip.clone(), "cross-zone", 200_000),
        (za, v6[0].clone(), "same-zone", 150_000),
        (zb, v6[1].clone(), "cross-zone", 100_000),
    ];
    // (cgroup, class) -> (rx payload, tx payload, allowance for retransmissions)
    let mut want: BTreeMap<(u64, &str), (u64, u64, u64)> = BTreeMap::new();
    for (i, (c, addr, class, bytes)) in flows.iter().enumerate() {
        let sock = |ip: &str| {
            if ip.contains(':') {
                format!("[{ip}]:{}", 40000 + i)
            } else {
                format!("{ip}:{}", 40000 + i)
            }
        };
        // Out: host workload -> container.
        let from = s.tree.cgroup(&format!("app.slice/out{i}.service"));
        let r = c.peer(&format!("tcp-recv {}", sock(addr))).ready();
        let done = Peer::spawn(&from, None, &format!("tcp-send {} {bytes}", sock(addr))).finish();
        assert_eq!(r.finish().bytes, *bytes);
        want.insert((from.id, class), (0, *bytes, PER_RETRANSMISSION * done.retrans));
        // In: container -> host workload, on the host's address of that link.
        let host = if addr.contains(':') { addr.replace("::2", "::1") } else { c.host_ip.clone() };
        let to = s.tree.cgroup(&format!("app.slice/in{i}.service"));
        let r = Peer::spawn(&to, None, &format!("tcp-recv {}", sock(&host))).ready();
        let done = c.peer(&format!("tcp-send {} {bytes}", sock(&host))).finish();
        assert_eq!(r.finish().bytes, *bytes);
        want.insert((to.id, class), (*bytes, 0, PER_RETRANSMISSION * done.retrans));
    }
    let cells = settled(|| class_cells(na, "socket"));
    for ((id, class), (rx_payload, tx_payload, extra)) in &want {
        let cell = cells.get(&(*id, class.to_string()));
        let [rx, tx, rxp, txp] = *cell.unwrap_or_else(|| panic!("no {class} cell of cgroup {id}: {cells:?}"));
        for (what, bytes, packets, payload) in [("rx", rx, rxp, *rx_payload), ("tx", tx, txp, *tx_payload)] {
            if payload > 0 {
                assert!(
                    (payload..=payload + PER_PACKET * packets + extra).contains(&bytes),
                    "cgroup {id} {class} {what}: {bytes} B in {packets} packets for {payload} B of payload"
                );
            }
        }
        // Nothing of this workload's went to the other zone's class.
        let other = if *class == "same-zone" { "cross-zone" } else { "same-zone" };
        assert!(
            cells.get(&(*id, other.to_string())).is_none_or(|c| c[0] + c[1] == 0),
            "cgroup {id} in {other}: {cells:?}"
        );
    }
    // A node of the other zone sees the same prefixes the other way round.
    na.run(&["classes", "set", classes.to_str().unwrap(), "--zone", "eu-b"]).ok();
    let table = na.run(&["classes", "--format", "json"]).ok().json();
    let prefixes = |class: &str| -> Vec<String> {
        let c = table["classes"].as_array().unwrap().iter().find(|c| c["name"] == class).unwrap();
        c["prefixes"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(prefixes("same-zone"), [subnet(&zb.ip), format!("fd00:234:{n}::/48")]);
    assert_eq!(prefixes("cross-zone"), [subnet(&za.ip), format!("fd00:233:{n}::/48")]);
}
