//! Market data for tickwire: fixed-point prices and quantities, the `Copy` events that cross the
//! feed → strategy ring, and the sources that produce them.
//!
//! # Guarantees
//!
//! - Every event is a small `Copy` struct of integers: no `String`, `Vec` or `f64` crosses a ring,
//!   so pushing or popping an event never allocates and never frees.
//! - Prices and quantities are integers in units of `10^-decimals` of the instrument
//!   ([`Price`], [`Qty`]); a value that does not fit is rejected where it is parsed, never wrapped.
//! - A source says what it is ([`DataSource`]): synthetic data is labelled synthetic wherever it
//!   goes and is never presented as market data.
//!
//! # Examples
//!
//! ```
//! use tickwire_feed::{InstrumentId, Price, Qty, Quote};
//!
//! let q = Quote {
//!     instrument: InstrumentId(0),
//!     bid: Price(10_000),
//!     bid_qty: Qty(5),
//!     ask: Price(10_002),
//!     ask_qty: Qty(7),
//!     exchange_seq: 1,
//!     recv_tsc: 0,
//! };
//! assert_eq!(q.mid2(), Price(20_002));
//! assert!(q.is_valid());
//! ```
#![deny(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod binance;
pub mod book;
mod canonical;
pub mod coinbase;
pub mod depth_sync;
mod event;
mod fixed;
pub mod json;
pub mod kraken;
pub mod synthetic;
pub mod ws;
pub mod ws_frame;

pub use event::{BookTop, DataSource, FeedState, FeedStatus, MarketEvent, Quote, Trade};
pub use fixed::{parse_decimal, write_decimal, DecimalError, InstrumentId, Price, Qty, Side};
