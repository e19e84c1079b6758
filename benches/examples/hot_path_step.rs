//! One hot-path step, repeated: the driver `scripts/callgrind.sh` runs under
//! `valgrind --tool=callgrind` to count instructions per tick — a figure that, unlike time, is
//! the same on a busy shared machine as on an idle one.
//!
//! `hot_path_step <decode|depth|serde|serde_depth|baseline|decide|encode> <iterations>`
//!
//! - `decode`: tickwire's Binance bookTicker decode to fixed point (fast path);
//! - `depth`: tickwire's decode of a 10x10 depth diff into its level buffers;
//! - `serde_depth`: serde_json of the same diff into borrowed `&str` levels (no conversion);
//! - `serde`: serde_json into a struct of borrowed `&str` fields (no conversion);
//! - `baseline`: what the conventional bot does: serde_json into owned `String` fields, then
//!   `f64` parsing;
//! - `decide`: the market maker's targets and the pre-trade risk check for one quote;
//! - `encode`: the gateway's `order.place` request for one order.

use serde::Deserialize;
use std::hint::black_box;
use tickwire_benches::{depth_10x10, strategy_fixture, BOOK_TICKER};
use tickwire_engine::risk::{check_order, Exposure, RateWindow};
use tickwire_feed::binance::{BinanceDecoder, SymbolSpec};
use tickwire_feed::{InstrumentId, Price, Qty, Side};
use tickwire_gateway::binance::OrderEncoder;
use tickwire_gateway::{NewOrder, OrderKind};

#[derive(Deserialize)]
struct Borrowed<'a> {
    #[serde(borrow)]
    data: BorrowedTicker<'a>,
}

#[derive(Deserialize)]
struct BorrowedTicker<'a> {
    u: u64,
    s: &'a str,
    b: &'a str,
    a: &'a str,
}

#[derive(Deserialize)]
struct BorrowedDepth<'a> {
    #[serde(rename = "U")]
    first: u64,
    u: u64,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
}

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

fn spec() -> SymbolSpec {
    SymbolSpec {
        symbol: "BTCUSDT".into(),
        instrument: InstrumentId(0),
        price_decimals: 2,
        qty_decimals: 8,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
    else {
        eprintln!("usage: hot_path_step <decode|depth|serde|serde_depth|baseline|decide|encode> <iterations>");
        std::process::exit(2);
    };
    match mode.as_str() {
        "decode" => {
            let frame = combined(BOOK_TICKER);
            let mut decoder = BinanceDecoder::new(vec![spec()]);
            let mut work = Vec::with_capacity(4096);
            for _ in 0..n {
                work.clear();
                work.extend_from_slice(frame.as_bytes());
                black_box(decoder.decode(&mut work, 0).expect("valid"));
            }
        }
        "depth" => {
            let frame = depth_10x10();
            let mut decoder = BinanceDecoder::new(vec![spec()]);
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
                let d: BorrowedDepth<'_> = serde_json::from_str(black_box(&frame)).expect("valid");
                black_box((d.first, d.u, d.b.len(), d.a.len()));
            }
        }
        "serde" => {
            let frame = combined(BOOK_TICKER);
            for _ in 0..n {
                let t: Borrowed<'_> = serde_json::from_str(black_box(&frame)).expect("valid");
                black_box((t.data.u, t.data.s, t.data.b, t.data.a));
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
                let q = quotes.next_quote(0);
                let (bid, _ask) = mm.targets(&q, 300, 1);
                let exposure = Exposure {
                    position: 300,
                    open_same_side: 0,
                    open_orders: 1,
                    mid: Some(Price(q.mid2().0 / 2)),
                    feed_fresh: true,
                    trading: true,
                    reduce_only: false,
                };
                let _ = black_box(check_order(
                    &limits,
                    &mut rate,
                    1,
                    Side::Buy,
                    bid,
                    Qty(1_000),
                    &exposure,
                ));
            }
        }
        "encode" => {
            let mut encoder = OrderEncoder::new(
                vec![tickwire_gateway::binance::SymbolSpec {
                    name: "BTCUSDT".into(),
                    price_decimals: 2,
                    qty_decimals: 8,
                }],
                "tw1-",
                None,
            );
            for i in 0..n {
                let order = NewOrder {
                    client_id: i,
                    instrument: InstrumentId(0),
                    side: Side::Buy,
                    price: Price(2_503_519),
                    qty: Qty(1_000_000),
                    kind: OrderKind::PostOnly,
                };
                black_box(
                    encoder
                        .new_order(&order, i, 1_700_000_000_000)
                        .map(<[u8]>::len),
                );
            }
        }
        other => {
            eprintln!("unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}
