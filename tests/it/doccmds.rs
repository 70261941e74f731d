//! Every command the README and docs/ show runs as shown, so a doc command that fails fails
//! CI: each `sh` and `console` block is a session of its own against this test's instance,
//! veth, cgroup subtree, ledger and ClickHouse server (harness/docrun.rs says how), each SQL
//! block runs on that server, and each TOML block is the file the commands beside it read.
use std::path::Path;

use crate::harness::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The commands that do not run here, each with where it does run.
const ELSEWHERE: &[(&str, &str)] = &[
    ("./scripts/test.sh", "the command CI runs: this test is one of its tests"),
    ("./scripts/run.sh", "setup, a release build and 'netattr demo' (demo.rs runs the demo)"),
    ("sudo apt install ./netattr_", "package.rs installs the .deb with apt in a clean Debian container"),
];

/// The file a TOML block of the docs is, by what it holds.
fn toml_name(text: &str) -> Option<&'static str> {
    match () {
        _ if text.contains("[[price]]") => Some("prices.toml"),
        _ if text.contains("[classes]") => Some("classes.toml"),
        _ => None,
    }
}

#[test]
fn every_command_the_docs_show_runs() {
    let Some(s) = scene(1, false) else { return };
    let Some(ch) = ClickHouse::start() else { return };
    let (root, c) = (Path::new(ROOT), &s.c[0]);
    let blocks: Vec<DocBlock> = doc_files(root).iter().flat_map(|f| doc_blocks(root, f)).collect();
    let tomls: Vec<(&str, &str)> = blocks
        .iter()
        .filter(|b| b.lang == "toml")
        .filter_map(|b| Some((toml_name(&b.text)?, b.text.as_str())))
        .collect();
    assert_eq!(tomls.len(), 2, "a prices file and a classes file: {tomls:?}");
    let (mut ran, mut elsewhere, mut sql) = (0, 0, 0);
    for b in &blocks {
        if b.lang == "sql" {
            run_sql(&ch, b, sql);
            sql += 1;
            continue;
        }
        let (cmds, skipped): (Vec<DocCommand>, Vec<DocCommand>) = block_commands(b)
            .into_iter()
            .partition(|c| !ELSEWHERE.iter().any(|(p, _)| c.text.starts_with(p)));
        elsewhere += skipped.len();
        if cmds.is_empty() {
            continue;
        }
        let mut session = Session::new(&s.na, &c.host_if, &s.tree.rel(), &ch);
        for (name, text) in &tomls {
            std::fs::write(session.dir.join(name), text).unwrap();
        }
        if !cmds.iter().any(|c| c.text.contains("netattr load")) {
            counted_and_recorded(&s, &session);
        }
        for cmd in &cmds {
            session.run(cmd);
            ran += 1;
        }
        session.end();
    }
    eprintln!("doc commands: {ran} run here, {elsewhere} elsewhere ({ELSEWHERE:?}); {sql} SQL blocks");
    assert!(ran >= 30 && elsewhere == ELSEWHERE.len() && sql >= 2, "{ran} {elsewhere} {sql}");
}

/// What a block that does not load presumes: an instance counting the container and the
/// subtree by class and peer, some traffic, and a ledger with a cycle.
fn counted_and_recorded(s: &Scene, session: &Session) {
    let (na, c) = (&s.na, &s.c[0]);
    na.run(&["load", "--breakdown", "peer"]).ok();
    na.run(&["attach", "--iface", &c.host_if, "--cgroup", &s.tree.rel()]).ok();
    let port = 9800 + (uniq() % 150) as u16;
    let receiver = c.peer(&format!("tcp-recv {}:{port}", c.ip)).ready();
    let h = s.tree.cgroup(&format!("host.slice/doc{}.service", uniq()));
    Peer::spawn(&h, None, &format!("tcp-send {}:{port} 30000", c.ip)).finish();
    receiver.finish();
    na.run(&["record", "--once", "--ledger", session.ledger().to_str().unwrap()]).ok();
}

/// A SQL block: a schema (CREATE TABLE) in a database of its own, a query as it is.
fn run_sql(ch: &ClickHouse, b: &DocBlock, n: usize) {
    let db = format!("doc{n}");
    ch.query(&format!("CREATE DATABASE IF NOT EXISTS {db}"));
    for statement in b.text.split(";\n").map(str::trim).filter(|t| !t.is_empty()) {
        let (code, text) =
            http_request("127.0.0.1", ch.http_port, "POST", &format!("/?database={db}"), statement);
        assert_eq!(code, 200, "{}:{}: ClickHouse refuses it: {text}", b.file, b.line);
    }
}

/// The netattr commands the docs' prose shows in `code` parse as the command line they
/// show: subcommands, options and values that exist. The blocks' commands run (above); these
/// are checked by clap alone. Not commands: a mention of a subcommand or an option (`netattr
/// export`, `netattr report --from`), and a placeholder (FILE, SECONDS) where a value must
/// have a form.
#[test]
fn every_command_in_the_docs_prose_parses() {
    use clap::Parser;
    let root = Path::new(ROOT);
    let mut checked = 0;
    let mut wrong = Vec::new();
    // docs/commands.md's synopses ([optional], (one|other)) are held to the CLI by docs.rs.
    let files = doc_files(root).into_iter().filter(|f| f != "docs/commands.md");
    for file in files.chain(["docs/walkthrough.md".to_string()]) {
        let text = std::fs::read_to_string(root.join(&file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            for span in line.split('`').skip(1).step_by(2) {
                for part in span.split(['|', ';', '>']).flat_map(|p| p.split("&&")) {
                    let part = part.trim().trim_start_matches("sudo ");
                    if !part.starts_with("netattr ") || part.contains("...") {
                        continue;
                    }
                    let words: Vec<String> =
                        part.split_whitespace().map(|w| w.trim_matches(['\'', '"']).to_string()).collect();
                    checked += 1;
                    let Err(e) = netattr::Cli::try_parse_from(&words) else { continue };
                    if !mention_or_template(&words, &e) {
                        wrong.push(format!(
                            "{file}:{}: `{part}`: {}",
                            n + 1,
                            e.to_string().lines().next().unwrap_or("")
                        ));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} commands in the docs do not parse:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(checked >= 30, "{checked}");
}

/// Whether a span that clap refuses is a mention (a subcommand, or an option without its
/// value, in three words at most) or a template whose placeholder is refused as a value.
fn mention_or_template(words: &[String], e: &clap::Error) -> bool {
    use clap::error::ErrorKind::*;
    let placeholder = |w: &String| w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase() || c == '_');
    match e.kind() {
        MissingRequiredArgument | InvalidValue if words.len() <= 3 && e.to_string().contains("required") => {
            true
        }
        InvalidValue | ValueValidation => {
            words.iter().any(|w| placeholder(w) && e.to_string().contains(w.as_str()))
        }
        _ => false,
    }
}
