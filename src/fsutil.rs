//! Durable file writes shared by the state file and the emulator's data file.

use std::io::Write;
use std::path::Path;

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
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".vapp-tmp-").tempfile_in(dir)?;
    if mode == Mode::Private {
        restrict_to_owner(tmp.as_file())?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
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
    if let Ok(d) = std::fs::File::open(dir) {
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
