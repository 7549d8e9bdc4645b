//! The file system at vapp's edge: bounded reads of files from outside (manifests, keys, states, plans)
//! and durable writes (the state file, the emulator's data file). Every error names its path (through
//! `fs-err`) and keeps the `io::Error` as its source.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Why a file from outside could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A device, a FIFO or a directory: reading it could block or never end.
    #[error("{path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("{path} is larger than {limit} bytes, the most vapp reads for {what}")]
    TooLarge { path: PathBuf, limit: u64, what: &'static str },
}

impl ReadError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads the regular file at `path`, refusing more than `limit` bytes (`what` names the limit in the
/// error). The file type is checked before it is opened: opening a FIFO would wait for a writer.
pub fn read_bounded(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, ReadError> {
    let metadata = fs_err::metadata(path)?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile { path: path.to_path_buf() });
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge { path: path.to_path_buf(), limit, what });
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // The file may grow between the check and the read: read one byte past the limit to notice.
    fs_err::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { path: path.to_path_buf(), limit, what });
    }
    Ok(bytes)
}

/// Who may read the file written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Readable only by its owner (0600): files that hold private keys.
    Private,
    /// The process umask decides.
    Shared,
}

/// Writes `bytes` to `path` so that a reader sees the old or the new file, never a mix, and the new one
/// survives a power cut once this returns: temp file in the same directory, fsync, rename, fsync of
/// the directory.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".vapp-tmp-")
        .tempfile_in(dir)
        .map_err(|e| with_path(e, "cannot make a temporary file in", dir))?;
    let written = match mode {
        Mode::Private => restrict_to_owner(tmp.as_file()),
        Mode::Shared => Ok(()),
    }
    .and_then(|()| tmp.write_all(bytes))
    .and_then(|()| tmp.as_file().sync_all());
    written.map_err(|e| with_path(e, "cannot write", tmp.path()))?;
    tmp.persist(path).map_err(|e| with_path(e.error, "cannot replace", path))?;
    sync_dir(dir);
    Ok(())
}

/// An I/O error that says what it was doing to which path, keeping the original as its source.
#[derive(Debug, thiserror::Error)]
#[error("{action} {}", path.display())]
struct PathError {
    action: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

fn with_path(source: std::io::Error, action: &'static str, path: &Path) -> std::io::Error {
    std::io::Error::new(source.kind(), PathError { action, path: path.to_path_buf(), source })
}

#[cfg(unix)]
fn restrict_to_owner(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_to_owner(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// A rename is durable only once its directory is; some platforms cannot open a directory, which is fine.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs_err::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_owner_only_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("s.json");
        write_atomically(&path, b"one", Mode::Private).unwrap();
        write_atomically(&path, b"two", Mode::Private).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }
}
