//! The feed's order book: a 10x10 depth diff applied to a synced 1,000-level book, and the top
//! of book taken for the strategy, against the same diffs in a pair of `BTreeMap`s (the usual
//! book of a bot that keeps one).
//!
//! Two mixes of diff: `near`, every level within the top ten (what a quote-driven book mostly
//! sees), and `spread`, six levels near the top and four deep in the book (100 to 900 levels
//! down). Each diff removes two of its levels on even diffs and puts them back on odd ones, so
//! the book keeps its size and the work per diff is the same on every iteration.

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use std::collections::BTreeMap;
use std::hint::black_box;
use tickwire_feed::depth_sync::{DepthSync, DiffOutcome, SnapshotOutcome};
use tickwire_feed::{InstrumentId, Price, Qty};

const LEVELS: i64 = 1_000;
const BEST_BID: i64 = 2_503_519;
const BEST_ASK: i64 = BEST_BID + 1;

/// Which levels a diff touches, as offsets from the best price.
struct Mix {
    name: &'static str,
    touched: [i64; 10],
    /// Removed on even diffs, put back on odd ones.
    toggled: [i64; 2],
}

const MIXES: [Mix; 2] = [
    Mix {
        name: "near",
        touched: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        toggled: [3, 7],
    },
    Mix {
        name: "spread",
        touched: [0, 1, 2, 3, 4, 5, 100, 300, 600, 900],
        toggled: [3, 600],
    },
];

/// Diff `k`'s levels on one side (`direction` -1 for bids, +1 for asks).
fn diff_levels(mix: &Mix, k: u64, best: i64, direction: i64) -> [(Price, Qty); 10] {
    mix.touched.map(|offset| {
        let qty = if mix.toggled.contains(&offset) && k.is_multiple_of(2) {
            0
        } else {
            100 + (k % 50) as i64 + offset
        };
        (Price(best + direction * offset), Qty(qty))
    })
}

fn snapshot_side(best: i64, direction: i64) -> Vec<(Price, Qty)> {
    (0..LEVELS)
        .map(|i| (Price(best + direction * i), Qty(100 + i)))
        .collect()
}

/// The book's size stayed put: full after an odd diff, two levels short after an even one.
fn check_size(len: (usize, usize)) {
    let full = LEVELS as usize;
    assert!(
        [(full, full), (full - 2, full - 2)].contains(&len),
        "the book has {len:?} levels"
    );
}

fn bench_mix(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, mix: &Mix) {
    let bids = snapshot_side(BEST_BID, -1);
    let asks = snapshot_side(BEST_ASK, 1);

    let mut sync = DepthSync::new(InstrumentId(0), 5_000);
    assert!(matches!(
        sync.on_snapshot(100, &bids, &asks),
        SnapshotOutcome::Synced { .. }
    ));
    let (mut last, mut k) = (100u64, 0u64);
    g.bench_function(format!("diff_10x10_{}/tickwire", mix.name), |b| {
        b.iter(|| {
            k += 1;
            let outcome = sync.on_diff(
                last + 1,
                last + 2,
                &diff_levels(mix, k, BEST_BID, -1),
                &diff_levels(mix, k, BEST_ASK, 1),
            );
            last += 2;
            assert_eq!(outcome, DiffOutcome::Applied);
        })
    });
    check_size(sync.book().len());

    let mut bid_map: BTreeMap<i64, i64> = bids.iter().map(|&(p, q)| (p.0, q.0)).collect();
    let mut ask_map: BTreeMap<i64, i64> = asks.iter().map(|&(p, q)| (p.0, q.0)).collect();
    let mut k = 0u64;
    g.bench_function(format!("diff_10x10_{}/btreemap", mix.name), |b| {
        b.iter(|| {
            k += 1;
            for (map, best, direction) in
                [(&mut bid_map, BEST_BID, -1), (&mut ask_map, BEST_ASK, 1)]
            {
                for (price, qty) in diff_levels(mix, k, best, direction) {
                    if qty.0 == 0 {
                        map.remove(&price.0);
                    } else {
                        map.insert(price.0, qty.0);
                    }
                }
            }
        })
    });
    check_size((bid_map.len(), ask_map.len()));

    if mix.name == "near" {
        g.bench_function("top/tickwire", |b| {
            b.iter(|| black_box(sync.book().book_top(0)))
        });
        g.bench_function("top/btreemap", |b| {
            b.iter(|| {
                let bid_depth5: i64 = bid_map.values().rev().take(5).sum();
                let ask_depth5: i64 = ask_map.values().take(5).sum();
                black_box((
                    bid_map.last_key_value(),
                    ask_map.first_key_value(),
                    bid_depth5,
                    ask_depth5,
                ))
            })
        });
    }
}

fn order_book(c: &mut Criterion) {
    let mut g = c.benchmark_group("order_book");
    for mix in &MIXES {
        bench_mix(&mut g, mix);
    }
    g.finish();
}

criterion_group!(benches, order_book);
criterion_main!(benches);
