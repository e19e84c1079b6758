//! The shared-memory contract between the tickwire engine and the processes that watch it.
//!
//! The engine creates one region file per instance (by default
//! `/dev/shm/tickwire-<instance>`, mode 0600) and publishes its state there; monitors map it
//! read-only and send operator commands through a small control ring in the same file.
//!
//! # Guarantees
//!
//! - The layout ([`layout`]) is `#[repr(C)]`, padding-free, valid for any bit pattern and
//!   checked at compile time (sizes, alignments, offsets); readers validate magic, version and
//!   size before they trust a byte ([`region::RegionReader::open`]).
//! - Structured state is published through seqlock cells ([`seqlock::SeqCell`]): the writer
//!   never waits, a reader never sees a torn value, and a reader never spins forever — a writer
//!   that died mid-write is reported, not waited on.
//! - Each cell, counter and histogram has exactly one writer thread, enforced by the per-thread
//!   section handles of [`region::RegionWriter::take_sections`].
//! - Publishing allocates nothing and makes no system call: it is a handful of atomic stores.
//! - Under `--cfg loom`, the seqlock protocol is model-checked with loom ([`primitive`]).
//!
//! # Examples
//!
//! ```
//! use tickwire_shm::layout::{EngineState, EngineStatus};
//! use tickwire_shm::region::{RegionInit, RegionReader, RegionWriter};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("tickwire-doc");
//! let mut writer = RegionWriter::create(
//!     &path,
//!     &RegionInit { instance: "doc", tick_ns_q32: 1 << 32, instruments: &[] },
//! )
//! .unwrap();
//! let sections = writer.take_sections().unwrap();
//! sections.strategy.engine().publish(&EngineStatus {
//!     state: EngineState::Running.code(),
//!     ..Default::default()
//! });
//!
//! let reader = RegionReader::open(&path).unwrap();
//! assert_eq!(reader.instance(), "doc");
//! assert_eq!(reader.engine().unwrap().state, EngineState::Running.code());
//! writer.remove().unwrap();
//! assert!(!reader.is_current());
//! ```
#![deny(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod primitive;
pub mod seqlock;

#[cfg(not(loom))]
pub mod control;
#[cfg(not(loom))]
pub mod histogram;
#[cfg(not(loom))]
pub mod layout;
#[cfg(not(loom))]
pub mod region;
