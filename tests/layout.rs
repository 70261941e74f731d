//! The layout holds (docs/architecture.md): no subcommand imports another, no import circle
//! between files of src/, no src file over 400 lines, and every `unsafe` has its
//! `// SAFETY:` comment (tests included). Read from the source text, so a change that breaks
//! a rule fails `cargo test` with the file and what to do.
// Tests and benchmarks fail loudly: unwrap and expect are how they say what broke.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 400;
const MAX_TEST_LINES: usize = 500;

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file of src/: src/core/recorder.rs and src/core/recorder/mod.rs are
/// ["core", "recorder"]; lib.rs and main.rs are the crate root [].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The text without comments (line comments and doc comments), so that a path named in a
/// comment is no import.
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The module a path such as `crate::core::row::By` or `super::table::Order` names: its
/// longest prefix that is a module of src/.
fn resolve(segs: &[&str], current: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut base: Vec<String> = Vec::new();
    let mut rest = segs;
    match segs.first()? {
        &"crate" => rest = &segs[1..],
        &"super" | &"self" => {
            base = current.to_vec();
            while let Some(s) = rest.first().filter(|s| **s == "super" || **s == "self") {
                if *s == "super" {
                    base.pop();
                }
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    let full: Vec<String> = base.into_iter().chain(rest.iter().map(|s| s.to_string())).collect();
    (0..=full.len()).rev().map(|n| full[..n].to_vec()).find(|m| modules.contains(m))
}

/// The paths of a file's code that start at `crate`, `super` or `self`, or at one of its
/// child modules, with the items of a `{...}` group each a path of its own.
fn paths(code: &str, children: &[String]) -> Vec<Vec<String>> {
    let b = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // A path starts at an identifier not inside another path.
        if !ident(b[i]) || i > 0 && (ident(b[i - 1]) || b[i - 1] == b':') {
            i += 1;
            continue;
        }
        let mut segs: Vec<String> = Vec::new();
        loop {
            let start = i;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            segs.push(code[start..i].to_string());
            if code[i..].starts_with("::") && b.get(i + 2).is_some_and(|c| ident(*c)) {
                i += 2;
            } else {
                break;
            }
        }
        let group = code[i..].starts_with("::{");
        let rooted = matches!(segs[0].as_str(), "crate" | "super" | "self") || children.contains(&segs[0]);
        if !rooted || segs.len() < 2 && !group {
            continue;
        }
        if children.contains(&segs[0]) {
            segs.insert(0, "self".into());
        }
        if group {
            let end = code[i..].find('}').map_or(code.len(), |e| i + e);
            for item in code[i + 3..end].split(',') {
                let item = item.split(" as ").next().unwrap_or_default().trim().trim_start_matches('{');
                let mut p = segs.clone();
                p.extend(item.split("::").filter(|s| !s.is_empty() && *s != "self").map(String::from));
                out.push(p);
            }
            i = end;
        } else {
            out.push(segs);
        }
    }
    out
}

/// The modules each module of src/ imports (itself left out).
fn imports(src: &Path) -> BTreeMap<Vec<String>, (PathBuf, BTreeSet<Vec<String>>)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut out = BTreeMap::new();
    for f in files {
        let m = module_of(src, &f);
        let text = code(&fs::read_to_string(&f).unwrap());
        let children: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim().trim_start_matches("pub ").trim_start_matches("pub(crate) ");
                l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_string)
            })
            .collect();
        let mut to = BTreeSet::new();
        for p in paths(&text, &children) {
            let segs: Vec<&str> = p.iter().map(String::as_str).collect();
            if let Some(t) = resolve(&segs, &m, &modules).filter(|t| *t != m) {
                to.insert(t);
            }
        }
        out.insert(m, (f, to));
    }
    out
}

/// The import circles: each strongly connected set of more than one module (Tarjan).
fn circles(graph: &BTreeMap<Vec<String>, (PathBuf, BTreeSet<Vec<String>>)>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<Vec<String>, (PathBuf, BTreeSet<Vec<String>>)>,
        index: BTreeMap<&'a Vec<String>, (usize, usize)>,
        stack: Vec<&'a Vec<String>>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a Vec<String>) {
        t.index.insert(v, (t.next, t.next));
        t.next += 1;
        t.stack.push(v);
        for w in &t.g[v].1 {
            let Some((w, _)) = t.g.get_key_value(w) else { continue };
            match t.index.get(w).copied() {
                None => {
                    visit(t, w);
                    let low = t.index[v].1.min(t.index[w].1);
                    t.index.get_mut(v).unwrap().1 = low;
                }
                Some((wi, _)) if t.stack.contains(&w) => {
                    let low = t.index[v].1.min(wi);
                    t.index.get_mut(v).unwrap().1 = low;
                }
                _ => {}
            }
        }
        if t.index[v].0 == t.index[v].1 {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                comp.push(if w.is_empty() { "lib".to_string() } else { w.join("/") });
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T { g: graph, index: BTreeMap::new(), stack: Vec::new(), next: 0, out: Vec::new() };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn no_subcommand_imports_another() {
    let graph = imports(&root().join("src"));
    let mut bad = Vec::new();
    for (m, (f, to)) in &graph {
        if m.first().map(String::as_str) != Some("cmd") || m.len() < 2 {
            continue;
        }
        for t in to.iter().filter(|t| t.len() >= 2 && t[0] == "cmd" && t[1] != m[1]) {
            bad.push(format!("{} imports cmd::{}", f.display(), t[1..].join("::")));
        }
    }
    assert!(bad.is_empty(), "a subcommand imports another (move what they share into core/): {bad:#?}");
}

#[test]
fn no_import_circle_between_files_of_src() {
    let graph = imports(&root().join("src"));
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "import circles between files of src/ (move what both use into a module below them, \
         such as model/): {found:?}"
    );
}

#[test]
fn the_check_finds_a_circle_and_a_child_import() {
    let dir = std::env::temp_dir().join(format!("netattr-layout-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("a")).unwrap();
    fs::write(dir.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    fs::write(dir.join("a.rs"), "mod c;\nuse crate::b::X;\npub fn f() { c::g(); }\n").unwrap();
    fs::write(dir.join("a/c.rs"), "pub fn g() {}\n").unwrap();
    fs::write(dir.join("b.rs"), "// crate::a::f in a comment is no import\nuse crate::a::{f, c::g};\n")
        .unwrap();
    let graph = imports(&dir);
    let found = circles(&graph);
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(found, vec![vec!["a".to_string(), "b".to_string()]]);
    assert!(graph[&vec!["a".to_string()]].1.contains(&vec!["a".to_string(), "c".to_string()]));
}

/// The files under `dir` longer than `max` lines, with their length.
fn longer_than(dir: &Path, max: usize) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    files
        .iter()
        .filter_map(|f| {
            let n = fs::read_to_string(f).unwrap().lines().count();
            (n > max).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect()
}

#[test]
fn no_src_file_is_over_400_lines() {
    let long = longer_than(&root().join("src"), MAX_LINES);
    assert!(long.is_empty(), "split these where a name helps (at most {MAX_LINES} lines): {long:#?}");
}

/// Test files stay readable in one sitting too; helpers shared by several test modules live
/// in the harness (tests/it/harness/), split by concern.
#[test]
fn no_test_file_is_over_500_lines() {
    let long = longer_than(&root().join("tests"), MAX_TEST_LINES);
    assert!(long.is_empty(), "split these by concern (at most {MAX_TEST_LINES} lines): {long:#?}");
}

/// No test module borrows a helper from a sibling test module: shared helpers live in the
/// harness.
#[test]
fn test_modules_borrow_helpers_only_from_the_harness() {
    let dir = root().join("tests/it");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut borrowed = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(dir.join("harness"))) {
        let text = code(&fs::read_to_string(f).unwrap());
        for (i, _) in text.match_indices("crate::") {
            let module: String =
                text[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            // peer.rs is the traffic peer's entry point (its ENV names the child's role).
            if module != "harness" && module != "peer" {
                borrowed.push(format!("{}: crate::{module}", f.display()));
            }
        }
    }
    assert!(borrowed.is_empty(), "move these helpers into tests/it/harness/: {borrowed:#?}");
}

#[test]
fn every_unsafe_has_its_safety_comment() {
    let mut files = Vec::new();
    for d in ["src", "tests", "examples", "build.rs"] {
        let p = root().join(d);
        if p.is_dir() {
            rust_files(&p, &mut files);
        } else if p.exists() {
            files.push(p);
        }
    }
    let mut bad = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let is_unsafe = ["unsafe {", "unsafe fn", "unsafe impl"].iter().any(|u| code.contains(u))
                && !code.contains("\"");
            // The comment on the line, or in the lines just above (a statement's start).
            let said = (i.saturating_sub(8)..=i).any(|j| lines[j].contains("SAFETY:"));
            if is_unsafe && !said {
                bad.push(format!("{}:{}", f.display(), i + 1));
            }
        }
    }
    assert!(bad.is_empty(), "an unsafe without a '// SAFETY:' comment above it: {bad:#?}");
}
