//! What the operator must see when the journal cannot be written (disk full, database locked
//! by another process), and what must not be lost: shared by the storage tests.

use crate::{wait_for, MonitorProcess};
use std::path::Path;
use std::time::Duration;
use tickwire_shm::region::RegionReader;

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
pub fn assert_every_fill_journaled_once(path: &Path, fills: u64) {
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
