//! The tickwire engine: a strategy thread pinned to a core busy-polls SPSC rings of `Copy`
//! events, decides, sends orders through the gateway, and publishes its state into the
//! shared-memory region that monitors read.
//!
//! # Threads
//!
//! | thread | agent | owns |
//! |---|---|---|
//! | feed | [`feed_agent::FeedAgent`] | market sources, feed section of the region |
//! | strategy | [`strategy_agent::StrategyAgent`] | strategy, orders, positions, risk, control ring |
//! | gateway | [`gateway_agent::GatewayAgent`] | the venue session (paper venue for now) |
//! | persistence | [`journal::JournalWriter`] | the SQLite journal |
//! | log | [`log::LogWriter`] | formatting and writing log records |
//!
//! Every queue between them is an `rtrb` SPSC ring with split producer/consumer ownership, so a
//! queue cannot be used from the wrong thread. A full ring is counted in the region, never
//! silent; a full order ring throws the kill switch; journal records and execution reports
//! wait in pre-allocated backlogs instead of being dropped.
//!
//! # The hot path
//!
//! The strategy thread takes no lock, calls no logging macro, formats nothing, allocates
//! nothing after warm-up (the counting allocator in [`alloc`] proves it in production through
//! the `hot_path_allocations` counter) and makes no blocking system call: time comes from the
//! TSC ([`clock::LatencyClock`]), waiting is an [`idle::Idle`] strategy.
//!
//! # Examples
//!
//! ```
//! use tickwire_engine::idle::{run_agent, Agent, Idle};
//!
//! struct Count(u32);
//! impl Agent for Count {
//!     fn role_name(&self) -> &'static str { "count" }
//!     fn do_work(&mut self) -> usize { self.0 += 1; 1 }
//!     fn is_done(&self) -> bool { self.0 == 10 }
//! }
//! let mut agent = Count(0);
//! run_agent(&mut agent, &mut Idle::BusySpin);
//! assert_eq!(agent.0, 10);
//! ```
#![deny(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod alloc;
pub mod back_fill;
pub mod clock;
pub mod config;
pub mod feed_agent;
pub mod gateway_agent;
pub mod host;
pub mod idle;
pub mod instance;
pub mod jitter;
pub mod journal;
pub mod latency_log;
pub mod log;
pub mod market_maker;
pub mod record;
pub mod replay;
pub mod ring;
pub mod risk;
pub mod run;
pub mod snapshot;
pub mod stage_samples;
pub mod strategy;
pub mod strategy_agent;
pub mod trading;

#[cfg(test)]
mod test_support {
    use crate::clock::LatencyClock;
    use tickwire_shm::region::{RegionInit, RegionWriter};

    /// A real region file in `dir` for unit tests, on `clock`'s scale, with no instruments.
    pub(crate) fn unit_region(dir: &std::path::Path, clock: &LatencyClock) -> RegionWriter {
        RegionWriter::create(
            &dir.join("region"),
            &RegionInit {
                instance: "unit",
                tick_ns_q32: clock.tick_ns_q32(),
                instruments: &[],
            },
        )
        .expect("region")
    }
}
