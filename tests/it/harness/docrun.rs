//! The commands the README and docs/ show, read from their code blocks and run as shown.
//!
//! A `sh` block is a script (every line but comments is a command; `\` and open quotes
//! continue a line); a `console` block's commands are its `$ ` lines (the rest is output).
//! Each block runs as one session of its own in bash, in a directory of its own, with the
//! machine's names replaced by the test's (`Session::substitute`, listed in
//! docs/development.md): its pin directory, its veth for `--all-veth`, its cgroup subtree for
//! a bare `--cgroup`, its ledger, its ClickHouse server. A command must exit 0; one ending in
//! `&` runs in the background until the block ends (then SIGTERM, and it must exit 0); one
//! that runs until stopped (`top`, `stats --interval` without `--count`, `export --follow`)
//! runs until it has shown it works (a line printed, a screen drawn, its start announced),
//! then is stopped the way a person stops it.
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::*;

/// A command a doc shows: where, and its text (continuations joined).
#[derive(Debug, Clone)]
pub struct DocCommand {
    pub file: String,
    pub line: usize,
    pub text: String,
}

/// A fenced block of a doc: its file, first line, language and text.
#[derive(Debug, Clone)]
pub struct DocBlock {
    pub file: String,
    pub line: usize,
    pub lang: String,
    pub text: String,
}

/// The README and every file of docs/ but the walkthrough (its script runs its commands).
pub fn doc_files(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .flatten()
        .map(|e| format!("docs/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".md") && f != "docs/walkthrough.md")
        .collect();
    files.sort();
    files.insert(0, "README.md".into());
    files
}

/// Every fenced block of `file`.
pub fn doc_blocks(root: &Path, file: &str) -> Vec<DocBlock> {
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    let mut blocks = Vec::new();
    let mut open: Option<DocBlock> = None;
    for (i, l) in text.lines().enumerate() {
        match (l.strip_prefix("```"), open.take()) {
            (Some(lang), None) => {
                open = Some(DocBlock {
                    file: file.into(),
                    line: i + 2,
                    lang: lang.trim().into(),
                    text: String::new(),
                })
            }
            (Some(_), Some(b)) => blocks.push(b),
            (None, Some(mut b)) => {
                b.text.push_str(l);
                b.text.push('\n');
                open = Some(b);
            }
            (None, None) => {}
        }
    }
    blocks
}

/// The commands of a `sh` or `console` block (none for other languages).
pub fn block_commands(b: &DocBlock) -> Vec<DocCommand> {
    let console = b.lang == "console";
    if !console && b.lang != "sh" {
        return Vec::new();
    }
    let mut out: Vec<DocCommand> = Vec::new();
    let mut pending: Option<DocCommand> = None;
    for (i, l) in b.text.lines().enumerate() {
        if let Some(mut p) = pending.take() {
            p.text.push('\n');
            p.text.push_str(l);
            match continues(&p.text) {
                true => pending = Some(p),
                false => out.push(p),
            }
            continue;
        }
        let cmd = match console {
            true => l.strip_prefix("$ "),
            false => Some(l.trim()).filter(|l| !l.is_empty() && !l.starts_with('#')),
        };
        let Some(cmd) = cmd else { continue };
        let c = DocCommand { file: b.file.clone(), line: b.line + i, text: cmd.to_string() };
        match continues(&c.text) {
            true => pending = Some(c),
            false => out.push(c),
        }
    }
    out.extend(pending);
    out
}

/// Whether a command goes on to the next line: a trailing `\` or an open quote.
fn continues(text: &str) -> bool {
    let code = strip_comment(text);
    code.trim_end().ends_with('\\') || code.matches('"').count() % 2 == 1
}

/// `text` without a trailing `# comment` (a `#` outside quotes after a blank).
pub fn strip_comment(text: &str) -> String {
    let (mut single, mut double, mut prev) = (false, false, ' ');
    for (i, ch) in text.char_indices() {
        match ch {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return text[..i].trim_end().to_string(),
            _ => {}
        }
        prev = ch;
    }
    text.trim_end().to_string()
}

/// What a block's session runs against: the test's names for the machine's.
pub struct Session<'a> {
    pub na: &'a Netattr,
    pub veth: String,
    pub cgroup_rel: String,
    pub ch: &'a ClickHouse,
    pub dir: TempDir,
    bin: TempDir,
    serve_port: u16,
    background: Vec<(DocCommand, Background)>,
}

impl<'a> Session<'a> {
    pub fn new(na: &'a Netattr, veth: &str, cgroup_rel: &str, ch: &'a ClickHouse) -> Self {
        let bin = TempDir::new();
        std::os::unix::fs::symlink(BIN, bin.join("netattr")).unwrap();
        let (dir, serve_port) = (TempDir::new(), free_port());
        Session {
            na,
            veth: veth.into(),
            cgroup_rel: cgroup_rel.into(),
            ch,
            dir,
            bin,
            serve_port,
            background: vec![],
        }
    }

    pub fn ledger(&self) -> PathBuf {
        self.dir.join("ledger.db")
    }

    /// The command with the machine's names replaced by the test's.
    pub fn substitute(&self, text: &str) -> String {
        let store = format!("127.0.0.1:{}", self.ch.http_port);
        let pins = format!("{}/", self.na.pin_dir.display());
        let (ledger, password) =
            (self.ledger().display().to_string(), self.ch.password_file.display().to_string());
        let serve = format!("netattr serve --listen 127.0.0.1:{}", self.serve_port);
        let t = strip_comment(text)
            .replace("sudo ", "")
            .replace("--all-veth", &format!("--iface {}", self.veth))
            .replace("netattr serve", &serve)
            .replace("ch.example:8123", &store)
            .replace("ch:8123", &store)
            .replace("/etc/netattr/clickhouse.password", &password)
            .replace("/var/lib/netattr/ledger.db", &ledger)
            .replace("/sys/fs/bpf/netattr/", &pins);
        // A bare --cgroup (the cgroup2 root): the test's subtree.
        let words: Vec<&str> = t.split(' ').collect();
        let mut out = Vec::new();
        for (i, w) in words.iter().enumerate() {
            out.push(w.to_string());
            let next = words.get(i + 1).copied().unwrap_or("");
            if *w == "--cgroup" && (next.is_empty() || next.starts_with('-') || next == "&&" || next == "&") {
                out.push(self.cgroup_rel.clone());
            }
        }
        out.join(" ")
    }

    /// `c` in the session's directory and environment: netattr on PATH, the test's pin
    /// directory, ledger and store password, no export settings of the host's.
    fn in_session<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        let path = format!("{}:{}", self.bin.0.display(), std::env::var("PATH").unwrap_or_default());
        c.current_dir(&self.dir.0).env("PATH", path);
        c.env("NETATTR_PIN_DIR", &self.na.pin_dir).env("NETATTR_LEDGER", self.ledger());
        c.env("NETATTR_CLICKHOUSE_PASSWORD", CH_PASSWORD);
        for v in ["NETATTR_EXPORT_TO", "NETATTR_NODE", "NETATTR_ZONE"] {
            c.env_remove(v);
        }
        c
    }

    fn bash(&self, text: &str) -> Command {
        let mut c = Command::new("bash");
        self.in_session(c.args(["-c", text]));
        c
    }

    /// Runs one command as the doc shows it; panics naming the doc line when it fails.
    pub fn run(&mut self, c: &DocCommand) {
        let text = self.substitute(&c.text);
        let at = format!("{}:{}: {}", c.file, c.line, c.text);
        if let Some(bg) = text.strip_suffix('&') {
            let log = self.dir.join(&format!("bg{}.log", self.background.len()));
            let b = Background::spawn(self.bash(&format!("exec {}", bg.trim())), log);
            self.ready(&text, &b, &at);
            self.background.push((c.clone(), b));
        } else if text.contains("netattr top") {
            self.on_a_terminal(&text, &at);
        } else if runs_until_stopped(&text) {
            let log = self.dir.join("until.log");
            let mut cmd = self.bash(&text);
            cmd.process_group(0);
            let b = Background::spawn(cmd, log);
            self.ready(&text, &b, &at);
            b.stop_group();
        } else {
            let r = run_cmd(&mut self.bash(&text));
            assert!(r.code == 0, "{at}\nran as: {text}\nexit {}: {}{}", r.code, r.stdout, r.stderr);
        }
    }

    /// Waits until a command that runs on has shown that it works.
    fn ready(&self, text: &str, b: &Background, at: &str) {
        let alive = || b.running() || panic!("{at}: ended early: {}", b.said());
        let long = Duration::from_secs(30);
        if text.contains("netattr serve") {
            wait_until(at, long, || alive() && http_get(self.serve_port, "/metrics").0 == 200);
        } else if text.contains("netattr record") {
            let base = recorder_cycles(&self.ledger());
            wait_until(at, long, || alive() && recorder_cycles(&self.ledger()) > base);
        } else if text.contains("--follow") {
            wait_until(at, long, || alive() && b.said().contains("netattr: exporting"));
        } else {
            wait_until(at, long, || alive() && b.printed().lines().count() >= 2);
        }
    }

    /// `top` on a terminal of its own (util-linux `script`): drawn, then quit with q.
    fn on_a_terminal(&self, text: &str, at: &str) {
        let shown = self.dir.join("terminal.out");
        let mut cmd = Command::new("script");
        self.in_session(cmd.args(["-qefc", &format!("stty cols 160 rows 40; {text}"), "/dev/null"]));
        cmd.stdin(Stdio::piped()).stdout(std::fs::File::create(&shown).unwrap()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let drawn = || std::fs::read_to_string(&shown).unwrap_or_default().contains("CGROUP");
        wait_until(&format!("{at}: a screen drawn"), Duration::from_secs(30), drawn);
        child.stdin.as_mut().unwrap().write_all(b"q").unwrap();
        let mut status = None;
        wait_until(&format!("{at}: the end on q"), Duration::from_secs(20), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        assert!(status.is_some_and(|s| s.success()), "{at}: {status:?}");
    }

    /// The block's end: its background commands stopped (each must exit 0), the instance
    /// cleaned up.
    pub fn end(&mut self) {
        for (c, b) in self.background.drain(..).rev() {
            let at = format!("{}:{}: {}", c.file, c.line, c.text);
            let said = b.said();
            assert!(b.running(), "{at}: ended before the block did: {said}");
            b.stop();
        }
        let _ = self.na.run(&["cleanup"]);
    }
}

/// Whether a command streams until it is stopped.
fn runs_until_stopped(text: &str) -> bool {
    text.contains("--follow")
        || (text.contains("--interval") && text.contains("netattr stats") && !text.contains("--count"))
}
