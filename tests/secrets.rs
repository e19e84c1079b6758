//! API secrets against the real engine in live mode (the venue simulator stands in for the
//! exchange; the engine signs every request): the secret comes from a 0600 file, is used, and
//! appears nowhere an operator or another process can read — the engine's log, `/api/state`,
//! `/metrics`, the shared-memory region, the journal. A credentials file others can read is
//! refused before anything starts, naming the file and its mode, without printing the secret.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use tickwire_tests::{
    test_config, wait_for, with_feed, with_gateway, EngineProcess, MonitorProcess, VenueProcess,
};

const KEY: &str = "tw-live-key-7d2e";
const SECRET: &str = "tw-secret-0b9f4c2a8e61d357";

fn credentials(dir: &Path, mode: u32) -> std::path::PathBuf {
    let path = dir.join("credentials");
    std::fs::write(&path, format!("{KEY}\n{SECRET}\n")).expect("write credentials");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

fn live_config(dir: &Path, venue: &VenueProcess, credentials: &Path, instance: &str) -> String {
    let gateway = format!(
        "[gateway]\nmode = \"live\"\nurl = \"{}/ws-api/v3\"\nca_file = \"{}\"\ncredentials_file = \"{}\"\n",
        venue.ws,
        venue.ca_file.as_ref().expect("TLS venue").display(),
        credentials.display()
    );
    with_gateway(
        &with_feed(&test_config(dir, instance, ""), &venue.feed_config()),
        &gateway,
    )
}

fn assert_absent(what: &str, haystack: &[u8]) {
    for needle in [SECRET.as_bytes(), KEY.as_bytes()] {
        assert!(
            !haystack.windows(needle.len()).any(|w| w == needle),
            "{what} holds {:?}",
            String::from_utf8_lossy(needle)
        );
    }
}

#[test]
fn the_secret_is_used_and_shown_nowhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let venue = VenueProcess::start(dir.path(), 41);
    let creds = credentials(dir.path(), 0o600);
    let mut engine = EngineProcess::start(
        dir.path(),
        &live_config(dir.path(), &venue, &creds, "secret"),
    );
    let reader = engine.wait_ready();
    let monitor = MonitorProcess::start(&engine.shm, &[]);
    wait_for(Duration::from_secs(30), || {
        (reader.fills_written() > 0).then_some(())
    })
    .unwrap_or_else(|| panic!("no fills in live mode; stderr:\n{}", engine.stderr_text()));
    let account = venue.accounts();
    assert!(
        account.to_string().contains(KEY),
        "the venue saw orders from the key's account: {account}"
    );

    let (_, state) = monitor.get("/api/state");
    assert_absent("/api/state", state.as_bytes());
    let (_, metrics) = monitor.get("/metrics");
    assert_absent("/metrics", metrics.as_bytes());
    assert_absent(
        "the region",
        &std::fs::read(&engine.shm).expect("read the region"),
    );
    engine.signal(libc::SIGTERM);
    assert!(
        engine.wait_exit(Duration::from_secs(10)).success(),
        "{}",
        engine.stderr_text()
    );
    assert_absent("the engine's log", engine.stderr_text().as_bytes());
    for entry in std::fs::read_dir(dir.path().join("run")).expect("run dir") {
        let path = entry.expect("entry").path();
        assert_absent(
            &path.display().to_string(),
            &std::fs::read(&path).expect("read run file"),
        );
    }
}

#[test]
fn a_credentials_file_others_can_read_is_refused_without_printing_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let venue = VenueProcess::start(dir.path(), 42);
    let creds = credentials(dir.path(), 0o644);
    let mut engine = EngineProcess::start(
        dir.path(),
        &live_config(dir.path(), &venue, &creds, "leaky"),
    );
    let status = engine.wait_exit(Duration::from_secs(10));
    let log = engine.stderr_text();
    assert_eq!(status.code(), Some(1), "a start-up failure: {log}");
    assert!(
        log.contains(&creds.display().to_string()) && log.contains("644"),
        "names the file and its mode: {log}"
    );
    assert_absent("the error", log.as_bytes());
    assert!(!engine.shm.exists(), "nothing started");
}
