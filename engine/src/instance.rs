//! One engine per instance name, and the files that identify a running instance.
//!
//! The lock is an exclusive `flock(2)` on `<run_dir>/<instance>.lock`, which also holds the
//! owner's pid for the error message of a second start. The kernel drops the lock when the
//! owner exits for any reason (kill -9 included), so a stale lock file never blocks a restart;
//! the file itself is left in place, because unlinking a lock file races with a starter that
//! already opened it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why the instance could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// Another live engine holds the lock.
    #[error("engine instance {instance:?} is already running (pid {pid}, lock {path})")]
    AlreadyRunning {
        /// The instance.
        instance: String,
        /// The owner's pid as recorded in the lock file (0 if unreadable).
        pid: u32,
        /// The lock file.
        path: PathBuf,
    },
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> InstanceError + 'a {
    move |source| InstanceError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The held instance lock; released when dropped or when the process dies.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Claims `instance` in `run_dir` (created if missing, mode 0700).
    ///
    /// # Errors
    ///
    /// [`InstanceError::AlreadyRunning`] naming the owner's pid, or [`InstanceError::Io`].
    pub fn acquire(run_dir: &Path, instance: &str) -> Result<Self, InstanceError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(run_dir)
            .map_err(io("create directory", run_dir))?;
        let path = run_dir.join(format!("{instance}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io("open lock file", &path))?;
        // SAFETY: flock(2) on a descriptor owned by `file`, which outlives the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(InstanceError::AlreadyRunning {
                    instance: instance.to_string(),
                    pid: text.trim().parse().unwrap_or(0),
                    path,
                });
            }
            return Err(io("lock", &path)(err));
        }
        file.set_len(0).map_err(io("truncate lock file", &path))?;
        file.rewind().map_err(io("rewind lock file", &path))?;
        writeln!(file, "{}", std::process::id()).map_err(io("write lock file", &path))?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The control token file (`<run_dir>/<instance>.token`, mode 0600): a fresh random bearer
/// token per run, which a monitor needs to send commands. Removed at clean exit.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// Writes a new 256-bit token as hex.
    ///
    /// # Errors
    ///
    /// [`InstanceError::Io`] when the OS has no randomness or the file cannot be written.
    pub fn create(run_dir: &Path, instance: &str) -> Result<Self, InstanceError> {
        let path = run_dir.join(format!("{instance}.token"));
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| InstanceError::Io {
            op: "generate token for",
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let _ = std::fs::remove_file(&path);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("create token file", &path))?;
        writeln!(file, "{hex}").map_err(io("write token file", &path))?;
        Ok(Self { path })
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn second_lock_names_the_owner_and_release_frees_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = InstanceLock::acquire(dir.path(), "x").expect("first");
        match InstanceLock::acquire(dir.path(), "x") {
            Err(InstanceError::AlreadyRunning { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        InstanceLock::acquire(dir.path(), "y").expect("other instance is independent");
        drop(first);
        InstanceLock::acquire(dir.path(), "x").expect("free after release");
    }

    #[test]
    fn token_file_is_private_and_random() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = TokenFile::create(dir.path(), "x").expect("token");
        let mode = std::fs::metadata(a.path())
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let first = std::fs::read_to_string(a.path()).expect("read");
        assert_eq!(first.trim().len(), 64);
        let b = TokenFile::create(dir.path(), "x").expect("token again");
        assert_ne!(first, std::fs::read_to_string(b.path()).expect("read"));
        b.remove();
        assert!(!dir.path().join("x.token").exists());
    }
}
