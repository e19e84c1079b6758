//! Copies of histograms, taken by readers off the hot path (they allocate).

use super::{bucket_upper_bound, Histogram, BUCKETS};
use crate::primitive::Ordering;

impl Histogram {
    /// Copies the histogram out for percentile queries.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let count = self.count.load(Ordering::Acquire);
        let mut buckets = Box::new([0u64; BUCKETS]);
        for (out, bucket) in buckets.iter_mut().zip(&self.buckets) {
            *out = bucket.load(Ordering::Relaxed);
        }
        HistogramSnapshot {
            count,
            sum: self.sum.load(Ordering::Relaxed),
            max: self.max.load(Ordering::Relaxed),
            buckets,
        }
    }
}

/// A copy of a [`Histogram`], taken off the hot path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Records counted (may trail the bucket total by records that were mid-update).
    pub count: u64,
    /// Sum of recorded values, ns.
    pub sum: u64,
    /// Largest recorded value, ns.
    pub max: u64,
    /// Per-bucket counts.
    pub buckets: Box<[u64; BUCKETS]>,
}

impl HistogramSnapshot {
    /// An empty snapshot.
    pub fn empty() -> Self {
        Self {
            count: 0,
            sum: 0,
            max: 0,
            buckets: Box::new([0; BUCKETS]),
        }
    }

    /// The value at quantile `q` (`0.0..=1.0`): the upper bound of the bucket holding it, capped
    /// at the recorded max; 0 for an empty histogram.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        // Saturating: a snapshot of a hostile region may hold any counts.
        let total = self.buckets.iter().fold(0u64, |a, &n| a.saturating_add(n));
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (index, &n) in self.buckets.iter().enumerate() {
            seen = seen.saturating_add(n);
            if seen >= rank {
                return bucket_upper_bound(index).min(self.max);
            }
        }
        self.max
    }

    /// The records between `earlier` and `self` (bucket-wise difference): what happened in an
    /// interval, for interval logs and charts over time.
    pub fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        let mut buckets = Box::new([0u64; BUCKETS]);
        for (i, out) in buckets.iter_mut().enumerate() {
            *out = self.buckets[i].saturating_sub(earlier.buckets[i]);
        }
        let max = buckets
            .iter()
            .rposition(|&n| n > 0)
            .map_or(0, |i| bucket_upper_bound(i).min(self.max));
        HistogramSnapshot {
            count: self.count.saturating_sub(earlier.count),
            sum: self.sum.saturating_sub(earlier.sum),
            max,
            buckets,
        }
    }
}
