//! Two processes, one region: a writer process publishes book snapshots as fast as it can while
//! this process reads them. Every value the reader accepts must be one the writer published
//! whole — a torn read fails the test — and the reader must make progress.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tickwire_shm::layout::{BookLevels, Level, BOOK_DEPTH};
use tickwire_shm::region::{RegionInit, RegionReader, RegionWriter};

const WRITER_ENV: &str = "TICKWIRE_SEQLOCK_WRITER_REGION";
const RUN_FOR: Duration = Duration::from_secs(3);

/// Every field of the snapshot is derived from `n`, so any mix of two writes is detectable.
fn snapshot(n: u64) -> BookLevels {
    let mut book = BookLevels {
        bid_count: (n % 1000) as u32,
        ask_count: (n % 1000) as u32 + 1,
        ..Default::default()
    };
    for i in 0..BOOK_DEPTH {
        let v = n as i64 * 16 + i as i64;
        book.bids[i] = Level { price: v, qty: !v };
        book.asks[i] = Level {
            price: -v,
            qty: v ^ 0x5555,
        };
    }
    book
}

fn generation(book: &BookLevels) -> Option<u64> {
    let n = (book.bids[0].price / 16) as u64;
    (*book == snapshot(n)).then_some(n)
}

/// The writer half; does nothing unless started by the test below.
#[test]
fn child_writer() {
    let Some(path) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let mut writer = RegionWriter::create(
        Path::new(&path),
        &RegionInit {
            instance: "seqlock-stress",
            tick_ns_q32: 1 << 32,
            instruments: &[],
        },
    )
    .expect("create region");
    let sections = writer.take_sections().expect("sections");
    let book = sections.feed.book(0);
    let deadline = Instant::now() + RUN_FOR + Duration::from_secs(1);
    let mut n = 1u64;
    while Instant::now() < deadline {
        for _ in 0..1024 {
            book.publish(&snapshot(n));
            n += 1;
            // Mostly back-to-back writes, with an occasional short gap.
            for _ in 0..(n % 64) {
                std::hint::spin_loop();
            }
        }
    }
    println!("writer published {n} snapshots");
}

#[test]
fn cross_process_reads_are_never_torn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("region");
    let mut child = Command::new(std::env::current_exe().expect("test exe"))
        .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, &path)
        .spawn()
        .expect("spawn writer process");

    let start = Instant::now();
    let reader = loop {
        match RegionReader::open(&path) {
            Ok(r) => break r,
            Err(e) if start.elapsed() > Duration::from_secs(20) => panic!("no region: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    assert_ne!(
        reader.pid(),
        std::process::id(),
        "the writer is another process"
    );

    let (mut good, mut contended, mut advanced, mut last) = (0u64, 0u64, 0u64, 0u64);
    let until = Instant::now() + RUN_FOR;
    while Instant::now() < until {
        match reader.book(0) {
            Ok(book) if book == BookLevels::default() => {}
            Ok(book) => {
                let n = generation(&book).unwrap_or_else(|| panic!("torn read: {book:?}"));
                good += 1;
                if n > last {
                    advanced += 1;
                    last = n;
                }
            }
            Err(_) => contended += 1,
        }
    }
    let status = child.wait().expect("writer exit");
    assert!(status.success(), "writer failed: {status}");
    println!("reads: {good} consistent, {advanced} distinct advances, {contended} contended");
    assert!(
        good > 1000,
        "reader starved: {good} good reads, {contended} contended"
    );
    assert!(
        advanced > 100,
        "the writer was not running concurrently ({advanced} advances)"
    );
}
