//! `classes set` as an operator uses it for the life of a load: renames, big files, bad
//! files refused with nothing changed.
use crate::harness::*;

/// A class renamed 240 times (a load has 248 ids for classes of files): each rename gives
/// the id of a class with no counters and out of the table in use back, so none is refused
/// (before, the 238th was, and only cleanup + load helped). A class with counters keeps its
/// id and its counters.
#[test]
fn renames_do_not_use_up_the_class_ids_of_a_load() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load", "--breakdown", "class"]).ok();
    na.run(&["attach", "--cgroup", &s.tree.rel()]).ok();
    let dir = TempDir::new();
    let f = dir.join("classes.toml");
    // A class with counters: some loopback traffic counted under it.
    std::fs::write(&f, "[classes]\ncounted = [\"127.77.0.0/16\"]\n").unwrap();
    na.run(&["classes", "set", f.to_str().unwrap()]).ok();
    let cg = s.tree.docker_like();
    let port = 34000 + (uniq() as u16 % 1000);
    Peer::spawn(&cg, None, &format!("udp-spray 127.77.0.1:{port} 100")).finish();
    let classes = |na: &Netattr| na.run(&["classes", "--format", "json"]).ok().json();
    let id_of = |v: &serde_json::Value, name: &str| {
        v["classes"].as_array().unwrap().iter().find(|c| c["name"] == name).map(|c| c["id"].clone())
    };
    let counted_id = id_of(&classes(na), "counted").unwrap();
    for i in 0..240 {
        std::fs::write(&f, format!("[classes]\nc{i} = [\"10.77.0.0/16\"]\n")).unwrap();
        na.run(&["classes", "set", f.to_str().unwrap()]).ok();
    }
    let v = classes(na);
    assert_eq!(id_of(&v, "counted"), Some(counted_id), "the class with counters keeps its id: {v}");
    assert!(id_of(&v, "c239").is_some() && id_of(&v, "c100").is_none(), "{v}");
    let cells = class_cells(na, "socket");
    assert!(
        cells.iter().any(|((id, class), c)| *id == cg.id && class == "counted" && c[1] == 128),
        "{cells:?}"
    );
}

#[test]
fn bad_classes_files_are_refused_and_change_nothing() {
    let Some(s) = scene(0, false) else { return };
    let na = &s.na;
    na.run(&["load", "--breakdown", "class"]).ok();
    let dir = TempDir::new();
    let good = dir.join("good.toml");
    std::fs::write(&good, "[classes]\npartner = [\"203.0.113.0/24\"]\n").unwrap();
    na.run(&["classes", "set", good.to_str().unwrap()]).ok();
    let before = na.run(&["classes", "--format", "json"]).ok().stdout;
    let many: String =
        (0..250).map(|i| format!("c{i} = [\"10.{}.{}.0/24\"]\n", 100 + i / 200, i % 200)).collect();
    let cases = [
        (
            "twice.toml",
            "[classes]\na = [\"10.9.0.0/16\"]\nb = [\"10.9.0.0/16\"]\n".to_string(),
            "10.9.0.0/16 is in both class 'a' and class 'b'",
        ),
        ("cidr.toml", "[classes]\na = [\"10.9.0.0/33\"]\n".into(), "'10.9.0.0/33' is not a CIDR prefix"),
        ("key.toml", "[classes]\na = [\"10.9.0.0/16\"]\n[extra]\nb = 1\n".into(), "unknown field `extra`"),
        ("many.toml", format!("[classes]\n{many}"), "too many classes: 258"),
        ("syntax.toml", "[classes\n".into(), "classes file"),
        // The same addresses written IPv4-mapped: one prefix, refused before anything changes
        // (before, 'classes set' failed half-way with "File exists" and kept both names).
        (
            "mapped.toml",
            "[classes]\nmm = [\"::ffff:10.19.0.0/112\"]\nnn = [\"10.19.0.0/16\"]\n".into(),
            "10.19.0.0/16 is in both class 'mm' and class 'nn'",
        ),
        (
            "internet.toml",
            "[classes]\ninternet = [\"10.9.0.0/16\"]\n".into(),
            "class 'internet' cannot be given prefixes",
        ),
    ];
    for (name, text, want) in cases {
        let f = dir.join(name);
        std::fs::write(&f, text).unwrap();
        let r = na.run(&["classes", "set", f.to_str().unwrap()]).fails_with(want);
        assert!(r.stderr.contains(&format!("classes file {}", f.display())), "names the file: {}", r.stderr);
        assert_eq!(
            na.run(&["classes", "--format", "json"]).ok().stdout,
            before,
            "{name} changed the classes"
        );
    }
    na.run(&["classes", "set", dir.join("absent.toml").to_str().unwrap()])
        .fails_with("cannot read classes file");
    assert_eq!(na.run(&["classes", "--format", "json"]).ok().stdout, before);
    // A bad file at load leaves nothing loaded.
    let other = Netattr::new();
    other
        .run(&["load", "--breakdown", "class", "--classes", dir.join("cidr.toml").to_str().unwrap()])
        .fails_with("not a CIDR prefix");
    assert!(!other.pin("meta").exists());
    other
        .run(&["load", "--classes", good.to_str().unwrap()])
        .fails_with("--classes needs the class breakdown");
    // Without the breakdown: one line that says how to get it.
    other.run(&["load"]).ok();
    other.run(&["classes"]).fails_with("the class breakdown is off for this load");
    other.run(&["stats", "--by", "class"]).fails_with("the class breakdown is off for this load");
    other.run(&["stats", "--class", "internet"]).fails_with("add '--by class'");
    na.run(&["stats", "--by", "class", "--class", "internt"]).fails_with("no class 'internt' in this load");
}
