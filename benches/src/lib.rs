//! tickwire's benchmarks (`cargo bench -p tickwire-benches`, or `scripts/bench.sh`).
//!
//! They live in their own `publish = false` crate so that the crates they compare against
//! (crossbeam, serde_json, tokio for the baseline bot) stay out of the engine's dependencies.
//!
//! - `decode`: tickwire's Binance decoders (fixed-point output) against `serde_json` derive into
//!   borrowed structs on the same frames.
//! - `ring_hop`: cross-thread round trip through rtrb (ours), crossbeam `ArrayQueue` and
//!   `std::sync::mpsc`, reported per one-way hop.
//! - `seqlock`: publishing and reading a region cell, and recording into a histogram.
//! - `strategy_step`: pre-trade risk, the market maker's quote targets and the paper venue's
//!   quote matching — the work the strategy and gateway threads do per event.
//! - `order_book`: a depth diff applied to a synced book, and its top, against `BTreeMap`s.
//! - `order_encode`: signed order entry against the way most bots build the same request.
#![deny(missing_docs)]
//! - `tick_to_trade`, `monitor_load`: harnesses (`harness = false`) that start real processes.
//!
//! This library holds what the benches share: where the workspace and its release binaries are,
//! command-line arguments, and the fixtures (frames, strategy set-up) the criterion benches and
//! the callgrind driver (`examples/hot_path_step.rs`) both measure.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use tickwire_engine::config::{StrategyKind, StrategySettings};
use tickwire_engine::market_maker::MarketMaker;
use tickwire_engine::risk::{check_order, Exposure, Limits, RateWindow, RiskReject};
use tickwire_feed::binance::SymbolSpec;
use tickwire_feed::synthetic::{SyntheticParams, SyntheticQuotes};
use tickwire_feed::{InstrumentId, Price, Qty, Side};
use tickwire_gateway::binance::{Credentials, OrderEncoder};
use tickwire_gateway::{NewOrder, OrderKind};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Where release binaries are (`$CARGO_TARGET_DIR/release`, relative to the workspace).
pub fn release_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from);
    let target = if target.is_relative() {
        workspace().join(target)
    } else {
        target
    };
    target.join("release")
}

/// The text after `--name` on the command line.
pub fn arg_text(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The number after `--name`, or `default`.
///
/// # Panics
///
/// When the value is not a number (a bench's command line is the operator's own).
pub fn arg(name: &str, default: u64) -> u64 {
    arg_text(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} takes a number, not {v:?}"))
    })
}

/// A Binance bookTicker as the venue sends it.
pub const BOOK_TICKER: &str = r#"{"u":400900217,"s":"BTCUSDT","b":"25035.19000000","B":"31.21000000","a":"25036.52000000","A":"40.66000000"}"#;

/// A Binance trade as the venue sends it.
pub const TRADE: &str = r#"{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":12345,"p":"25036.52000000","q":"0.01000000","T":1672515782136,"m":true,"M":true}"#;

/// A Binance depth diff with 10 levels a side.
pub fn depth_10x10() -> String {
    let level = |p: u32| {
        format!(
            r#"["{}.{:02}000000","{}.{:03}00000"]"#,
            25_000 + p,
            p,
            p % 7 + 1,
            p * 7 % 1000
        )
    };
    let bids: Vec<String> = (0..10).map(|i| level(40 - i)).collect();
    let asks: Vec<String> = (0..10).map(|i| level(41 + i)).collect();
    format!(
        r#"{{"e":"depthUpdate","E":1672515782136,"s":"BTCUSDT","U":157,"u":160,"b":[{}],"a":[{}]}}"#,
        bids.join(","),
        asks.join(",")
    )
}

/// The strategy step's inputs: a seeded quote source, the market maker and its limits.
pub fn strategy_fixture() -> (SyntheticQuotes, MarketMaker, Limits) {
    let quotes = SyntheticQuotes::new(SyntheticParams {
        instrument: InstrumentId(0),
        start_mid: Price(5_000_000),
        tick: 1,
        max_step_ticks: 2,
        base_qty: Qty(100),
        seed: 9,
    });
    let mm = MarketMaker::new(&StrategySettings {
        kind: StrategyKind::MarketMaker,
        instrument: 0,
        half_spread_ticks: 2,
        size: 1_000,
        skew_ticks_per_size: 1,
        requote_threshold_ticks: 2,
    });
    let limits = Limits {
        max_position: 5_000,
        max_notional: 50_000_000_000,
        max_orders_per_sec: u32::MAX,
        price_band_bps: 100,
        max_open_orders: 32,
    };
    (quotes, mm, limits)
}

/// The decoder's table for the fixtures' symbol.
pub fn binance_spec() -> SymbolSpec {
    SymbolSpec {
        symbol: "BTCUSDT".into(),
        instrument: InstrumentId(0),
        price_decimals: 2,
        qty_decimals: 8,
    }
}

/// The API key of Binance's signing examples: 64 characters, as real keys are.
pub const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
/// The secret of Binance's signing examples.
pub const API_SECRET: &[u8] = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
/// The request timestamp the order-entry fixtures sign.
pub const ORDER_TIMESTAMP_MS: u64 = 1_700_000_000_000;

/// The gateway's encoder for the fixtures' symbol (2 price decimals, 8 quantity decimals),
/// signing with [`API_KEY`] and [`API_SECRET`] when `signed`.
pub fn order_encoder(signed: bool) -> OrderEncoder {
    OrderEncoder::new(
        vec![tickwire_gateway::binance::SymbolSpec {
            name: "BTCUSDT".into(),
            price_decimals: 2,
            qty_decimals: 8,
        }],
        "tw1-",
        signed.then(|| Credentials::new(API_KEY, API_SECRET)),
    )
}

/// A post-only buy of 0.01 BTCUSDT at 25035.19, as the fixtures' encoder sends it.
pub fn order(client_id: u64) -> NewOrder {
    NewOrder {
        client_id,
        instrument: InstrumentId(0),
        side: Side::Buy,
        price: Price(2_503_519),
        qty: Qty(1_000_000),
        kind: OrderKind::PostOnly,
    }
}

/// A bookTicker as serde_json derive sees it: borrowed `&str` fields, nothing converted.
#[derive(Debug, Deserialize)]
pub struct BookTickerSerde<'a> {
    /// Update id.
    pub u: u64,
    /// Symbol.
    pub s: &'a str,
    /// Best bid.
    pub b: &'a str,
    /// Best bid quantity.
    #[serde(rename = "B")]
    pub bq: &'a str,
    /// Best ask.
    pub a: &'a str,
    /// Best ask quantity.
    #[serde(rename = "A")]
    pub aq: &'a str,
}

/// A depth diff as serde_json derive sees it.
#[derive(Debug, Deserialize)]
pub struct DepthSerde<'a> {
    /// Event type.
    pub e: &'a str,
    /// Event time.
    #[serde(rename = "E")]
    pub time: u64,
    /// Symbol.
    pub s: &'a str,
    /// First update id.
    #[serde(rename = "U")]
    pub first: u64,
    /// Last update id.
    pub u: u64,
    /// Bid levels.
    #[serde(borrow)]
    pub b: Vec<[&'a str; 2]>,
    /// Ask levels.
    #[serde(borrow)]
    pub a: Vec<[&'a str; 2]>,
}

/// A trade as serde_json derive sees it.
#[derive(Debug, Deserialize)]
pub struct TradeSerde<'a> {
    /// Event type.
    pub e: &'a str,
    /// Event time.
    #[serde(rename = "E")]
    pub time: u64,
    /// Symbol.
    pub s: &'a str,
    /// Trade id.
    pub t: u64,
    /// Price.
    pub p: &'a str,
    /// Quantity.
    pub q: &'a str,
    /// Trade time.
    #[serde(rename = "T")]
    pub trade_time: u64,
    /// Buyer is maker.
    pub m: bool,
    /// Ignored by the venue's docs.
    #[serde(rename = "M")]
    pub ignore: bool,
}

/// The combined-stream wrapper as serde_json derive sees it.
#[derive(Debug, Deserialize)]
pub struct CombinedSerde<T> {
    /// The payload.
    pub data: T,
}

/// One strategy step: the next quote, the market maker's targets and the pre-trade risk check
/// of its bid.
///
/// # Errors
///
/// The risk check's verdict.
pub fn strategy_step(
    quotes: &mut SyntheticQuotes,
    mm: &MarketMaker,
    limits: &Limits,
    rate: &mut RateWindow,
) -> Result<(), RiskReject> {
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
    check_order(limits, rate, 1, Side::Buy, bid, Qty(1_000), &exposure)
}
