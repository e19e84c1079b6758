//! `monitor --print` against a real engine: a second process reads the region and shows the
//! engine live, its data labelled synthetic, and the latency stages; after the engine stops it
//! says so instead of showing stale data as live.

use std::process::Command;
use std::time::Duration;
use tickwire_tests::{binary, test_config, wait_for, EngineProcess};

fn print(shm: &std::path::Path) -> (bool, String) {
    let out = Command::new(binary("monitor"))
        .arg("--shm")
        .arg(shm)
        .arg("--print")
        .output()
        .expect("run monitor");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn print_shows_a_live_engine_and_labels_synthetic_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = EngineProcess::start(dir.path(), &test_config(dir.path(), "mon", ""));
    let reader = engine.wait_ready();
    wait_for(Duration::from_secs(20), || {
        (reader.fills_written() > 0).then_some(())
    })
    .expect("fills");
    let (ok, text) = print(&engine.shm);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("pid {}  live", engine.child.id())),
        "{text}"
    );
    assert!(text.contains("BTCUSDT"), "{text}");
    assert!(
        text.contains("synthetic"),
        "synthetic data is labelled: {text}"
    );
    for stage in ["wire_to_decoded", "decide", "tick_to_trade"] {
        assert!(text.contains(stage), "{stage} missing: {text}");
    }
    assert!(text.contains("hot_path_allocations     0"), "{text}");

    // Freeze the engine: the heartbeat stops and the view says stalled, not live.
    engine.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(1500));
    let (_, text) = print(&engine.shm);
    engine.signal(libc::SIGCONT);
    assert!(text.contains("STALLED"), "{text}");

    engine.signal(libc::SIGTERM);
    assert!(engine.wait_exit(Duration::from_secs(10)).success());
    let (ok, text) = print(&engine.shm);
    assert!(!ok, "no region after a clean stop");
    assert!(text.contains("open region"), "{text}");
}
