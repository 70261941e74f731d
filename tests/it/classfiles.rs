//! `classes set` as an operator uses it for the life of a load: renames, big files.
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
    let cells = crate::classes::class_cells(na, "socket");
    assert!(
        cells.iter().any(|((id, class), c)| *id == cg.id && class == "counted" && c[1] == 128),
        "{cells:?}"
    );
}
