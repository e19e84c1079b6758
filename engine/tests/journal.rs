//! The journal keeps every record while SQLite cannot write, raises the storage alarm (which
//! the strategy turns into reduce-only), and writes everything once the database is free.

use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwire_engine::config::Instrument;
use tickwire_engine::journal::{journal_ring, JournalRecord, JournalWriter};
use tickwire_feed::Side;
use tickwire_shm::region::{RegionInit, RegionReader, RegionWriter};

fn fill(i: u64) -> JournalRecord {
    JournalRecord::Fill {
        fill_seq: i,
        client_id: i,
        trade_id: 1000 + i,
        instrument: 0,
        side: if i.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        },
        price: 5_000_012,
        qty: 1_000,
        maker: true,
        unix_ns: 1,
    }
}

#[test]
fn a_locked_database_raises_the_alarm_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let region_path = dir.path().join("region");
    let mut region = RegionWriter::create(
        &region_path,
        &RegionInit {
            instance: "journal",
            tick_ns_q32: 1 << 32,
            instruments: &[],
        },
    )
    .expect("region");
    let sections = region.take_sections().expect("sections");
    let db_path = dir.path().join("journal.sqlite");
    let instruments = [Instrument {
        symbol: "BTCUSDT".into(),
        price_decimals: 2,
        qty_decimals: 5,
        tick_size: 1,
        lot_size: 1,
        synthetic_start: None,
        max_position: 1,
        max_notional: 1,
    }];
    let alarm = Arc::new(AtomicBool::new(false));
    let (mut tx, rx) = journal_ring();
    let mut writer = JournalWriter::open(
        &db_path,
        rx,
        &instruments,
        sections.storage,
        Arc::clone(&alarm),
    )
    .expect("open journal");
    let reader = RegionReader::open(&region_path).expect("reader");

    tx.send(fill(0));
    assert_eq!(writer.do_work(), 1);

    let locker = Connection::open(&db_path).expect("second connection");
    locker.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    for i in 1..=500 {
        assert!(tx.send(fill(i)));
    }
    assert_eq!(writer.do_work(), 0, "nothing can be written while locked");
    assert!(alarm.load(Ordering::Acquire), "storage alarm raised");
    let status = reader.storage().expect("storage status");
    assert_eq!((status.alarm, status.pending_records), (1, 500));
    assert_ne!(status.last_error_code, 0);

    locker.execute_batch("COMMIT").expect("unlock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.pending() > 0 && Instant::now() < deadline {
        writer.do_work();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(writer.pending(), 0, "written after the lock was released");
    assert!(!alarm.load(Ordering::Acquire), "alarm cleared");
    let status = reader.storage().expect("storage status");
    assert_eq!((status.alarm, status.written_records), (0, 501));

    let db = Connection::open(&db_path).expect("read journal");
    let (count, distinct, price): (i64, i64, String) = db
        .query_row(
            "SELECT count(*), count(DISTINCT trade_id), min(price) FROM fills",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("query");
    assert_eq!((count, distinct), (501, 501), "every fill once");
    assert_eq!(price, "50000.12");
    drop(tx);
    writer.do_work();
    assert!(writer.finished());
}
