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

/// Wall-clock ms for request timestamps, read on the hot path from the latency clock.
///
/// Reading the wall clock is a vDSO call whose data pages the polling loop's system calls
/// leave cold; a request already has a tick reading of its own. So the wall clock is read
/// at most once per [`ExtrapolatedWallClock::RESYNC_NS`] (an idle turn's call does it, and so
/// does any call after a gap that long) and extrapolated by ticks in between. Between two
/// readings the error is the latency clock's drift against the wall clock over at most that
/// interval (µs), and a step of the wall clock (NTP, an operator) is taken up at the next
/// reading. A tick count from before the last reading reads the wall clock again.
#[derive(Debug, Clone)]
pub struct ExtrapolatedWallClock {
    clock: LatencyClock,
    base_ticks: u64,
    base_unix_ns: u64,
    resync_ticks: u64,
}

impl ExtrapolatedWallClock {
    /// Longest extrapolation before the wall clock is read again.
    pub const RESYNC_NS: u64 = 10_000_000;

    /// Reads the wall clock now.
    pub fn new(clock: &LatencyClock) -> Self {
        Self {
            base_ticks: clock.ticks(),
            base_unix_ns: unix_now_ns(),
            resync_ticks: clock.ns_to_ticks(Self::RESYNC_NS),
            clock: clock.clone(),
        }
    }

    /// Unix time in ms at `ticks` (a latency-clock reading taken just now).
    #[inline]
    pub fn unix_ms(&mut self, ticks: u64) -> u64 {
        let elapsed = ticks.wrapping_sub(self.base_ticks);
        if elapsed > self.resync_ticks {
            self.base_ticks = ticks;
            self.base_unix_ns = unix_now_ns();
            return self.base_unix_ns / 1_000_000;
        }
        (self.base_unix_ns + self.clock.ticks_to_ns(elapsed)) / 1_000_000
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
    fn extrapolated_wall_ms_follow_the_wall_clock_and_read_it_again_after_a_gap() {
        let clock = LatencyClock::new();
        let mut wall = ExtrapolatedWallClock::new(&clock);
        let within = |ms: u64| {
            let now = unix_now_ns() / 1_000_000;
            (now.saturating_sub(2)..=now + 1).contains(&ms)
        };
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(3));
            let ms = wall.unix_ms(clock.ticks());
            assert!(within(ms), "{ms}");
        }
        let base = wall.base_ticks;
        std::thread::sleep(std::time::Duration::from_millis(12));
        let ms = wall.unix_ms(clock.ticks());
        assert!(within(ms), "{ms}");
        assert_ne!(wall.base_ticks, base, "read again after a gap");
        wall.base_unix_ns -= 3_600_000_000_000;
        let earlier = wall.base_ticks - 1;
        assert!(
            within(wall.unix_ms(earlier)),
            "a reading from before the base"
        );
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
