//! A wall-clock jump, injected into the real engine's clock source with libfaketime (its
//! `CLOCK_REALTIME` moved an hour forward, then back, while `CLOCK_MONOTONIC` and the TSC run
//! on): the engine notices and counts it, and nothing that measures time moves — no stale
//! feed, no order-acknowledgement timeout, no hour-sized latency, trading goes on.
//!
//! Needs Debian's `faketime` package (scripts/test.sh installs it). Without it the test says so
//! and passes only when `TICKWIRE_REQUIRE_FAKETIME` is unset; scripts/test.sh sets it.

use std::time::{Duration, Instant};
use tickwire_shm::layout::{alarms, CounterId, FeedState, Stage};
use tickwire_shm::region::RegionReader;
use tickwire_tests::{test_config, wait_for, EngineProcess};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// Watches `r` for `span`: the feed stays live, no acknowledgement times out, fills keep coming.
fn steady_through(r: &RegionReader, span: Duration, what: &str) {
    let fills = r.fills_written();
    let end = Instant::now() + span;
    while Instant::now() < end {
        let market = r.market(0).expect("market cell");
        assert_eq!(
            market.feed_state,
            FeedState::Live.code(),
            "{what}: the feed must stay live"
        );
        assert_eq!(
            r.counter(CounterId::AckTimeouts),
            0,
            "{what}: no ack timeout"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(r.fills_written() > fills, "{what}: still trading");
    for stage in Stage::ALL {
        let worst = r.summarize(&r.latency_ticks(*stage)).max_ns;
        assert!(
            worst < 1_000_000_000,
            "{what}: {} max {worst} ns",
            stage.name()
        );
    }
}

#[test]
fn a_wall_clock_jump_is_counted_and_disturbs_nothing() {
    if !std::path::Path::new(LIBFAKETIME).exists() {
        assert!(
            std::env::var_os("TICKWIRE_REQUIRE_FAKETIME").is_none(),
            "{LIBFAKETIME} is required (apt-get install faketime)"
        );
        eprintln!("SKIPPED: no {LIBFAKETIME} (scripts/test.sh installs faketime)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let offset = dir.path().join("faketime");
    std::fs::write(&offset, "+0\n").expect("offset file");
    let offset_path = offset.to_str().expect("utf-8 path");
    let mut engine = EngineProcess::start_with_env(
        dir.path(),
        &test_config(dir.path(), "jump", ""),
        &[
            ("LD_PRELOAD", LIBFAKETIME),
            ("FAKETIME_TIMESTAMP_FILE", offset_path),
            ("FAKETIME_NO_CACHE", "1"),
            ("DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    let r = engine.wait_ready();
    wait_for(Duration::from_secs(30), || {
        (r.fills_written() >= 3).then_some(())
    })
    .expect("trading");
    steady_through(&r, Duration::from_millis(500), "before the jump");
    assert_eq!(r.counter(CounterId::ClockJumps), 0);

    std::fs::write(&offset, "+3600\n").expect("jump forward");
    wait_for(Duration::from_secs(10), || {
        (r.counter(CounterId::ClockJumps) >= 1).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "forward jump not counted; stderr:\n{}",
            engine.stderr_text()
        )
    });
    // The counter moves on the strategy thread at once; the alarm bit reaches the region with
    // the next status publication.
    wait_for(Duration::from_secs(5), || {
        (r.engine().ok()?.alarms & alarms::CLOCK_JUMP != 0).then_some(())
    })
    .expect("clock-jump alarm raised");
    steady_through(&r, Duration::from_secs(2), "after a jump forward");

    std::fs::write(&offset, "+0\n").expect("jump back");
    wait_for(Duration::from_secs(10), || {
        (r.counter(CounterId::ClockJumps) >= 2).then_some(())
    })
    .expect("backward jump counted");
    steady_through(&r, Duration::from_secs(2), "after a jump back");

    engine.signal(libc::SIGTERM);
    assert!(
        engine.wait_exit(Duration::from_secs(10)).success(),
        "{}",
        engine.stderr_text()
    );
}
