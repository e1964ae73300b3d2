//! Writing the `--state` file: all or nothing, durable once the call returns.
//!
//! Blocking file I/O: it runs on the admin thread (after the gateway accepted a change), never on
//! a proxy worker.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `yaml` atomically: writes a temporary file in the same directory, fsyncs
/// it, renames it over `path` and fsyncs the directory, so a crash leaves either the old or the
/// new file, never a torn one. A new file is created readable by its owner only (it holds
/// credentials); an existing file's permissions are kept.
pub fn write_state_atomically(path: &Path, yaml: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = dir.join(tmp_name);

    let result = write_synced(&tmp, path, yaml).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // The rename is durable only once the directory entry is.
    File::open(dir)?.sync_all()
}

fn write_synced(tmp: &Path, path: &Path, yaml: &str) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(tmp)?;
    if let Ok(meta) = std::fs::metadata(path) {
        file.set_permissions(meta.permissions())?;
    }
    file.write_all(yaml.as_bytes())?;
    file.sync_all()
}
