//! Clocks. The latency clock (quanta: the TSC where it is invariant, else the monotonic clock)
//! is read raw on the hot path and converted to ns only off it; the wall clock is for display
//! and records, and is watched for jumps but never used to measure an interval.

use tickwire_shm::region::{mono_now_ns, unix_now_ns};

/// The hot path's clock: raw ticks, with the scale to convert them.
#[derive(Debug, Clone)]
pub struct LatencyClock {
    clock: quanta::Clock,
    /// ns per tick × 2^32.
    tick_ns_q32: u64,
}

impl Default for LatencyClock {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyClock {
    /// Calibrates (quanta measures the TSC against the monotonic clock once per process).
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let tick_ns_q32 = clock.delta_as_nanos(0, 1 << 32).max(1);
        Self { clock, tick_ns_q32 }
    }

    /// Raw ticks now: `rdtsc` where available; no system call.
    #[inline]
    pub fn ticks(&self) -> u64 {
        self.clock.raw()
    }

    /// ns per tick × 2^32 (written into the region header for readers).
    pub fn tick_ns_q32(&self) -> u64 {
        self.tick_ns_q32
    }

    /// Converts a duration in ns to ticks (for thresholds computed once at start).
    pub fn ns_to_ticks(&self, ns: u64) -> u64 {
        ((u128::from(ns) << 32) / u128::from(self.tick_ns_q32)) as u64
    }

    /// Converts ticks to ns.
    pub fn ticks_to_ns(&self, ticks: u64) -> u64 {
        ((u128::from(ticks) * u128::from(self.tick_ns_q32)) >> 32) as u64
    }
}

/// Detects wall-clock jumps by comparing wall-clock progress with monotonic progress.
#[derive(Debug, Clone)]
pub struct WallClockWatch {
    last_mono_ns: u64,
    last_unix_ns: u64,
    threshold_ns: u64,
}

impl WallClockWatch {
    /// Starts watching; a disagreement above `threshold_ns` between checks is a jump.
    pub fn new(threshold_ns: u64) -> Self {
        Self {
            last_mono_ns: mono_now_ns(),
            last_unix_ns: unix_now_ns(),
            threshold_ns,
        }
    }

    /// Compares the clocks now; `Some(jump_ns)` (signed, wall minus monotonic progress) on a
    /// jump.
    pub fn check(&mut self, mono_ns: u64, unix_ns: u64) -> Option<i64> {
        let mono_step = mono_ns.wrapping_sub(self.last_mono_ns) as i64;
        let unix_step = unix_ns.wrapping_sub(self.last_unix_ns) as i64;
        self.last_mono_ns = mono_ns;
        self.last_unix_ns = unix_ns;
        let jump = unix_step.wrapping_sub(mono_step);
        (jump.unsigned_abs() > self.threshold_ns).then_some(jump)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_conversions_round_trip() {
        let c = LatencyClock::new();
        let ticks = c.ns_to_ticks(1_000_000);
        let back = c.ticks_to_ns(ticks);
        assert!((999_000..=1_001_000).contains(&back), "{back}");
        let a = c.ticks();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let elapsed = c.ticks_to_ns(c.ticks() - a);
        assert!(elapsed >= 4_000_000, "{elapsed}");
    }

    #[test]
    fn wall_clock_jumps_are_detected_and_steady_progress_is_not() {
        let mut w = WallClockWatch::new(1_000_000_000);
        let (m, u) = (w.last_mono_ns, w.last_unix_ns);
        assert_eq!(w.check(m + 100_000_000, u + 100_000_000), None);
        assert_eq!(
            w.check(m + 200_000_000, u + 100_000_000 + 3_600_000_000_000),
            Some(3_599_900_000_000)
        );
        assert_eq!(w.check(m + 300_000_000, u + 3_600_100_000_000), None);
        assert!(w.check(m + 400_000_000, u).is_some(), "backwards jump");
    }
}
