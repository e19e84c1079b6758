//! Kraken v2 `book` and Coinbase `level2` through the public API: Kraken's published checksum
//! example, checksums computed independently of the decoder (a Python `zlib.crc32` constant and
//! a naive string-built model), mismatches and sequence gaps, random update sequences against a
//! `BTreeMap` model, and steady-state decoding without allocation.

use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use tickwire_feed::binance::SymbolSpec;
use tickwire_feed::coinbase::{CoinbaseBooks, CoinbaseDecoder, L2Outcome, SequenceGap};
use tickwire_feed::kraken::{BookCheck, BookKind, KrakenBook, KrakenDecoder, KrakenMessage};
use tickwire_feed::{InstrumentId, Price, Qty, Side};

struct Counting;

thread_local! {
    /// Allocations made by this thread (tests run on several threads at once).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the slot may already be gone while the thread exits.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards to the system allocator unchanged; only counts calls (a const-initialised
// thread-local `Cell` needs no allocation and no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's layout contract is passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: `ptr` came from `System.alloc` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn spec(symbol: &str, price_decimals: u32, qty_decimals: u32) -> SymbolSpec {
    SymbolSpec {
        symbol: symbol.into(),
        instrument: InstrumentId(0),
        price_decimals,
        qty_decimals,
    }
}

fn kraken_book(decoder: &mut KrakenDecoder, book: &mut KrakenBook, text: &str) -> BookCheck {
    let mut frame = text.as_bytes().to_vec();
    match decoder.decode(&mut frame) {
        Ok(KrakenMessage::Book(m)) => book.apply(&m, decoder.bids(), decoder.asks()),
        other => panic!("not a book message: {other:?}"),
    }
}

fn kraken_frame(kind: &str, symbol: &str, bids: &str, asks: &str, checksum: u32) -> String {
    format!(
        r#"{{"channel":"book","type":"{kind}","data":[{{"symbol":"{symbol}","bids":[{bids}],"asks":[{asks}],"checksum":{checksum},"timestamp":"2023-10-06T17:35:55.440295Z"}}]}}"#
    )
}

/// Kraken's checksum guide works BTC/USD (price precision 1, quantity precision 8) through to
/// the string `452852100000…` and the CRC32 3310070434.
#[test]
fn kraken_published_checksum_example() {
    let bids = r#"{"price":45283.5,"qty":0.10000000},{"price":45283.4,"qty":1.54582015},{"price":45282.1,"qty":0.10000000},{"price":45281.0,"qty":0.10000000},{"price":45280.3,"qty":1.54592586},{"price":45279.0,"qty":0.07990000},{"price":45277.6,"qty":0.03310103},{"price":45277.5,"qty":0.30000000},{"price":45277.3,"qty":1.54602737},{"price":45276.6,"qty":0.15445238}"#;
    let asks = r#"{"price":45285.2,"qty":0.00100000},{"price":45286.4,"qty":1.54571953},{"price":45286.6,"qty":1.54571109},{"price":45289.6,"qty":1.54560911},{"price":45290.2,"qty":0.15890660},{"price":45291.8,"qty":1.54553491},{"price":45294.7,"qty":0.04454749},{"price":45296.1,"qty":0.35380000},{"price":45297.5,"qty":0.09945542},{"price":45299.5,"qty":0.18772827}"#;
    let text = kraken_frame("snapshot", "BTC/USD", bids, asks, 3_310_070_434);
    let mut decoder = KrakenDecoder::new(vec![spec("BTC/USD", 1, 8)]);
    let mut book = KrakenBook::new(InstrumentId(0), 10);
    assert_eq!(
        kraken_book(&mut decoder, &mut book, &text),
        BookCheck::Match
    );
    assert_eq!(book.checksum(), 3_310_070_434);
    // The learning decoder finds the same precision in the snapshot.
    let mut learning = KrakenDecoder::any_symbol();
    let mut book = KrakenBook::new(InstrumentId(0), 10);
    assert_eq!(
        kraken_book(&mut learning, &mut book, &text),
        BookCheck::Match
    );
    assert_eq!(
        (
            learning.symbols()[0].price_decimals,
            learning.symbols()[0].qty_decimals
        ),
        (1, 8)
    );
}

/// 2851837343 is Python's `zlib.crc32(b"100501000101002509975250099001")`: asks 100.50/1.000 and
/// 101.00/0.250, bids 99.75/2.500 and 99.00/0.001 at precisions 2 and 3, written by hand. The
/// frame writes the numbers without their trailing zeros.
#[test]
fn kraken_checksum_constant_and_mismatch() {
    let mut decoder = KrakenDecoder::new(vec![spec("ETH/USD", 2, 3)]);
    let mut book = KrakenBook::new(InstrumentId(0), 10);
    let bids = r#"{"price":99.75,"qty":2.5},{"price":99,"qty":0.001}"#;
    let asks = r#"{"price":100.5,"qty":1},{"price":101,"qty":0.25}"#;
    let snapshot = kraken_frame("snapshot", "ETH/USD", bids, asks, 2_851_837_343);
    assert_eq!(
        kraken_book(&mut decoder, &mut book, &snapshot),
        BookCheck::Match
    );
    let wrong = kraken_frame("update", "ETH/USD", r#"{"price":99.5,"qty":1}"#, "", 12345);
    let BookCheck::Mismatch { expected, computed } = kraken_book(&mut decoder, &mut book, &wrong)
    else {
        panic!("a wrong checksum is a mismatch");
    };
    assert_eq!(
        (expected, computed),
        (12345, naive_checksum_of(&book_after_wrong(), 2, 3))
    );
    assert!(!book.is_synced() && book.book().is_empty());
    let later = kraken_frame("update", "ETH/USD", "", r#"{"price":100.5,"qty":0}"#, 0);
    assert_eq!(
        kraken_book(&mut decoder, &mut book, &later),
        BookCheck::Unsynced
    );
    assert_eq!(
        kraken_book(&mut decoder, &mut book, &snapshot),
        BookCheck::Match,
        "a new snapshot resynchronises"
    );
}

/// The book the mismatching update above would have produced.
fn book_after_wrong() -> [BTreeMap<i64, i64>; 2] {
    let bids = BTreeMap::from([(9975, 2500), (9950, 1000), (9900, 1)]);
    let asks = BTreeMap::from([(10050, 1000), (10100, 250)]);
    [bids, asks]
}

/// `value` at `decimals` as text, point removed, leading zeros stripped — built with string
/// operations, independently of the decoder.
fn checksum_text(value: i64, decimals: u32) -> String {
    let scale = 10i64.pow(decimals);
    let text = if decimals == 0 {
        value.to_string()
    } else {
        format!(
            "{}.{:0width$}",
            value / scale,
            value % scale,
            width = decimals as usize
        )
    };
    text.replace('.', "").trim_start_matches('0').to_string()
}

/// Kraken's checksum of a `[bids, asks]` model, by the documented string construction.
fn naive_checksum_of(model: &[BTreeMap<i64, i64>; 2], pd: u32, qd: u32) -> u32 {
    let [bids, asks] = model;
    let mut s = String::new();
    for (p, q) in asks.iter().take(10).chain(bids.iter().rev().take(10)) {
        s += &checksum_text(*p, pd);
        s += &checksum_text(*q, qd);
    }
    crc32fast::hash(s.as_bytes())
}

/// A JSON number for `value` at `decimals`: with all its decimals, or with the trailing zeros
/// dropped (both are how a venue may write it).
fn json_number(value: i64, decimals: u32, padded: bool) -> String {
    let scale = 10i64.pow(decimals);
    if decimals == 0 {
        return value.to_string();
    }
    let text = format!(
        "{}.{:0width$}",
        value / scale,
        value % scale,
        width = decimals as usize
    );
    if padded {
        text
    } else {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn kraken_levels(levels: &[(i64, i64)], pd: u32, qd: u32, padded: bool) -> String {
    levels
        .iter()
        .map(|&(p, q)| {
            format!(
                r#"{{"price":{},"qty":{}}}"#,
                json_number(p, pd, padded),
                json_number(q, qd, padded)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Keeps the best `depth` levels of each side of a `[bids, asks]` model.
fn truncate(model: &mut [BTreeMap<i64, i64>; 2], depth: usize) {
    while model[0].len() > depth {
        model[0].pop_first();
    }
    while model[1].len() > depth {
        model[1].pop_last();
    }
}

type Levels = Vec<(i64, i64)>;

fn side_levels(prices: std::ops::Range<i64>, zero: bool) -> impl Strategy<Value = Levels> {
    let qty = if zero { 0i64..40 } else { 1i64..40 };
    proptest::collection::vec((prices, qty), 0..15)
}

proptest! {
    /// Random snapshots and updates, written with and without trailing zeros, decode and apply
    /// to the same book as a `BTreeMap` model truncated to the depth, and every checksum built
    /// naively from the model matches.
    #[test]
    fn kraken_book_matches_a_reference_model(
        depth in 1usize..14,
        pd in 0u32..5,
        qd in 0u32..9,
        padded in any::<bool>(),
        messages in proptest::collection::vec(
            (any::<bool>(), side_levels(1..60, true), side_levels(60..120, true)),
            1..30,
        ),
    ) {
        let mut decoder = KrakenDecoder::new(vec![spec("XBT/EUR", pd, qd)]);
        let mut book = KrakenBook::new(InstrumentId(0), depth);
        let mut model: [BTreeMap<i64, i64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        for (i, (snapshot, mut bids, mut asks)) in messages.into_iter().enumerate() {
            let snapshot = snapshot || i == 0;
            if snapshot {
                model = [BTreeMap::new(), BTreeMap::new()];
                bids.retain(|l| l.1 > 0);
                asks.retain(|l| l.1 > 0);
            }
            for (m, levels) in [(0, &bids), (1, &asks)] {
                for &(p, q) in levels {
                    if q == 0 { model[m].remove(&p); } else { model[m].insert(p, q); }
                }
            }
            truncate(&mut model, depth);
            // Values in units at the scale: the price grid times a tick, quantities as they are.
            let scaled = |l: &Levels, tick: i64| l.iter().map(|&(p, q)| (p * tick, q)).collect::<Levels>();
            let tick = 10i64.pow(pd.min(2));
            let checksum = naive_checksum_of(&scale_model(&model, tick), pd, qd);
            let text = kraken_frame(
                if snapshot { "snapshot" } else { "update" },
                "XBT/EUR",
                &kraken_levels(&scaled(&bids, tick), pd, qd, padded),
                &kraken_levels(&scaled(&asks, tick), pd, qd, padded),
                checksum,
            );
            prop_assert_eq!(kraken_book(&mut decoder, &mut book, &text), BookCheck::Match);
            let got: Vec<(i64, i64)> = book.book().top(Side::Buy, usize::MAX).map(|(p, q)| (p.0, q.0)).collect();
            let want: Vec<(i64, i64)> = model[0].iter().rev().map(|(p, q)| (p * tick, *q)).collect();
            prop_assert_eq!(got, want);
            let got: Vec<(i64, i64)> = book.book().top(Side::Sell, usize::MAX).map(|(p, q)| (p.0, q.0)).collect();
            let want: Vec<(i64, i64)> = model[1].iter().map(|(p, q)| (p * tick, *q)).collect();
            prop_assert_eq!(got, want);
        }
    }

    /// Random Coinbase snapshots, updates and lost messages against a `BTreeMap` model: the
    /// book equals the model while in sequence, and a gap empties it until the next snapshot.
    #[test]
    fn coinbase_book_matches_a_reference_model(
        messages in proptest::collection::vec(
            (0u8..8, side_levels(1..60, true), side_levels(60..120, true)),
            1..40,
        ),
    ) {
        let mut decoder = CoinbaseDecoder::new(vec![spec("ETH-EUR", 2, 4)]);
        let mut books = CoinbaseBooks::new(1000);
        let mut model: [BTreeMap<i64, i64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        let mut synced = false;
        let mut sequence = 10u64;
        for (i, (what, mut bids, mut asks)) in messages.into_iter().enumerate() {
            let lost = what == 0 && i > 0;
            let snapshot = what == 1 || i == 0;
            if lost {
                sequence += 1;
                synced = false;
                model = [BTreeMap::new(), BTreeMap::new()];
            }
            if snapshot {
                synced = true;
                model = [BTreeMap::new(), BTreeMap::new()];
                bids.retain(|l| l.1 > 0);
                asks.retain(|l| l.1 > 0);
            }
            if synced {
                for (m, levels) in [(0, &bids), (1, &asks)] {
                    for &(p, q) in levels {
                        if q == 0 { model[m].remove(&p); } else { model[m].insert(p, q); }
                    }
                }
            }
            let updates: Vec<String> = bids.iter().map(|l| (l, "bid")).chain(asks.iter().map(|l| (l, "offer")))
                .map(|(&(p, q), side)| format!(
                    r#"{{"side":"{side}","event_time":"2023-02-09T20:32:50.01Z","price_level":"{}","new_quantity":"{}"}}"#,
                    json_number(p * 100, 2, false), json_number(q, 4, i % 2 == 0)))
                .collect();
            let text = format!(
                r#"{{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":{sequence},"events":[{{"type":"{}","product_id":"ETH-EUR","updates":[{}]}}]}}"#,
                if snapshot { "snapshot" } else { "update" },
                updates.join(","),
            );
            let mut frame = text.into_bytes();
            let message = decoder.decode(&mut frame).expect("valid frame");
            let outcome = books.on_message(&message, &decoder);
            prop_assert_eq!(outcome.gap.is_some(), lost);
            sequence += 1;
            prop_assert_eq!(books.is_synced(InstrumentId(0)), synced);
            let book = books.book(InstrumentId(0)).expect("seen");
            let got: Vec<(i64, i64)> = book.top(Side::Buy, usize::MAX).map(|(p, q)| (p.0, q.0)).collect();
            let want: Vec<(i64, i64)> = model[0].iter().rev().map(|(p, q)| (p * 100, *q)).collect();
            prop_assert_eq!(got, want);
            let got: Vec<(i64, i64)> = book.top(Side::Sell, usize::MAX).map(|(p, q)| (p.0, q.0)).collect();
            let want: Vec<(i64, i64)> = model[1].iter().map(|(p, q)| (p * 100, *q)).collect();
            prop_assert_eq!(got, want);
        }
    }
}

/// The model with prices on the grid scaled by `tick`.
fn scale_model(model: &[BTreeMap<i64, i64>; 2], tick: i64) -> [BTreeMap<i64, i64>; 2] {
    [
        model[0].iter().map(|(p, q)| (p * tick, *q)).collect(),
        model[1].iter().map(|(p, q)| (p * tick, *q)).collect(),
    ]
}

#[test]
fn coinbase_gap_is_reported_with_its_numbers() {
    let mut decoder = CoinbaseDecoder::any_symbol(8, 8);
    let mut books = CoinbaseBooks::new(100);
    let frame = |seq: u64, kind: &str, qty: &str| {
        format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"BTC-USD","updates":[{{"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21922.5","new_quantity":"{qty}"}}]}}]}}"#
        )
        .into_bytes()
    };
    let message = decoder
        .decode(&mut frame(7, "snapshot", "1"))
        .expect("valid");
    assert_eq!(books.on_message(&message, &decoder), L2Outcome::default());
    let message = decoder.decode(&mut frame(9, "update", "2")).expect("valid");
    assert_eq!(
        books.on_message(&message, &decoder),
        L2Outcome {
            gap: Some(SequenceGap {
                expected: 8,
                received: 9
            }),
            unsynced: 1,
            overflowed: 0
        }
    );
    assert_eq!(books.book(InstrumentId(0)).map(|b| b.len()), Some((0, 0)));
}

#[test]
fn steady_state_decoding_and_book_keeping_do_not_allocate() {
    let matic = r#"{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5666,"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739},{"price":0.5664,"qty":18724.91513344},{"price":0.5663,"qty":11563.92544914},{"price":0.5662,"qty":14006.65365711},{"price":0.5661,"qty":17454.85679807},{"price":0.566,"qty":18097.1547},{"price":0.5659,"qty":33644.89175666},{"price":0.5658,"qty":148.3464},{"price":0.5657,"qty":606.70854372}],"asks":[{"price":0.5668,"qty":4410.79769741},{"price":0.5669,"qty":4655.40412487},{"price":0.567,"qty":49844.89424998},{"price":0.5671,"qty":24306.41678},{"price":0.5672,"qty":29783.25223475},{"price":0.5673,"qty":57234.71239278},{"price":0.5674,"qty":45065.04744},{"price":0.5675,"qty":5912.76380354},{"price":0.5676,"qty":42514.92434778},{"price":0.5677,"qty":36304.0847022}],"checksum":2439117997,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;
    let update = r#"{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#;
    let kraken_frames = [matic.as_bytes().to_vec(), update.as_bytes().to_vec()];
    let coinbase_frames = [
        br#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"},{"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21921.9","new_quantity":"0.02"}]}]}"#.to_vec(),
        br#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:51.714964855Z","sequence_num":1,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2023-02-09T20:32:51.5Z","price_level":"21921.74","new_quantity":"0.5"},{"side":"bid","event_time":"2023-02-09T20:32:51.5Z","price_level":"21921.74","new_quantity":"0"}]}]}"#.to_vec(),
        br#"{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":2,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":"3049"}]}"#.to_vec(),
    ];
    let mut kraken = KrakenDecoder::new(vec![SymbolSpec {
        symbol: "MATIC/USD".into(),
        instrument: InstrumentId(0),
        price_decimals: 4,
        qty_decimals: 8,
    }]);
    let mut kraken_book_state = KrakenBook::new(InstrumentId(0), 10);
    let mut coinbase = CoinbaseDecoder::new(vec![spec("BTC-USD", 2, 8)]);
    let mut books = CoinbaseBooks::new(100);
    let mut work = Vec::with_capacity(2048);
    let mut run = |n: usize| {
        for i in 0..n {
            work.clear();
            work.extend_from_slice(&kraken_frames[i % 2]);
            let Ok(KrakenMessage::Book(m)) = kraken.decode(&mut work) else {
                panic!("valid Kraken frame");
            };
            assert_eq!(
                kraken_book_state.apply(&m, kraken.bids(), kraken.asks()),
                BookCheck::Match
            );
            assert_eq!(m.kind == BookKind::Snapshot, i % 2 == 0);
            work.clear();
            work.extend_from_slice(&coinbase_frames[i % 3]);
            let message = coinbase.decode(&mut work).expect("valid Coinbase frame");
            books.on_message(&message, &coinbase);
        }
    };
    run(300);
    let before = ALLOCATIONS.with(Cell::get);
    run(30_000);
    let after = ALLOCATIONS.with(Cell::get);
    assert_eq!(
        after - before,
        0,
        "allocations while decoding 60,000 frames"
    );
    assert_eq!(
        books.book(InstrumentId(0)).and_then(|b| b.best_bid()),
        Some((Price(2_192_173), Qty(6_317_902)))
    );
}
