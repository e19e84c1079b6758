//! Binance frame decoding: tickwire's decoder (simd-json tape reused across messages, schema
//! walk, exact fixed-point conversion) against serde_json derive into borrowed `&str` structs
//! (which does not even convert the decimal strings), on the same frames in the same run.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tickwire_benches::{
    binance_spec, depth_10x10, BookTickerSerde, DepthSerde, TradeSerde, BOOK_TICKER, TRADE,
};
use tickwire_feed::binance::BinanceDecoder;

fn decode(c: &mut Criterion) {
    let mut decoder = BinanceDecoder::new(vec![binance_spec()]);
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
