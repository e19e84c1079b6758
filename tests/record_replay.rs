//! `engine record` against the venue simulator, then `engine replay` of the recording: every
//! recorded frame is a valid message of the venue's format.

use std::process::Command;
use tickwire_tests::{binary, test_config, with_feed, VenueProcess};

#[test]
fn recorded_frames_replay_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let venue = VenueProcess::start(dir.path(), 8);
    let config = with_feed(&test_config(dir.path(), "rec", ""), &venue.feed_config());
    let config_path = dir.path().join("rec.toml");
    std::fs::write(&config_path, config).expect("config");
    let recording = dir.path().join("frames.jsonl");
    let record = Command::new(binary("engine"))
        .args(["record", "--seconds", "2", "--config"])
        .arg(&config_path)
        .arg("--out")
        .arg(&recording)
        .output()
        .expect("run record");
    assert!(
        record.status.success(),
        "{}",
        String::from_utf8_lossy(&record.stderr)
    );
    let text = std::fs::read_to_string(&recording).expect("recording");
    assert!(text.lines().count() > 10, "{} frames", text.lines().count());
    assert!(text.lines().all(|l| l.starts_with("{\"recv_ns\":")));

    let replay = Command::new(binary("engine"))
        .args(["replay", "--venue", "binance"])
        .arg(&recording)
        .output()
        .expect("run replay");
    assert!(replay.status.success());
    let out = String::from_utf8(replay.stdout).expect("utf8");
    let summary: serde_json::Value =
        serde_json::from_str(out.lines().last().expect("summary")).expect("json");
    assert_eq!(summary["summary"]["rejected"], 0, "{out}");
    assert_eq!(
        summary["summary"]["lines"].as_u64(),
        Some(text.lines().count() as u64)
    );
    for kind in ["bookTicker", "depthUpdate", "trade"] {
        assert!(
            out.contains(&format!("\"event\":\"{kind}\"")),
            "no {kind} in the recording"
        );
    }
    let synthetic = Command::new(binary("engine"))
        .args(["record", "--seconds", "1", "--config"])
        .arg(dir.path().join("missing.toml"))
        .args(["--out", "/dev/null"])
        .output()
        .expect("run record");
    assert_eq!(
        synthetic.status.code(),
        Some(2),
        "a missing config is a config error"
    );
}
