//! Platform jitter on one core (`engine check-host --jitter-secs S`), after sysjitter and
//! jHiccup: a thread pinned to the core reads the latency clock in a tight loop, and every gap
//! between two consecutive reads longer than [`MIN_GAP_NS`] is time the core was taken from it
//! (an interrupt, the hypervisor running something else, another thread, a page fault).
//!
//! No code on that core can run faster than this: a hot path that needs `W` ns of work per
//! event meets a stall on about `rate × (W + gap)` of its events, and those events make its
//! tail. So the report gives the stall rate and the share of time lost, to read next to the
//! engine's latency stages. The loop allocates nothing and makes no system call while it runs.

use crate::clock::LatencyClock;
use std::fmt::Write as _;
use std::time::Duration;

/// Gaps shorter than this are the loop itself, not stalls.
pub const MIN_GAP_NS: u64 = 1_000;

/// Lower bounds of the report's buckets, ns (each bucket runs to the next bound).
pub const BUCKET_FLOORS_NS: [u64; 8] = [
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 1_000_000,
];

/// What one measurement saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterReport {
    /// The core measured, if the thread could be pinned to it.
    pub core: Option<usize>,
    /// How long the loop ran, ns.
    pub span_ns: u64,
    /// Stalls per bucket of [`BUCKET_FLOORS_NS`].
    pub stalls: [u64; BUCKET_FLOORS_NS.len()],
    /// Total time in stalls, ns.
    pub lost_ns: u64,
    /// The longest stall, ns.
    pub longest_ns: u64,
}

/// Stalls counted so far, in latency-clock ticks.
#[derive(Debug)]
struct Tally {
    min_gap: u64,
    floors: [u64; BUCKET_FLOORS_NS.len()],
    stalls: [u64; BUCKET_FLOORS_NS.len()],
    lost: u64,
    longest: u64,
}

impl Tally {
    /// A tally with [`MIN_GAP_NS`] and [`BUCKET_FLOORS_NS`] converted by `ns_to_ticks`.
    fn new(ns_to_ticks: impl Fn(u64) -> u64) -> Self {
        Self {
            min_gap: ns_to_ticks(MIN_GAP_NS).max(1),
            floors: BUCKET_FLOORS_NS.map(ns_to_ticks),
            stalls: [0; BUCKET_FLOORS_NS.len()],
            lost: 0,
            longest: 0,
        }
    }

    /// Counts the gap between two consecutive clock reads, if it is a stall.
    #[inline]
    fn gap(&mut self, ticks: u64) {
        if ticks < self.min_gap {
            return;
        }
        if let Some(b) = self.floors.iter().rposition(|&floor| ticks >= floor) {
            self.stalls[b] += 1;
        }
        self.lost += ticks;
        self.longest = self.longest.max(ticks);
    }
}

/// Spins for `span` on `core` (on whatever core the scheduler gives when `None` or when the
/// thread cannot be pinned) and counts the stalls.
///
/// # Errors
///
/// When the measuring thread cannot be started or panics.
pub fn measure(core: Option<usize>, span: Duration) -> std::io::Result<JitterReport> {
    std::thread::Builder::new()
        .name("jitter".into())
        .spawn(move || {
            // core_affinity indexes a fixed-size CPU set: only cores the host has are tried.
            let pinned = core.filter(|&id| {
                id < crate::host::online_cpus()
                    && core_affinity::set_for_current(core_affinity::CoreId { id })
            });
            let clock = LatencyClock::new();
            let mut tally = Tally::new(|ns| clock.ns_to_ticks(ns));
            let start = clock.ticks();
            // One tick past the rounded-down conversion, so that the span converted back to ns
            // is never short of the one asked for.
            let span_ticks = clock.ns_to_ticks(span.as_nanos() as u64).saturating_add(1);
            let end = start.saturating_add(span_ticks);
            let mut last = start;
            while last < end {
                let now = clock.ticks();
                tally.gap(now.wrapping_sub(last));
                last = now;
            }
            JitterReport {
                core: pinned,
                span_ns: clock.ticks_to_ns(last.wrapping_sub(start)),
                stalls: tally.stalls,
                lost_ns: clock.ticks_to_ns(tally.lost),
                longest_ns: clock.ticks_to_ns(tally.longest),
            }
        })?
        .join()
        .map_err(|_| std::io::Error::other("the jitter thread panicked"))
}

/// The report as a table, with the rates that matter for a hot path on that core.
pub fn render(r: &JitterReport) -> String {
    let mut s = String::new();
    let secs = r.span_ns as f64 / 1e9;
    let core = r
        .core
        .map_or("an unpinned thread".to_string(), |c| format!("core {c}"));
    let _ = writeln!(
        s,
        "jitter on {core} over {secs:.1} s (gaps between clock reads):"
    );
    let _ = writeln!(s, "{:<14} {:>10} {:>10}", "stall", "count", "per s");
    for (i, &n) in r.stalls.iter().enumerate() {
        let label = match BUCKET_FLOORS_NS.get(i + 1) {
            Some(next) => format!("{}-{} us", BUCKET_FLOORS_NS[i] / 1_000, next / 1_000),
            None => format!(">= {} us", BUCKET_FLOORS_NS[i] / 1_000),
        };
        let _ = writeln!(s, "{label:<14} {n:>10} {:>10.1}", n as f64 / secs.max(1e-9));
    }
    let over_10us: u64 = r
        .stalls
        .iter()
        .zip(BUCKET_FLOORS_NS)
        .filter(|(_, floor)| *floor >= 10_000)
        .map(|(n, _)| n)
        .sum();
    let _ = writeln!(
        s,
        "time lost {:.3}% ({} us), longest stall {} us; stalls of 10 us or more: {:.0} per s",
        r.lost_ns as f64 * 100.0 / r.span_ns.max(1) as f64,
        r.lost_ns / 1_000,
        r.longest_ns / 1_000,
        over_10us as f64 / secs.max(1e-9),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_under_a_microsecond_are_the_loop_and_longer_ones_fall_in_their_floors_bucket() {
        let mut tally = Tally::new(|ns| ns);
        for gap in [30, 999, 1_000, 9_999, 10_000, 2_000_000] {
            tally.gap(gap);
        }
        assert_eq!(tally.stalls, [1, 0, 1, 1, 0, 0, 0, 1]);
        assert_eq!(tally.lost, 1_000 + 9_999 + 10_000 + 2_000_000);
        assert_eq!(tally.longest, 2_000_000);
    }

    #[test]
    fn a_short_measurement_covers_its_span_and_renders_its_rates() {
        let report = measure(Some(0), Duration::from_millis(200)).expect("measured");
        assert!(report.span_ns >= 200_000_000, "{report:?}");
        assert!(report.lost_ns <= report.span_ns, "{report:?}");
        let text = render(&report);
        assert!(text.contains("time lost"), "{text}");
        assert!(text.contains(">= 1000 us"), "{text}");
    }
}
