//! One hot-path step, repeated: the driver `scripts/callgrind.sh` runs under
//! `valgrind --tool=callgrind` to count instructions per tick — a figure that, unlike time, is
//! the same on a busy shared machine as on an idle one.
//!
//! `hot_path_step <decode|depth|serde|serde_depth|baseline|decide|encode|encode_signed|cancel_signed|cancel_prepared> <iterations>`
//!
//! - `decode`: tickwire's Binance bookTicker decode to fixed point (fast path);
//! - `depth`: tickwire's decode of a 10x10 depth diff into its level buffers;
//! - `serde_depth`: serde_json of the same diff into borrowed `&str` levels (no conversion);
//! - `serde`: serde_json into a struct of borrowed `&str` fields (no conversion);
//! - `baseline`: what the conventional bot does: serde_json into owned `String` fields, then
//!   `f64` parsing;
//! - `decide`: the market maker's targets and the pre-trade risk check for one quote;
//! - `encode`: the gateway's `order.place` request for one order, unsigned;
//! - `encode_signed`: the same, signed (HMAC-SHA-256, as sent to the venue);
//! - `cancel_signed`: the signed `order.cancel` request, built when it is sent;
//! - `cancel_prepared`: the same cancel as a requote sends it: signed ahead, on an idle turn,
//!   and looked up as the gateway does (the request, and whether it was prepared).

use serde::Deserialize;
use std::hint::black_box;
use tickwire_benches::{
    binance_spec, depth_10x10, order, order_encoder, strategy_fixture, strategy_step,
    BookTickerSerde, CombinedSerde, DepthSerde, BOOK_TICKER, ORDER_TIMESTAMP_MS,
};
use tickwire_engine::risk::RateWindow;
use tickwire_feed::binance::BinanceDecoder;
use tickwire_feed::InstrumentId;

#[derive(Deserialize)]
struct Owned {
    stream: String,
    data: OwnedTicker,
}

#[derive(Deserialize)]
struct OwnedTicker {
    u: u64,
    s: String,
    b: String,
    #[serde(rename = "B")]
    bid_qty: String,
    a: String,
    #[serde(rename = "A")]
    ask_qty: String,
}

/// `payload` in the combined-stream wrapper, as the engine subscribes.
fn combined(payload: &str) -> String {
    format!(r#"{{"stream":"btcusdt@bookTicker","data":{payload}}}"#)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
    else {
        eprintln!("usage: hot_path_step <decode|depth|serde|serde_depth|baseline|decide|encode|encode_signed|cancel_signed|cancel_prepared> <iterations>");
        std::process::exit(2);
    };
    match mode.as_str() {
        "decode" => {
            let frame = combined(BOOK_TICKER);
            let mut decoder = BinanceDecoder::new(vec![binance_spec()]);
            let mut work = Vec::with_capacity(4096);
            for _ in 0..n {
                work.clear();
                work.extend_from_slice(frame.as_bytes());
                black_box(decoder.decode(&mut work, 0).expect("valid"));
            }
        }
        "depth" => {
            let frame = depth_10x10();
            let mut decoder = BinanceDecoder::new(vec![binance_spec()]);
            let mut work = Vec::with_capacity(4096);
            for _ in 0..n {
                work.clear();
                work.extend_from_slice(frame.as_bytes());
                black_box(decoder.decode(&mut work, 0).expect("valid"));
            }
        }
        "serde_depth" => {
            let frame = depth_10x10();
            for _ in 0..n {
                let d: DepthSerde<'_> = serde_json::from_str(black_box(&frame)).expect("valid");
                black_box(d);
            }
        }
        "serde" => {
            let frame = combined(BOOK_TICKER);
            for _ in 0..n {
                let t: CombinedSerde<BookTickerSerde<'_>> =
                    serde_json::from_str(black_box(&frame)).expect("valid");
                black_box(t);
            }
        }
        "baseline" => {
            let frame = combined(BOOK_TICKER);
            for _ in 0..n {
                let t: Owned = serde_json::from_str(black_box(&frame)).expect("valid");
                let bid: f64 = t.data.b.parse().expect("bid");
                let ask: f64 = t.data.a.parse().expect("ask");
                let qty: f64 = t.data.bid_qty.parse::<f64>().expect("qty")
                    + t.data.ask_qty.parse::<f64>().expect("qty");
                black_box((t.stream.len(), t.data.u, t.data.s.len(), bid, ask, qty));
            }
        }
        "decide" => {
            let (mut quotes, mm, limits) = strategy_fixture();
            let mut rate = RateWindow::new(u64::MAX);
            for _ in 0..n {
                let _ = black_box(strategy_step(&mut quotes, &mm, &limits, &mut rate));
            }
        }
        "encode" | "encode_signed" | "cancel_signed" => {
            let mut encoder = order_encoder(mode != "encode");
            for i in 0..n {
                let request = if mode == "cancel_signed" {
                    encoder.cancel(i, InstrumentId(0), i, ORDER_TIMESTAMP_MS)
                } else {
                    encoder.new_order(&order(i), i, ORDER_TIMESTAMP_MS)
                };
                black_box(request.map(<[u8]>::len));
            }
        }
        "cancel_prepared" => {
            let mut encoder = order_encoder(true);
            let (id, instrument) = (7, InstrumentId(0));
            assert!(encoder.prepare_cancel(id, instrument, id, ORDER_TIMESTAMP_MS));
            for i in 0..n {
                let now = ORDER_TIMESTAMP_MS + i % 2;
                let sent = encoder.cancel_with_origin(id, instrument, id, now);
                assert!(sent.is_some_and(|(_, prepared)| prepared));
                black_box(sent.map(|(request, _)| request.len()));
            }
        }
        other => {
            eprintln!("unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}
