//! The journal locked by another process for longer than the engine's busy timeout: this test
//! process takes SQLite's write lock on the running engine's journal and holds it. The engine
//! must go reduce-only with the storage alarm — visible in the monitor's `/api/state` and
//! `/health` — keep every record in memory, and write them all once the lock is released: at
//! the clean stop the journal holds every fill the engine made, each once.

use rusqlite::Connection;
use std::time::Duration;
use tickwire_tests::{storage, test_config, wait_for, EngineProcess, MonitorProcess};

#[test]
fn a_journal_locked_by_another_process_goes_reduce_only_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(dir.path(), "locked", "");
    let mut engine = EngineProcess::start(dir.path(), &config);
    let reader = engine.wait_ready();
    let monitor = MonitorProcess::start(&engine.shm, &["--stale-ms", "2000"]);
    wait_for(Duration::from_secs(30), || {
        (reader.fills_written() >= 3).then_some(())
    })
    .expect("trading before the lock");

    let journal = dir.path().join("run/locked.sqlite");
    let locker = Connection::open(&journal).expect("open the engine's journal");
    locker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    storage::wait_alarm_and_records_held(&monitor);
    // Hold it well past the busy timeout (100 ms) while the engine keeps running.
    std::thread::sleep(Duration::from_millis(1500));
    let (_, state) = monitor.get_json("/api/state");
    assert_eq!(state["engine"]["reduce_only"], true, "{}", state["engine"]);
    locker.execute_batch("ROLLBACK").expect("release the lock");
    drop(locker);

    storage::wait_recovered_and_trading(&monitor, &reader);
    engine.signal(libc::SIGTERM);
    assert!(
        engine.wait_exit(Duration::from_secs(15)).success(),
        "{}",
        engine.stderr_text()
    );
    storage::assert_every_fill_journaled_once(&journal, reader.fills_written());
}
