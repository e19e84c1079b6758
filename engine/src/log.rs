//! Logging without formatting or I/O on the engine's threads.
//!
//! A thread logs by pushing a fixed-size `Copy` [`LogRecord`] — a static message template, up
//! to three integer arguments and a latency-clock timestamp — onto its own SPSC ring. Only the
//! log thread formats (`{}` in the template is replaced by the arguments in order) and writes.
//! A full ring drops the record and says so: [`Logger::log`] returns `false` so the caller
//! counts it, and the next record that gets through reports how many were lost.

use crate::clock::LatencyClock;
use std::io::Write;
use tickwire_feed::ws::WsEvent;

/// Severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal operation.
    Info,
    /// Something an operator should look at.
    Warn,
    /// Something failed.
    Error,
}

/// One log record.
#[derive(Debug, Clone, Copy)]
pub struct LogRecord {
    level: Level,
    source: &'static str,
    template: &'static str,
    args: [i64; 3],
    ticks: u64,
    dropped_before: u64,
}

/// Ring capacity per logging thread.
pub const LOG_RING_CAPACITY: usize = 4096;

/// A thread's logging handle.
#[derive(Debug)]
pub struct Logger {
    ring: rtrb::Producer<LogRecord>,
    source: &'static str,
    clock: LatencyClock,
    dropped: u64,
}

impl Logger {
    /// Logs `template` with `args`; `false` if the ring was full and the record was dropped.
    #[inline]
    pub fn log(&mut self, level: Level, template: &'static str, args: [i64; 3]) -> bool {
        let record = LogRecord {
            level,
            source: self.source,
            template,
            args,
            ticks: self.clock.ticks(),
            dropped_before: self.dropped,
        };
        if self.ring.push(record).is_ok() {
            self.dropped = 0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Logs what a venue connection reported: `connected` on a connect, its cause on a
    /// disconnect, each with the reconnects so far; `false` if the record was dropped.
    #[inline]
    pub fn connection(
        &mut self,
        event: &WsEvent,
        connected: &'static str,
        reconnects: u64,
    ) -> bool {
        let args = [i64::try_from(reconnects).unwrap_or(i64::MAX), 0, 0];
        match event {
            WsEvent::Connected => self.log(Level::Info, connected, args),
            WsEvent::Disconnected { cause, .. } => self.log(Level::Warn, cause.describe(), args),
        }
    }
}

/// Creates the log thread's state and one [`Logger`] per named source.
pub fn log_rings(clock: &LatencyClock, sources: &[&'static str]) -> (LogWriter, Vec<Logger>) {
    let mut consumers = Vec::with_capacity(sources.len());
    let mut loggers = Vec::with_capacity(sources.len());
    for &source in sources {
        let (ring, consumer) = crate::ring::ring(LOG_RING_CAPACITY);
        consumers.push(consumer);
        loggers.push(Logger {
            ring,
            source,
            clock: clock.clone(),
            dropped: 0,
        });
    }
    let writer = LogWriter {
        consumers,
        clock: clock.clone(),
        anchor_ticks: clock.ticks(),
        anchor_unix_ns: tickwire_shm::region::unix_now_ns(),
        line: String::with_capacity(256),
    };
    (writer, loggers)
}

/// The log thread's end: drains every ring, formats, writes.
#[derive(Debug)]
pub struct LogWriter {
    consumers: Vec<rtrb::Consumer<LogRecord>>,
    clock: LatencyClock,
    anchor_ticks: u64,
    anchor_unix_ns: u64,
    line: String,
}

impl LogWriter {
    /// Writes every record available to `out`; returns how many.
    pub fn drain(&mut self, out: &mut impl Write) -> usize {
        let mut written = 0;
        for i in 0..self.consumers.len() {
            while let Ok(record) = self.consumers[i].pop() {
                self.format(&record);
                let _ = out.write_all(self.line.as_bytes());
                written += 1;
            }
        }
        if written > 0 {
            let _ = out.flush();
        }
        written
    }

    /// Whether every logger is gone and every ring is empty.
    pub fn finished(&self) -> bool {
        self.consumers
            .iter()
            .all(|c| c.is_abandoned() && c.is_empty())
    }

    fn format(&mut self, r: &LogRecord) {
        use std::fmt::Write as _;
        let unix_ns = self.anchor_unix_ns
            + self
                .clock
                .ticks_to_ns(r.ticks.saturating_sub(self.anchor_ticks));
        self.line.clear();
        write_utc(&mut self.line, unix_ns);
        let level = match r.level {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        };
        let _ = write!(self.line, " {level} {}: ", r.source);
        let mut args = r.args.iter();
        let mut rest = r.template;
        while let Some(at) = rest.find("{}") {
            self.line.push_str(&rest[..at]);
            match args.next() {
                Some(a) => {
                    let _ = write!(self.line, "{a}");
                }
                None => self.line.push_str("{}"),
            }
            rest = &rest[at + 2..];
        }
        self.line.push_str(rest);
        if r.dropped_before > 0 {
            let _ = write!(
                self.line,
                " ({} earlier records dropped: log ring full)",
                r.dropped_before
            );
        }
        self.line.push('\n');
    }
}

/// Writes `unix_ns` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, UTC).
fn write_utc(out: &mut String, unix_ns: u64) {
    use std::fmt::Write as _;
    let secs = unix_ns / 1_000_000_000;
    let millis = (unix_ns / 1_000_000) % 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_formatted_by_the_writer_only() {
        let clock = LatencyClock::new();
        let (mut writer, mut loggers) = log_rings(&clock, &["strategy"]);
        assert!(loggers[0].log(Level::Warn, "order {} rejected: reason {}", [42, 3, 0]));
        let mut out = Vec::new();
        assert_eq!(writer.drain(&mut out), 1);
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            text.contains(" WARN strategy: order 42 rejected: reason 3\n"),
            "{text}"
        );
        assert!(!writer.finished());
        drop(loggers);
        assert!(writer.finished());
    }

    #[test]
    fn connection_events_are_logged_with_their_cause() {
        let clock = LatencyClock::new();
        let (mut writer, mut loggers) = log_rings(&clock, &["gateway"]);
        let logger = &mut loggers[0];
        let lost = WsEvent::Disconnected {
            cause: tickwire_feed::ws::Cause::Truncated,
            detail: String::new(),
        };
        assert!(logger.connection(&lost, "connected; reconnects so far {}", 1));
        assert!(logger.connection(&WsEvent::Connected, "connected; reconnects so far {}", 1));
        let mut out = Vec::new();
        assert_eq!(writer.drain(&mut out), 2);
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            text.contains(
                " WARN gateway: the server's TLS stream ended without close_notify (truncated); \
                 reconnecting (reconnects so far 1)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(" INFO gateway: connected; reconnects so far 1\n"),
            "{text}"
        );
    }

    #[test]
    fn a_full_ring_is_reported_not_silent() {
        let clock = LatencyClock::new();
        let (mut writer, mut loggers) = log_rings(&clock, &["feed"]);
        for _ in 0..LOG_RING_CAPACITY {
            assert!(loggers[0].log(Level::Info, "x", [0; 3]));
        }
        assert!(!loggers[0].log(Level::Info, "lost", [0; 3]));
        let mut out = Vec::new();
        writer.drain(&mut out);
        assert!(loggers[0].log(Level::Info, "after", [0; 3]));
        out.clear();
        writer.drain(&mut out);
        let text = String::from_utf8(out).expect("utf8");
        assert!(
            text.contains("after (1 earlier records dropped: log ring full)"),
            "{text}"
        );
    }

    #[test]
    fn utc_formatting() {
        let mut s = String::new();
        write_utc(&mut s, 0);
        assert_eq!(s, "1970-01-01T00:00:00.000Z");
        s.clear();
        write_utc(&mut s, 1_709_251_199_123_000_000);
        assert_eq!(s, "2024-02-29T23:59:59.123Z");
    }
}
