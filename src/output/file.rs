//! `--output FILE`: a report written to a file atomically, for readers such as
//! node_exporter's textfile collector.
use std::io;

use anyhow::{bail, Result};

use super::{Format, Report};

/// The mode of a file `--output` makes: its owner writes it, its group reads it.
const NEW_MODE: u32 = 0o640;

/// Writes `report` in `format` to `path` atomically (a temporary file in the same directory,
/// renamed over it), so that a reader such as node_exporter's textfile collector never sees
/// half a file. Only a regular file is replaced: anything else at `path` (a device, FIFO,
/// socket or directory) is refused. A symbolic link root or the running user owns is
/// followed: its target is replaced in the target's directory and the link stays as it is;
/// another user's link is refused. A replaced file keeps its mode and owner; a new one is
/// made 0640.
pub fn emit_to_file<R: Report>(format: Format, report: &R, path: &std::path::Path) -> Result<()> {
    use anyhow::Context;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let path = target_file(path)?;
    let path = path.as_path();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().with_context(|| format!("--output {} names no file", path.display()))?;
    if !dir.is_dir() {
        bail!("--output {}: there is no directory {} (create it first)", path.display(), dir.display());
    }
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let old = std::fs::metadata(path).ok();
    let mode = old.as_ref().map_or(NEW_MODE, |m| m.mode() & 0o7777);
    let result = (|| -> Result<()> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode & 0o700)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        // The replaced file's owner first (as root), then its whole mode (the umask took
        // nothing from it): no one else reads the file meanwhile.
        if let Some(m) = &old {
            let _ = std::os::unix::fs::fchown(&file, Some(m.uid()), Some(m.gid()));
        }
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        let mut f = io::BufWriter::new(file);
        super::write(format, report, &mut f)?;
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The file `--output PATH` replaces: PATH itself when it is absent or a regular file, the
/// final target of a symbolic link when that is a regular file; anything else is refused.
fn target_file(path: &std::path::Path) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(link) = std::fs::symlink_metadata(path) else { return Ok(path.to_path_buf()) };
    let (real, md) = if link.file_type().is_symlink() {
        use std::os::unix::fs::MetadataExt;
        let me = nix::unistd::geteuid().as_raw();
        if link.uid() != 0 && link.uid() != me {
            bail!(
                "--output {} is a symbolic link owned by user {}: netattr follows only links root \
                 or you own there; give the file's own path",
                path.display(),
                link.uid()
            );
        }
        match (std::fs::canonicalize(path), std::fs::metadata(path)) {
            (Ok(real), Ok(md)) => (real, md),
            _ => bail!(
                "--output {}: a symbolic link to nothing; point it at a file or give the file's own path",
                path.display()
            ),
        }
    } else {
        (path.to_path_buf(), link)
    };
    let t = md.file_type();
    let what = if t.is_file() {
        return Ok(real);
    } else if t.is_dir() {
        "a directory"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    bail!(
        "--output {} is {what}: netattr replaces only regular files there (for a device or FIFO, \
         write to stdout instead: 'netattr stats ... > {}')",
        path.display(),
        path.display()
    )
}
