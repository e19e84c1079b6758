//! Stage latencies taken on the hot path and recorded into the region's histograms after it.
//!
//! A histogram record writes two cache lines of the region (the value's bucket, and the
//! count/sum/max line). Between a quote's socket read and its order's write those lines are
//! cold: the polling loop's system calls evict them and the monitor's reads take them to the
//! other core. Recording the four stages on that path inline cost ~0.2 µs of the in-process
//! p50 (A/B in the README). So an agent keeps its samples here, in its own struct, and records
//! them on a turn that found no work.
//!
//! # Invariants
//!
//! - No sample is lost: a push into a full buffer records the buffer first, so a burst pays
//!   for its records inline and a histogram is never more than [`StageSamples::CAPACITY`]
//!   samples or one idle turn behind.
//! - Samples are recorded in the order they were taken, into the histogram of their stage.
//! - Only the agent that owns the buffer (the histograms' single writer) records.

use tickwire_shm::histogram::Histogram;
use tickwire_shm::layout::Stage;

/// Up to [`StageSamples::CAPACITY`] `(stage, ticks)` samples not yet recorded.
#[derive(Debug, Clone)]
pub struct StageSamples {
    samples: [(Stage, u64); StageSamples::CAPACITY],
    len: usize,
}

impl Default for StageSamples {
    fn default() -> Self {
        Self {
            samples: [(Stage::TickToTrade, 0); Self::CAPACITY],
            len: 0,
        }
    }
}

impl StageSamples {
    /// Samples held before a push records them (four 64-byte lines).
    pub const CAPACITY: usize = 16;

    /// Keeps one sample; records the held ones first if the buffer is full.
    #[inline]
    pub fn push<'a>(
        &mut self,
        stage: Stage,
        ticks: u64,
        histogram: impl Fn(Stage) -> &'a Histogram,
    ) {
        if self.len == Self::CAPACITY {
            self.record(histogram);
        }
        self.samples[self.len] = (stage, ticks);
        self.len += 1;
    }

    /// Records the held samples into their stages' histograms and empties the buffer.
    pub fn record<'a>(&mut self, histogram: impl Fn(Stage) -> &'a Histogram) {
        for &(stage, ticks) in &self.samples[..self.len] {
            histogram(stage).record(ticks);
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histograms() -> Vec<Box<Histogram>> {
        (0..Stage::ALL.len())
            .map(|_| {
                // SAFETY: a Histogram is atomics of u64 only; all zeroes is its empty state.
                unsafe { Box::<Histogram>::new_zeroed().assume_init() }
            })
            .collect()
    }

    #[test]
    fn samples_wait_for_record_then_land_in_their_stages() {
        let hs = histograms();
        let of = |s: Stage| hs[s as usize].as_ref();
        let mut samples = StageSamples::default();
        samples.push(Stage::Decide, 100, of);
        samples.push(Stage::WireToDecoded, 7, of);
        samples.push(Stage::Decide, 300, of);
        assert_eq!(samples.len, 3);
        assert_eq!(hs[Stage::Decide as usize].snapshot().count, 0);
        samples.record(of);
        assert_eq!(samples.len, 0);
        let decide = hs[Stage::Decide as usize].snapshot();
        assert_eq!((decide.count, decide.sum, decide.max), (2, 400, 300));
        let wire = hs[Stage::WireToDecoded as usize].snapshot();
        assert_eq!((wire.count, wire.max), (1, 7));
        assert_eq!(hs[Stage::TickToTrade as usize].snapshot().count, 0);
    }

    #[test]
    fn a_push_into_a_full_buffer_records_it_first_and_loses_nothing() {
        let hs = histograms();
        let of = |s: Stage| hs[s as usize].as_ref();
        let mut samples = StageSamples::default();
        let pushed = StageSamples::CAPACITY * 3 + 5;
        for i in 0..pushed {
            samples.push(Stage::FeedToStrategy, i as u64, of);
            assert!(samples.len <= StageSamples::CAPACITY);
        }
        let held = samples.len;
        assert_eq!(held, 5);
        let before = hs[Stage::FeedToStrategy as usize].snapshot().count;
        assert_eq!(before as usize, pushed - held);
        samples.record(of);
        let all = hs[Stage::FeedToStrategy as usize].snapshot();
        assert_eq!(all.count as usize, pushed);
        assert_eq!(all.max as usize, pushed - 1);
        assert_eq!(all.sum as usize, (0..pushed).sum::<usize>());
    }
}
