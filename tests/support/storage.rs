//! What the operator must see when the journal cannot be written (disk full, database locked
//! by another process), and what must not be lost: shared by the storage tests.

use crate::{test_config, wait_for, EngineProcess, MonitorProcess};
use std::path::Path;
use std::time::Duration;
use tickwire_shm::region::RegionReader;

/// An engine trading on the synthetic feed with a monitor beside it.
#[derive(Debug)]
pub struct Trading {
    /// The engine.
    pub engine: EngineProcess,
    /// Its region.
    pub reader: RegionReader,
    /// The monitor on its region.
    pub monitor: MonitorProcess,
}

/// Starts an engine (instance `instance`, files in `dir`) and a monitor, and waits for the
/// first fills.
pub fn start_trading(dir: &Path, instance: &str) -> Trading {
    let mut engine = EngineProcess::start(dir, &test_config(dir, instance, ""));
    let reader = engine.wait_ready();
    let monitor = MonitorProcess::start(&engine.shm, &["--stale-ms", "2000"]);
    wait_for(Duration::from_secs(30), || {
        (reader.fills_written() >= 3).then_some(())
    })
    .expect("trading before the journal is blocked");
    Trading {
        engine,
        reader,
        monitor,
    }
}

/// Stops the engine with SIGTERM (exit 0) and checks its journal at `journal` holds every
/// fill it made, each once.
pub fn stop_and_check_journal(trading: &mut Trading, journal: &Path) {
    trading.engine.signal(libc::SIGTERM);
    assert!(
        trading.engine.wait_exit(Duration::from_secs(15)).success(),
        "{}",
        trading.engine.stderr_text()
    );
    assert_every_fill_journaled_once(journal, trading.reader.fills_written());
}

/// Waits for the storage alarm and reduce-only (reason `storage`) in `/api/state` and
/// `/health` (still 200: the engine is alive), and for records held in memory; returns how
/// many are held.
pub fn wait_alarm_and_records_held(monitor: &MonitorProcess) -> u64 {
    let state = wait_for(Duration::from_secs(30), || {
        let (_, s) = monitor.get_json("/api/state");
        (s["storage"]["alarm"] == true && s["engine"]["reduce_only"] == true).then_some(s)
    })
    .expect("storage alarm and reduce-only in /api/state");
    assert!(
        state["engine"]["reduce_only_because"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "storage")),
        "{}",
        state["engine"]
    );
    let (status, health) = monitor.get_json("/health");
    assert_eq!(status, 200, "a live engine, reduce-only: {health}");
    assert_eq!(health["reduce_only"], true, "{health}");
    assert!(
        health["alarms"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "storage")),
        "{health}"
    );
    wait_for(Duration::from_secs(30), || {
        let (_, s) = monitor.get_json("/api/state");
        let pending = s["storage"]["pending_records"].as_u64()?;
        (pending > 0).then_some(pending)
    })
    .expect("records held in memory while the journal cannot be written")
}

/// Waits until everything held is written, the alarm is clear, reduce-only is lifted and new
/// fills arrive.
pub fn wait_recovered_and_trading(monitor: &MonitorProcess, reader: &RegionReader) {
    wait_for(Duration::from_secs(30), || {
        let (_, s) = monitor.get_json("/api/state");
        (s["storage"]["alarm"] == false
            && s["storage"]["pending_records"] == 0
            && s["engine"]["reduce_only"] == false)
            .then_some(())
    })
    .expect("alarm cleared and nothing pending once the journal could be written");
    let fills_after = reader.fills_written();
    wait_for(Duration::from_secs(30), || {
        (reader.fills_written() > fills_after).then_some(())
    })
    .expect("trading again");
}

/// After a clean stop: the journal at `path` holds `fills` fills, each once.
fn assert_every_fill_journaled_once(path: &Path, fills: u64) {
    let journal = rusqlite::Connection::open(path).expect("journal");
    let rows: u64 = journal
        .query_row("SELECT COUNT(*) FROM fills", [], |r| r.get(0))
        .expect("count fills");
    let distinct: u64 = journal
        .query_row("SELECT COUNT(DISTINCT fill_seq) FROM fills", [], |r| {
            r.get(0)
        })
        .expect("count distinct fills");
    assert_eq!(rows, fills, "every fill journaled, none lost");
    assert_eq!(distinct, rows, "none written twice");
}
