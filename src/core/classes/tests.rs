use super::*;
use crate::bpf::layout::CLASS_NON_IP;

fn file(text: &str) -> ClassFile {
    parse(text, None).unwrap()
}

fn err(text: &str) -> String {
    format!("{:#}", parse(text, None).unwrap_err())
}

fn class_of(t: &Table, addr: &str) -> String {
    // Longest prefix match, as the kernel's trie does.
    let a: IpAddr = addr.parse().unwrap();
    let a = a.to_canonical();
    t.entries
        .iter()
        .filter(|(p, _)| p.0.contains(&a))
        .max_by_key(|(p, _)| p.0.prefix_len())
        .map(|(_, c)| t.name(*c))
        .unwrap_or_else(|| "internet".into())
}

#[test]
fn builtin_classes_need_no_configuration() {
    let host: Vec<IpAddr> =
        vec!["10.0.0.5".parse().unwrap(), "127.0.0.1".parse().unwrap(), "fe80::1".parse().unwrap()];
    let t = plan(None, &[], &host).unwrap();
    for (addr, class) in [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "host"),
        ("10.0.0.6", "private"),
        ("fe80::1", "host"),
        ("fe80::2", "link-local"),
        ("169.254.1.1", "link-local"),
        ("0.0.0.0", "link-local"),
        ("::", "link-local"),
        ("224.0.0.251", "multicast"),
        ("255.255.255.255", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.1.1", "private"),
        ("fd00::1", "private"),
        ("198.51.100.10", "internet"),
        ("2001:db8::1", "internet"),
        ("::ffff:10.1.2.3", "private"),
    ] {
        assert_eq!(class_of(&t, addr), class, "{addr}");
    }
    assert_eq!(t.name(CLASS_NON_IP), "non-ip");
}

#[test]
fn a_file_adds_and_overrides_classes_and_longest_prefix_wins() {
    let f = file("[classes]\nin-zone = [\"10.1.0.0/16\", \"fd00:1::/48\"]\npartner = [\"203.0.113.0/24\", \"198.51.100.7\"]\nprivate = [\"10.0.0.0/8\"]\n");
    let t = plan(Some(&f), &[], &[]).unwrap();
    assert_eq!(class_of(&t, "10.1.2.3"), "in-zone");
    assert_eq!(class_of(&t, "10.2.2.3"), "private");
    assert_eq!(class_of(&t, "192.168.1.1"), "internet", "private was overridden");
    assert_eq!(class_of(&t, "fd00:1::5"), "in-zone");
    assert_eq!(class_of(&t, "203.0.113.9"), "partner");
    assert_eq!(class_of(&t, "198.51.100.7"), "partner");
    assert_eq!(class_of(&t, "198.51.100.8"), "internet");
}

#[test]
fn ids_are_kept_across_tables() {
    let a =
        plan(Some(&file("[classes]\nalpha = [\"192.0.2.0/24\"]\nbeta = [\"198.51.100.0/24\"]\n")), &[], &[])
            .unwrap();
    let b = plan(
        Some(&file("[classes]\nbeta = [\"198.51.100.0/25\"]\ngamma = [\"203.0.113.0/24\"]\n")),
        &a.names,
        &[],
    )
    .unwrap();
    let id = |t: &Table, n: &str| t.names.iter().position(|x| x.as_deref() == Some(n)).unwrap();
    assert_eq!(id(&a, "beta"), id(&b, "beta"));
    assert_eq!(id(&a, "alpha"), id(&b, "alpha"), "a class left out keeps its id and counters");
    assert_ne!(id(&b, "gamma"), id(&b, "alpha"));
    assert!(b.rows().iter().any(|r| r.name == "alpha" && r.prefixes.is_empty()));
}

#[test]
fn bad_files_say_what_is_wrong() {
    let plan_err = |text: &str| format!("{:#}", plan(Some(&file(text)), &[], &[]).unwrap_err());
    assert_eq!(
        plan_err("[classes]\na = [\"10.9.0.0/16\"]\nb = [\"10.9.0.0/16\"]\n"),
        "10.9.0.0/16 is in both class 'a' and class 'b': a prefix belongs to one class (to move a \
         built-in prefix, list that class in the file with the prefixes it keeps)"
    );
    assert!(plan_err("[classes]\nlan = [\"10.0.0.0/8\"]\n")
        .contains("class 'lan' and class 'private' (built in)"));
    assert_eq!(
        err("[classes]\na = [\"10.0.0.0/33\"]\n"),
        "class 'a': '10.0.0.0/33' is not a CIDR prefix: write an address and a prefix length such as \
         192.0.2.0/24 or 2001:db8::/32"
    );
    assert_eq!(
        err("[classes]\na = [\"10.0.0.1/8\"]\n"),
        "class 'a': '10.0.0.1/8' has bits set after its prefix length: write 10.0.0.0/8"
    );
    assert!(err("[clases]\na = []\n").contains("unknown field `clases`"), "{}", err("[clases]\n"));
    assert!(err("[classes]\nHost = []\n").contains("is not a class name"));
    assert!(err("[classes]\nhost = [\"10.0.0.0/8\"]\n").contains("cannot be given prefixes"));
    assert!(!err("[classes\n").contains('\n'), "one line");
    let many: String =
        (0..250).map(|i| format!("c{i} = [\"10.{}.{}.0/24\"]\n", 100 + i / 200, i % 200)).collect();
    let e = plan_err(&format!("[classes]\n{many}"));
    assert!(e.starts_with("too many classes: 257 (at most 255, counting the 7 built-in ones)"), "{e}");
}

/// The host's own IPv6 addresses (/128s) are found in the hash after the cells: their /16
/// keeps its cells (a /48 beside them is classed there), and only the /128s the hash cannot
/// hold send their /16 to the trie.
#[test]
fn ipv6_host_addresses_take_the_hash_not_the_trie() {
    use crate::bpf::class_table::{cells, class_of};
    let p = |s: &str| ClassPrefix(s.parse::<IpNet>().unwrap());
    let a = |s: &str| s.parse::<IpAddr>().unwrap();
    let mut entries =
        vec![(p("fc00::/7"), 5), (p("fd00:1::/48"), 7), (p("fd00::2/128"), 2), (p("fd00:1::9/128"), 2)];
    let c = cells(&entries).unwrap();
    for (addr, class) in [("fd00::2", 2), ("fd00::3", 5), ("fd00:1::9", 2), ("fd00:1::8", 7), ("fd01::2", 5)]
    {
        assert_eq!(class_of(&c, a(addr)), Some(class), "{addr}");
    }
    // More /128s in 2001:db8::/32 than the hash holds: each is classed by the hash or
    // left to the trie with its whole /16; fd00::/16 keeps its cells.
    entries.extend((0..200u16).map(|i| (p(&format!("2001:db8::{i:x}/128")), 8)));
    let c = cells(&entries).unwrap();
    let (mut hashed, mut trie) = (0, 0);
    for i in 0..200u16 {
        match class_of(&c, a(&format!("2001:db8::{i:x}"))) {
            Some(class) => {
                assert_eq!(class, 8);
                hashed += 1;
            }
            None => trie += 1,
        }
    }
    assert!(hashed > 0 && trie > 0 && hashed <= 64, "{hashed} hashed, {trie} to the trie");
    assert_eq!(class_of(&c, a("2001:db8::1:1")), None, "the rest of the /16 is the trie's");
    assert_eq!(class_of(&c, a("fd00::2")), Some(2));
    assert_eq!(class_of(&c, a("fd00:1::8")), Some(7));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// The kernel's IPv4 table (cells painted shortest prefix first) classes every address
    /// as the longest matching prefix does.
    #[test]
    fn the_ipv4_cells_agree_with_the_longest_prefix(
        nets in proptest::collection::vec((0u32..1 << 12, 8u8..=32, 1u16..20), 1..60),
        probes in proptest::collection::vec(0u32..1 << 12, 50),
    ) {
        // Prefixes and probes inside 10.0.0.0/8, spread so that they nest and split /16s and /24s.
        let spread = |x: u32| 0x0a00_0000 | (x & 0xf00) << 12 | (x & 0xf0) << 4 | (x & 0xf);
        let mut entries: Vec<(ClassPrefix, u16)> = Vec::new();
        for (x, len, class) in nets {
            let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(spread(x)), len).unwrap().trunc();
            if !entries.iter().any(|(p, _)| p.0 == IpNet::V4(net)) {
                entries.push((ClassPrefix(IpNet::V4(net)), class));
            }
        }
        let words = crate::bpf::class_table::cells(&entries).unwrap();
        let t = Table { names: vec![], entries: entries.clone() };
        for p in probes.into_iter().map(spread).chain(entries.iter().map(|(p, _)| u32::from(match p.0 { IpNet::V4(n) => n.network(), _ => unreachable!() }))) {
            let a = std::net::Ipv4Addr::from(p);
            let want = t.entries.iter().filter(|(n, _)| n.0.contains(&IpAddr::V4(a))).max_by_key(|(n, _)| n.0.prefix_len()).map_or(0, |(_, c)| *c);
            proptest::prop_assert_eq!(crate::bpf::class_table::class_of(&words, IpAddr::V4(a)), Some(want), "{} in {:?}", a, entries);
        }
    }

    /// The IPv6 cells class every address as the longest matching prefix does, or leave it
    /// to the trie (which holds every prefix): a /16 holding a prefix longer than /64, ::/16.
    #[test]
    fn the_ipv6_cells_agree_with_the_longest_prefix_or_defer_to_the_trie(
        nets in proptest::collection::vec((0u32..1 << 12, 0u8..=128, 1u16..20), 1..60),
        hosts in proptest::collection::vec((0u32..1 << 12, proptest::prelude::any::<u64>(), 1u16..20), 0..80),
        probes in proptest::collection::vec((0u32..1 << 12, proptest::prelude::any::<u64>()), 50),
    ) {
        // Prefixes and probes spread over 2001:db8::/32's first bytes and ::/16, nesting and
        // splitting /16s, /24s, ... /64s; the low 64 bits of probes random.
        let spread = |x: u32, low: u64| {
            let hi: u64 = if x & 0x800 != 0 { 0 } else { 0x2001_0db8_0000_0000 };
            let hi = hi | u64::from(x & 0x700) << 40 | u64::from(x & 0xf0) << 20 | u64::from(x & 0xf);
            std::net::Ipv6Addr::from(u128::from(hi) << 64 | u128::from(low))
        };
        let mut entries: Vec<(ClassPrefix, u16)> = Vec::new();
        for (x, len, class) in nets {
            let net = ipnet::Ipv6Net::new(spread(x, 0x0123_4567_89ab_cdef), len).unwrap().trunc();
            if !entries.iter().any(|(p, _)| p.0 == IpNet::V6(net)) {
                entries.push((ClassPrefix(IpNet::V6(net)), class));
            }
        }
        // /128s (the host's addresses, say), more than the hash holds at times.
        for (x, low, class) in hosts {
            let net = ipnet::Ipv6Net::new(spread(x, low), 128).unwrap();
            if !entries.iter().any(|(p, _)| p.0 == IpNet::V6(net)) {
                entries.push((ClassPrefix(IpNet::V6(net)), class));
            }
        }
        let words = crate::bpf::class_table::cells(&entries).unwrap();
        let netaddrs: Vec<std::net::Ipv6Addr> = entries.iter().map(|(p, _)| match p.0 { IpNet::V6(n) => n.network(), _ => unreachable!() }).collect();
        for a in probes.into_iter().map(|(x, low)| spread(x, low)).chain(netaddrs) {
            let want = entries.iter().filter(|(n, _)| n.0.contains(&IpAddr::V6(a))).max_by_key(|(n, _)| n.0.prefix_len()).map_or(0, |(_, c)| *c);
            let top16 = |x: std::net::Ipv6Addr| x.segments()[0];
            let split = entries.iter().any(|(n, _)| match n.0 {
                IpNet::V6(n) => n.prefix_len() > 64 && top16(n.network()) == top16(a),
                _ => false,
            });
            match crate::bpf::class_table::class_of(&words, IpAddr::V6(a)) {
                Some(c) => proptest::prop_assert_eq!(c, want, "{} in {:?}", a, entries),
                // The trie's: only ::/16 and a /16 holding a prefix longer than /64.
                None => proptest::prop_assert!(split || top16(a) == 0, "{} deferred in {:?}", a, entries),
            }
        }
    }
}

#[test]
fn zones_become_same_zone_and_cross_zone_for_the_nodes_zone() {
    let text =
        "[zones]\na = [\"10.1.0.0/16\", \"fd00:1::/48\"]\nb = [\"10.2.0.0/16\"]\nc = [\"10.3.0.0/16\"]\n";
    let f = parse(text, Some("a")).unwrap();
    let names = |c: &str| f[c].iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(names("same-zone"), ["10.1.0.0/16", "fd00:1::/48"]);
    assert_eq!(names("cross-zone"), ["10.2.0.0/16", "10.3.0.0/16"]);
    let e = format!("{:#}", parse(text, None).unwrap_err());
    assert!(e.contains("give this node's zone with --zone"), "{e}");
    let e = format!("{:#}", parse(text, Some("z")).unwrap_err());
    assert!(e.contains("zone 'z' is not in its [zones] (a, b, c)"), "{e}");
    let e = format!("{:#}", parse("[classes]\nsame-zone = [\"10.9.0.0/16\"]\n", None).unwrap_err());
    assert!(e.contains("is made from [zones]"), "{e}");
    // No zones: --zone changes nothing.
    assert!(!parse("[classes]\np = [\"203.0.113.0/24\"]\n", Some("a")).unwrap().contains_key("same-zone"));
}
