//! The atomics the lock-free protocols are written against.
//!
//! Under `--cfg loom` these are loom's model-checked types, so `cargo test` with
//! `RUSTFLAGS="--cfg loom"` explores every interleaving the memory model allows for the
//! protocol functions in [`crate::seqlock`]. Otherwise they are `core`'s atomics, whose layout
//! equals `u64`'s, which is what lets a region file mapped from disk be viewed as atomics.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU64, Ordering};
