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
#![deny(missing_docs)]
