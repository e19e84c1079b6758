//! Disk full under the journal, for real: the engine's run directory is a small tmpfs this test
//! mounts (root only; otherwise it says why it skipped), filled to the last byte while the
//! engine trades. The engine must go reduce-only with the storage alarm — visible in the
//! monitor's `/api/state` and `/health` — keep every record in memory, and write them all once
//! space returns: at the clean stop the journal holds every fill the engine made.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use tickwire_tests::storage;

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Self, String> {
        // SAFETY: geteuid(2) only reads the process's credentials.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root (mounting a tmpfs needs it)".into());
        }
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the filesystem is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).expect("filler file");
    let block = vec![0xA5u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling the tmpfs: {e}"),
        }
    }
    // Whatever the last partial write left: fill it byte by byte.
    while file.write(&[0xA5]).is_ok_and(|n| n == 1) {
        written += 1;
    }
    written
}

#[test]
fn disk_full_under_the_journal_goes_reduce_only_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let tmpfs = match Tmpfs::mount(&run, "4m") {
        Ok(t) => t,
        Err(why) => {
            eprintln!("SKIPPED disk-full test: {why}");
            return;
        }
    };
    let mut trading = storage::start_trading(dir.path(), "full");

    let filler = run.join("filler");
    let filled = fill(&filler);
    assert!(filled > 0, "the tmpfs took some filler");

    // The journal cannot write: alarm, reduce-only, records held in memory.
    storage::wait_alarm_and_records_held(&trading.monitor);

    // Space returns: everything held is written, the alarm clears, trading resumes.
    std::fs::remove_file(&filler).expect("free the space");
    storage::wait_recovered_and_trading(&trading.monitor, &trading.reader);
    storage::stop_and_check_journal(&mut trading, &run.join("full.sqlite"));
    drop(trading);
    drop(tmpfs);
}
