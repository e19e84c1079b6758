//! The journal locked by another process for longer than the engine's busy timeout: this test
//! process takes SQLite's write lock on the running engine's journal and holds it. The engine
//! must go reduce-only with the storage alarm — visible in the monitor's `/api/state` and
//! `/health` — keep every record in memory, and write them all once the lock is released: at
//! the clean stop the journal holds every fill the engine made, each once.

use rusqlite::Connection;
use std::time::Duration;
use tickwire_tests::storage;

#[test]
fn a_journal_locked_by_another_process_goes_reduce_only_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut trading = storage::start_trading(dir.path(), "locked");

    let journal = dir.path().join("run/locked.sqlite");
    let locker = Connection::open(&journal).expect("open the engine's journal");
    locker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    storage::wait_alarm_and_records_held(&trading.monitor);
    // Hold it well past the busy timeout (100 ms) while the engine keeps running.
    std::thread::sleep(Duration::from_millis(1500));
    let (_, state) = trading.monitor.get_json("/api/state");
    assert_eq!(state["engine"]["reduce_only"], true, "{}", state["engine"]);
    locker.execute_batch("ROLLBACK").expect("release the lock");
    drop(locker);

    storage::wait_recovered_and_trading(&trading.monitor, &trading.reader);
    storage::stop_and_check_journal(&mut trading, &journal);
}
