//! Property tests on everything netattr parses from outside: cgroup paths, Docker API
//! replies, kubelet directory names, pinned-map bytes, terminal text. None may panic, and
//! what they return must hold together. A short run (a few thousand cases) is part of the
//! suite; PROPTEST_CASES=100000 runs longer.
use netattr::bpf::layout::{Attachment, CgroupName, Counters, IfaceKey, Meta, PortKey};
use netattr::identity::{parse, Kind, Summary};
use netattr::names::{parse_containers, parse_events, parse_pod_dir};
use netattr::output::clean;
use proptest::prelude::*;

fn path_like() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("kubepods.slice".to_string()),
        Just("kubepods".to_string()),
        Just("burstable".to_string()),
        "kubepods-(burstable|besteffort)?-?pod[0-9a-f_-]{0,40}\\.slice",
        "pod[0-9a-f-]{0,40}",
        "(docker|cri-containerd|crio|libpod)-[0-9a-f]{0,70}\\.scope",
        "[0-9a-f]{60,68}",
        "docker|libpod_parent|system\\.slice|user-[0-9]+\\.slice|session-[0-9]+\\.scope",
        "[^/]{0,20}",
        ".*",
    ];
    prop::collection::vec(part, 0..8).prop_map(|v| format!("/{}", v.join("/")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn cgroup_paths_never_panic_and_ids_are_well_formed(p in path_like()) {
        let id = parse(&p);
        if let Some(c) = &id.container_id {
            prop_assert!(c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()));
            prop_assert_eq!(id.kind, Kind::Container);
        }
        if let Some(u) = &id.pod_uid {
            prop_assert_eq!(u.len(), 36);
        }
        let _ = Summary::of(Some(&p));
    }

    #[test]
    fn docker_replies_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), json in "\\PC{0,300}") {
        let _ = parse_containers(&body);
        let _ = parse_events(&body);
        let _ = parse_containers(json.as_bytes());
        let _ = parse_events(json.as_bytes());
    }

    #[test]
    fn pod_directory_names_never_panic(name in "\\PC{0,120}") {
        if let Some((ns, pod, uid)) = parse_pod_dir(&name) {
            prop_assert!(!ns.is_empty() && !pod.is_empty() && uid.len() == 36);
        }
    }

    #[test]
    fn pinned_map_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Counters::from_bytes(&b);
        let _ = Meta::from_bytes(&b);
        let _ = Attachment::from_bytes(&b);
        let _ = IfaceKey::from_bytes(&b);
        let _ = PortKey::from_bytes(&b);
        let _ = CgroupName::path(&b);
    }

    #[test]
    fn cleaned_text_has_no_control_characters(s in "\\PC{0,80}|.{0,80}|[a\u{10FF00}-\u{10FFFF}]{0,8}") {
        // Control characters are escaped, and so are the characters that stand for bytes of
        // a name that is not UTF-8 (shown as \xNN, see src/text.rs); other text is kept.
        let odd = |ch: char| ch.is_control() || netattr::text::byte_of(ch).is_some();
        let c = clean(&s);
        prop_assert!(!c.chars().any(odd));
        if !s.chars().any(odd) {
            prop_assert_eq!(c.as_ref(), s.as_str());
        }
    }
}
