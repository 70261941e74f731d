//! Shell completions and man pages, generated from the clap definition. They are committed
//! under completions/ and man/; a test fails when they are stale
//! (`NETATTR_BLESS=1 cargo test --test it docs` rewrites them).
use std::fs;
use std::path::Path;

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::Cli;

/// (relative path, contents) of every generated file.
pub fn generate() -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for (shell, name) in
        [(Shell::Bash, "netattr.bash"), (Shell::Zsh, "_netattr"), (Shell::Fish, "netattr.fish")]
    {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "netattr", &mut buf);
        files.push((format!("completions/{name}"), buf));
    }
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    files.push(("man/netattr.1".to_string(), buf));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("netattr-{}", sub.get_name());
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone())).render(&mut buf)?;
        files.push((format!("man/{name}.1"), buf));
    }
    Ok(files)
}

/// Writes every generated file under `root`.
pub fn write_all(root: &Path) -> Result<()> {
    for (rel, data) in generate()? {
        let p = root.join(rel);
        if let Some(dir) = p.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(p, data)?;
    }
    Ok(())
}
