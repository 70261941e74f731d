//! The demo's commands: iproute2 and others, their failure said or ignored.
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// `ip ARGS`; its stderr is the error when it fails.
pub(super) fn ip_cmd(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Whether a command ran and succeeded (its output dropped).
pub(super) fn run_ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}
