//! Binance frame decoding: tickwire's decoder (simd-json tape reused across messages, schema
//! walk, exact fixed-point conversion) against serde_json derive into borrowed `&str` structs
//! (which does not even convert the decimal strings), on the same frames in the same run.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::Deserialize;
use std::hint::black_box;
use tickwire_benches::{depth_10x10, BOOK_TICKER, TRADE};
use tickwire_feed::binance::{BinanceDecoder, SymbolSpec};
use tickwire_feed::InstrumentId;

#[allow(dead_code)]
#[derive(Deserialize)]
struct BookTickerSerde<'a> {
    u: u64,
    s: &'a str,
    b: &'a str,
    #[serde(rename = "B")]
    bq: &'a str,
    a: &'a str,
    #[serde(rename = "A")]
    aq: &'a str,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct DepthSerde<'a> {
    e: &'a str,
    #[serde(rename = "E")]
    time: u64,
    s: &'a str,
    #[serde(rename = "U")]
    first: u64,
    u: u64,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct TradeSerde<'a> {
    e: &'a str,
    #[serde(rename = "E")]
    time: u64,
    s: &'a str,
    t: u64,
    p: &'a str,
    q: &'a str,
    #[serde(rename = "T")]
    trade_time: u64,
    m: bool,
    #[serde(rename = "M")]
    ignore: bool,
}

fn decode(c: &mut Criterion) {
    let mut decoder = BinanceDecoder::new(vec![SymbolSpec {
        symbol: "BTCUSDT".into(),
        instrument: InstrumentId(0),
        price_decimals: 2,
        qty_decimals: 8,
    }]);
    let depth = depth_10x10();
    let mut work = Vec::with_capacity(4096);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (name, frame) in [
        ("book_ticker", BOOK_TICKER),
        ("depth_10x10", depth.as_str()),
        ("trade", TRADE),
    ] {
        g.bench_function(format!("{name}/tickwire"), |b| {
            b.iter(|| {
                work.clear();
                work.extend_from_slice(frame.as_bytes());
                black_box(decoder.decode(&mut work, 0).expect("valid"));
            })
        });
        g.bench_function(format!("{name}/serde_json"), |b| {
            b.iter(|| match name {
                "book_ticker" => {
                    black_box(serde_json::from_str::<BookTickerSerde<'_>>(frame).expect("valid"));
                }
                "depth_10x10" => {
                    black_box(serde_json::from_str::<DepthSerde<'_>>(frame).expect("valid"));
                }
                _ => {
                    black_box(serde_json::from_str::<TradeSerde<'_>>(frame).expect("valid"));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
