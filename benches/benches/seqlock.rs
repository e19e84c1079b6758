//! Publishing to and reading from the region: a seqlock cell the size of the engine status and
//! of a ten-level book, and a latency histogram record.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tickwire_shm::layout::{BookLevels, EngineStatus, Level, Stage};
use tickwire_shm::region::{RegionInit, RegionReader, RegionWriter};

fn seqlock(c: &mut Criterion) {
    let dir = tempfile_dir();
    let path = dir.join("bench-region");
    let mut writer = RegionWriter::create(
        &path,
        &RegionInit {
            instance: "bench",
            tick_ns_q32: 1 << 32,
            instruments: &[],
        },
    )
    .expect("region");
    let sections = writer.take_sections().expect("sections");
    let reader = RegionReader::open(&path).expect("reader");
    let mut g = c.benchmark_group("seqlock");
    let mut status = EngineStatus::default();
    g.bench_function("publish_engine_status", |b| {
        b.iter(|| {
            status.events += 1;
            sections.strategy.engine().publish(black_box(&status));
        })
    });
    let mut book = BookLevels::default();
    g.bench_function("publish_book_10x10", |b| {
        b.iter(|| {
            book.bids[0] = Level {
                price: book.bids[0].price + 1,
                qty: 1,
            };
            sections.feed.book(0).publish(black_box(&book));
        })
    });
    g.bench_function("read_book_10x10", |b| b.iter(|| black_box(reader.book(0))));
    let hist = sections.strategy.latency(Stage::Decide);
    let mut v = 0u64;
    g.bench_function("histogram_record", |b| {
        b.iter(|| {
            v = v.wrapping_add(7919) % 100_000;
            hist.record(black_box(v));
        })
    });
    g.finish();
    drop(sections);
    writer.remove().expect("remove region");
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tickwire-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

criterion_group!(benches, seqlock);
criterion_main!(benches);
