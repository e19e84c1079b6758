//! Fixed-bucket latency histograms that live in the region.
//!
//! # Buckets
//!
//! Log-linear, like HdrHistogram with 4 bits of sub-bucket precision: values `0..16` ns have a
//! bucket each; above that, each power of two `[2^e, 2^(e+1))` is split into 16 equal
//! sub-buckets, so any recorded value is known to within 1/16 (6.25 %). The last bucket holds
//! everything from `2^39` ns (about 9 minutes) up. [`bucket_index`] and [`bucket_upper_bound`]
//! are the whole scheme.
//!
//! # Writer and readers
//!
//! One thread records into a histogram (named by the section that owns it). Every bucket, the
//! count, the sum and the max are separate atomic `u64`s updated with plain load/store (single
//! writer: no locked read-modify-write on the hot path). A reader's snapshot is not one atomic
//! instant — it may miss the last few records — but every field only grows, so percentiles
//! computed from it are always those of a real prefix of the stream within a few samples.

use crate::primitive::{AtomicU64, Ordering};

mod snapshot;
pub use snapshot::HistogramSnapshot;

/// Sub-buckets per power of two (2^4).
const SUB_BITS: u32 = 4;
const SUB_COUNT: u64 = 1 << SUB_BITS;
/// The largest exponent with its own buckets; values from `2^(MAX_EXP + 1)` go in the last one.
const MAX_EXP: u32 = 39;
/// Number of buckets per histogram.
pub const BUCKETS: usize =
    (SUB_COUNT + (MAX_EXP as u64 + 1 - SUB_BITS as u64) * SUB_COUNT) as usize;

/// The bucket a value (in ns) is counted in.
#[inline]
pub const fn bucket_index(value: u64) -> usize {
    if value < SUB_COUNT {
        return value as usize;
    }
    let exp = 63 - value.leading_zeros();
    if exp > MAX_EXP {
        return BUCKETS - 1;
    }
    let sub = (value >> (exp - SUB_BITS)) & (SUB_COUNT - 1);
    (SUB_COUNT + (exp - SUB_BITS) as u64 * SUB_COUNT + sub) as usize
}

/// The largest value counted in bucket `index` (inclusive); `u64::MAX` for the last bucket.
pub const fn bucket_upper_bound(index: usize) -> u64 {
    if index < SUB_COUNT as usize {
        return index as u64;
    }
    if index >= BUCKETS - 1 {
        return u64::MAX;
    }
    let rel = (index - SUB_COUNT as usize) as u64;
    let exp = (rel / SUB_COUNT) as u32 + SUB_BITS;
    let sub = rel % SUB_COUNT;
    let width = 1u64 << (exp - SUB_BITS);
    (1u64 << exp) + (sub + 1) * width - 1
}

/// A histogram as laid out in the region: count, sum, max, then [`BUCKETS`] counts.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct Histogram {
    pub(crate) count: AtomicU64,
    pub(crate) sum: AtomicU64,
    pub(crate) max: AtomicU64,
    pub(crate) buckets: [AtomicU64; BUCKETS],
}

impl Histogram {
    /// Records one value (latency-clock ticks or ns: the unit is the reader's to know). Single writer only (see the module docs).
    #[inline]
    pub fn record(&self, value_ns: u64) {
        bump(&self.buckets[bucket_index(value_ns)], 1);
        bump(&self.sum, value_ns);
        if value_ns > self.max.load(Ordering::Relaxed) {
            self.max.store(value_ns, Ordering::Relaxed);
        }
        // The count is stored last with release, so a reader that acquires it sees buckets
        // accounting for at least that many records.
        let count = self.count.load(Ordering::Relaxed);
        self.count.store(count + 1, Ordering::Release);
    }
}

#[inline]
fn bump(cell: &AtomicU64, by: u64) {
    cell.store(
        cell.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn zeroed() -> Box<Histogram> {
        // SAFETY: `Histogram` is atomics only, for which all-zero bytes are a valid value.
        unsafe { Box::<Histogram>::new_zeroed().assume_init() }
    }

    #[test]
    fn every_value_lands_in_a_bucket_whose_bounds_contain_it() {
        let mut v = 0u64;
        while v < (1u64 << 42) {
            let i = bucket_index(v);
            assert!(i < BUCKETS);
            assert!(v <= bucket_upper_bound(i), "{v} above bucket {i}");
            if i > 0 {
                assert!(v > bucket_upper_bound(i - 1), "{v} below bucket {i}");
            }
            v = v + 1 + v / 7;
        }
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn bucket_precision_is_one_sixteenth() {
        for v in [17u64, 1000, 123_456, 9_999_999] {
            let ub = bucket_upper_bound(bucket_index(v));
            assert!((ub - v) as f64 <= v as f64 / 16.0, "{v} -> {ub}");
        }
    }

    #[test]
    fn quantiles_of_a_uniform_stream() {
        let h = zeroed();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        let s = h.snapshot();
        assert_eq!(s.count, 10_000);
        assert_eq!(s.max, 10_000);
        let p50 = s.value_at_quantile(0.5);
        assert!((4_700..=5_400).contains(&p50), "p50 {p50}");
        let p99 = s.value_at_quantile(0.99);
        assert!((9_500..=10_000).contains(&p99), "p99 {p99}");
        assert_eq!(s.value_at_quantile(1.0), 10_000);
    }

    #[test]
    fn interval_difference() {
        let h = zeroed();
        h.record(100);
        let a = h.snapshot();
        h.record(5_000);
        h.record(5_000);
        let d = h.snapshot().since(&a);
        assert_eq!(d.count, 2);
        assert_eq!(d.sum, 10_000);
        assert!(d.value_at_quantile(0.01) >= 4_800);
        assert_eq!(HistogramSnapshot::empty().value_at_quantile(0.5), 0);
    }
}
