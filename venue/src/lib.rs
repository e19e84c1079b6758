//! The tickwire venue simulator: a local exchange that speaks the Binance spot wire formats the
//! feed decodes and the gateway encodes, so tickwire runs its whole job on one machine with no
//! internet and no keys.
//!
//! - [`exchange`]: the matching engine — one instrument's limit order book with price-time
//!   priority, accounts, and the trades, depth changes and execution reports each operation
//!   produces. Deterministic.
//! - [`flow`]: the seeded market around the engine: price process, liquidity ladder, takers.
//! - [`wire`]: the Binance spot payloads, WebSocket API requests and responses.
//! - [`server`]: streams, WebSocket API, REST snapshot and the admin endpoint with fault
//!   injection; [`tls`]: a fresh CA and server certificate per start.
#![deny(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod exchange;
pub mod flow;
pub mod server;
pub mod tls;
pub mod wire;
