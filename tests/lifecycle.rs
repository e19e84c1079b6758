//! Engine lifecycle against the real binary: clean stops on SIGINT and SIGTERM, one instance
//! per name, restart after kill -9, and config errors.

use rusqlite::Connection;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tickwire_shm::layout::{CounterId, EngineState, FeedState};
use tickwire_shm::region::RegionReader;
use tickwire_tests::{
    binary, children_of, process_alive, test_config, wait_for, with_feed, EngineProcess,
};

fn stops_cleanly_on(signal: i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = EngineProcess::start(dir.path(), &test_config(dir.path(), "life", ""));
    let reader = engine.wait_ready();
    wait_for(Duration::from_secs(20), || {
        (reader.fills_written() > 0).then_some(())
    })
    .unwrap_or_else(|| panic!("no fills; stderr:\n{}", engine.stderr_text()));
    assert!(
        children_of(engine.child.id()).is_empty(),
        "the engine starts no child processes"
    );
    assert_stops_cleanly(&mut engine, &reader, dir.path(), "life", signal);
}

/// Sends `signal` to a running engine (instance `instance`, files in `dir`) and checks the
/// clean stop: exit 0 within the shutdown bound, no process, region, or token left, every
/// order ended, every fill journaled, the `stopped` event written once.
fn assert_stops_cleanly(
    engine: &mut EngineProcess,
    reader: &RegionReader,
    dir: &Path,
    instance: &str,
    signal: i32,
) {
    let pid = engine.child.id();
    let token = dir.join(format!("run/{instance}.token"));
    assert!(token.exists());
    engine.signal(signal);
    let status = engine.wait_exit(Duration::from_secs(10));
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        engine.stderr_text()
    );
    assert!(!process_alive(pid));
    assert!(!engine.shm.exists(), "region unlinked");
    assert!(!reader.is_current());
    assert!(!token.exists(), "token removed");
    // The old mapping tells a monitor the engine stopped cleanly, with nothing left open.
    assert_eq!(
        reader.engine().expect("status").state,
        EngineState::Stopped.code()
    );
    assert_eq!(
        reader.open_orders().expect("orders").count,
        0,
        "every order cancelled"
    );
    assert_eq!(reader.counter(CounterId::HotPathAllocations), 0);

    let db = Connection::open(dir.join(format!("run/{instance}.sqlite"))).expect("journal");
    let stopped: i64 = db
        .query_row(
            "SELECT count(*) FROM events WHERE event = 'stopped'",
            [],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(stopped, 1);
    let fills: i64 = db
        .query_row("SELECT count(*) FROM fills", [], |r| r.get(0))
        .expect("query");
    assert_eq!(fills as u64, reader.fills_written(), "every fill journaled");
    let open: i64 = db
        .query_row(
            "SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_updates u \
             WHERE u.client_id = o.client_id AND u.event IN ('canceled', 'rejected')) \
             AND (SELECT coalesce(sum(CAST(qty AS REAL)), 0) FROM fills f WHERE f.client_id = o.client_id) \
             < CAST(o.qty AS REAL)",
            [],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(
        open, 0,
        "every journaled order ended filled, cancelled or rejected"
    );
}

#[test]
fn sigint_cancels_flushes_unlinks_and_exits_zero() {
    stops_cleanly_on(libc::SIGINT);
}

#[test]
fn sigterm_cancels_flushes_unlinks_and_exits_zero() {
    stops_cleanly_on(libc::SIGTERM);
}

#[test]
fn sigint_under_full_load_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The synthetic source as fast as the ring takes it, and orders as fast as risk allows.
    let config = test_config(dir.path(), "load", "")
        .replace("synthetic_rate_hz = 500", "synthetic_rate_hz = 0")
        .replace("max_orders_per_sec = 200", "max_orders_per_sec = 5000")
        .replace("requote_threshold_ticks = 2", "requote_threshold_ticks = 1");
    let mut engine = EngineProcess::start(dir.path(), &config);
    let reader = engine.wait_ready();
    let quotes = reader.counter(CounterId::MarketMessages);
    std::thread::sleep(Duration::from_millis(1500));
    let rate = (reader.counter(CounterId::MarketMessages) - quotes) as f64 / 1.5;
    assert!(rate > 20_000.0, "not under load: {rate:.0} quotes/s");
    wait_for(Duration::from_secs(20), || {
        (reader.fills_written() > 0).then_some(())
    })
    .unwrap_or_else(|| panic!("no fills; stderr:\n{}", engine.stderr_text()));
    assert_stops_cleanly(&mut engine, &reader, dir.path(), "load", libc::SIGINT);
}

#[test]
fn sigterm_while_the_feed_reconnects_stops_promptly_and_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A venue address where nothing listens: every connect is refused, and the feed backs off
    // longer each time (up to 5 s).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let feed = format!(
        "[feed]\nsource = \"venue\"\nurl = \"ws://{closed}/stream\"\nrest_url = \"http://{closed}\"\n"
    );
    let config = with_feed(&test_config(dir.path(), "recon", ""), &feed);
    let mut engine = EngineProcess::start(dir.path(), &config);
    let reader = engine.wait_ready();
    wait_for(Duration::from_secs(20), || {
        (reader.counter(CounterId::FeedReconnects) >= 5).then_some(())
    })
    .unwrap_or_else(|| panic!("feed not reconnecting; stderr:\n{}", engine.stderr_text()));
    let m = reader.market(0).expect("market");
    assert_eq!(
        FeedState::from_code(m.feed_state),
        Some(FeedState::Disconnected)
    );
    assert_eq!(
        reader.open_orders().expect("orders").count,
        0,
        "no quotes without data"
    );
    // Now in a backoff of 1.6 s or more: the stop must not wait for it.
    let asked = Instant::now();
    assert_stops_cleanly(&mut engine, &reader, dir.path(), "recon", libc::SIGTERM);
    assert!(
        asked.elapsed() < Duration::from_millis(1500),
        "stopping took {:?}: the feed's backoff held it",
        asked.elapsed()
    );
}

#[test]
fn second_instance_exits_3_naming_the_first_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(dir.path(), "single", "");
    let mut first = EngineProcess::start(dir.path(), &config);
    first.wait_ready();
    let second_dir = dir.path().join("second");
    std::fs::create_dir(&second_dir).expect("dir");
    let mut second = EngineProcess::start(&second_dir, &config);
    let status = second.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(3), "stderr:\n{}", second.stderr_text());
    let text = second.stderr_text();
    assert!(
        text.contains(&format!("pid {}", first.child.id())),
        "{text}"
    );
    assert!(text.contains("already running"), "{text}");
    assert!(
        process_alive(first.child.id()),
        "the first engine is unaffected"
    );
    first.signal(libc::SIGTERM);
    assert!(first.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn a_killed_engine_leaves_no_lock_that_blocks_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(dir.path(), "phoenix", "");
    let mut first = EngineProcess::start(dir.path(), &config);
    first.wait_ready();
    let first_pid = first.child.id();
    first.signal(libc::SIGKILL);
    first.wait_exit(Duration::from_secs(10));
    assert!(
        dir.path().join("run/phoenix.lock").exists(),
        "stale lock file left behind"
    );
    assert!(
        dir.path().join("region").exists(),
        "stale region left behind"
    );

    let mut second = EngineProcess::start(dir.path(), &config);
    let reader = second.wait_ready();
    assert_ne!(reader.pid(), first_pid, "the stale region was replaced");
    second.signal(libc::SIGINT);
    assert!(second.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn bad_configs_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = test_config(dir.path(), "cfg", "");
    let cases = [
        (good.replace("idle = \"backoff\"", "idle = \"nap\""), "nap"),
        (
            good.replace("max_open_orders = 4", "max_open_orders = 0"),
            "risk.max_open_orders",
        ),
        (good.replace("[feed]", "[feed]\nturbo = 1"), "turbo"),
        (
            good.replace("\nsize = \"0.01\"", "\nsize = \"ten\""),
            "strategy.size",
        ),
        ("not = [toml".to_string(), "engine.toml"),
    ];
    for (config, needle) in cases {
        let path = dir.path().join("engine.toml");
        std::fs::write(&path, &config).expect("write");
        let out = Command::new(binary("engine"))
            .args(["run", "--config"])
            .arg(&path)
            .output()
            .expect("run engine");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{needle}: {stderr}");
        assert!(stderr.contains(needle), "{needle} missing from: {stderr}");
    }
    let missing = Command::new(binary("engine"))
        .args(["run", "--config", "/nonexistent/engine.toml"])
        .output()
        .expect("run engine");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/engine.toml"));
    let usage = Command::new(binary("engine"))
        .arg("fly")
        .output()
        .expect("run engine");
    assert_eq!(usage.status.code(), Some(2));
}

/// Whether the process has a handler installed for `signal` (from /proc/<pid>/status SigCgt).
fn catches(pid: u32, signal: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("SigCgt:"))?;
            u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

#[test]
fn sigterm_during_startup_still_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = EngineProcess::start(dir.path(), &test_config(dir.path(), "early", ""));
    let pid = engine.child.id();
    wait_for(Duration::from_secs(20), || {
        catches(pid, libc::SIGTERM).then_some(())
    })
    .expect("the engine installs its handlers");
    // As soon as the handlers exist: the engine is still claiming its lock, creating the
    // region, opening the journal or spawning threads.
    engine.stop_cleanly(Duration::from_secs(10));
    assert!(!engine.shm.exists(), "region removed");
    assert!(
        !dir.path().join("run/early.token").exists(),
        "token removed"
    );
}

/// `latency_log` (`--latency-log`): an HdrHistogram interval log, one interval per stage per
/// second, readable by the hdrhistogram crate's log reader, with the last interval written at
/// the clean stop.
#[test]
fn latency_log_is_an_hdrhistogram_interval_log() {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("latency.hlog");
    let config = test_config(
        dir.path(),
        "hlog",
        &format!("latency_log = \"{}\"", log.display()),
    );
    let mut engine = EngineProcess::start(dir.path(), &config);
    let reader = engine.wait_ready();
    wait_for(Duration::from_secs(20), || {
        (reader.fills_written() > 0).then_some(())
    })
    .expect("fills");
    std::thread::sleep(Duration::from_millis(2500));
    engine.signal(libc::SIGTERM);
    assert!(
        engine.wait_exit(Duration::from_secs(10)).success(),
        "{}",
        engine.stderr_text()
    );

    let bytes = std::fs::read(&log).expect("latency log written");
    let mut intervals: std::collections::BTreeMap<String, Vec<(Duration, f64)>> =
        std::collections::BTreeMap::new();
    let mut start_time = false;
    for entry in IntervalLogIterator::new(&bytes) {
        match entry.expect("a well-formed log entry") {
            LogEntry::StartTime(_) | LogEntry::BaseTime(_) => start_time = true,
            LogEntry::Interval(h) => {
                let tag = h
                    .tag()
                    .map(|t| t.to_string())
                    .expect("intervals are tagged");
                intervals
                    .entry(tag)
                    .or_default()
                    .push((h.start_timestamp(), h.max()));
            }
        }
    }
    assert!(start_time, "the log states its start time");
    for stage in [
        "wire_to_decoded",
        "feed_to_strategy",
        "decide",
        "strategy_to_gateway",
        "encode_to_write",
        "tick_to_trade",
    ] {
        let list = intervals.get(stage).map_or(&[][..], Vec::as_slice);
        assert!(list.len() >= 3, "{stage}: {} intervals", list.len());
        assert!(
            list.windows(2).all(|w| w[0].0 < w[1].0),
            "{stage}: intervals in time order"
        );
    }
    assert!(
        intervals["decide"].iter().any(|(_, max)| *max > 0.0),
        "decide intervals hold records"
    );
}
