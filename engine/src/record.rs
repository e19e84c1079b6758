//! `engine record`: writes the raw frames of a config's market-data stream, each with its
//! receive time, as JSON Lines — `{"recv_ns":<unix ns>,"frame":<the frame as received>}` —
//! for replay (`engine replay` reads these lines directly) and benches.
//!
//! Recording runs on the same WebSocket client as the feed (reconnects, subscription replay)
//! until SIGINT/SIGTERM or the optional duration, and flushes what it wrote.

use crate::config::{Config, SourceKind};
use crate::run::stream_url;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwire_feed::ws::{WsConnection, WsEvent, WsSettings};

/// What a recording wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordSummary {
    /// Frames written.
    pub frames: u64,
    /// Connections lost and retried.
    pub reconnects: u64,
}

/// Records `config`'s feed into `out` until a signal or `duration`.
///
/// # Errors
///
/// When the config has no venue feed, the connection cannot be configured, or `out` fails.
pub fn record(
    config: &Config,
    out: &mut dyn Write,
    duration: Option<Duration>,
) -> Result<RecordSummary> {
    if config.feed.source == SourceKind::Synthetic {
        bail!("feed.source = \"synthetic\" has no wire frames to record");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("install signal handler")?;
    }
    let url = config.feed.url.as_deref().context("feed.url")?;
    let mut settings = WsSettings::new(&stream_url(
        url,
        config.instruments.iter().map(|i| i.symbol.clone()),
    ));
    settings.ca_file = config.feed.ca_file.clone();
    settings.ping_after = config.feed.ping_after;
    settings.idle_timeout = config.feed.dead_after;
    let mut conn = WsConnection::new(settings, mio::Token(0)).context("feed connection")?;
    let mut poll = mio::Poll::new().context("poll")?;
    let mut events = mio::Events::with_capacity(16);
    let deadline = duration.map(|d| Instant::now() + d);
    let mut summary = RecordSummary::default();
    let mut failure = None;
    // Whether the last drive delivered frames: the socket may hold more, so no waiting.
    let mut more = false;
    while !stop.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        let wait = if more {
            Duration::ZERO
        } else {
            Duration::from_millis(50)
        };
        poll.poll(&mut events, Some(wait)).context("poll")?;
        more = false;
        let event = conn.drive(poll.registry(), Instant::now(), &mut |frame| {
            more = true;
            if failure.is_some() {
                return;
            }
            let recv_ns = tickwire_shm::region::unix_now_ns();
            let written = write!(out, "{{\"recv_ns\":{recv_ns},\"frame\":")
                .and_then(|()| out.write_all(frame))
                .and_then(|()| out.write_all(b"}\n"));
            match written {
                Ok(()) => summary.frames += 1,
                Err(e) => failure = Some(e),
            }
        });
        if let Some(e) = failure.take() {
            return Err(e).context("write recording");
        }
        if let Some(WsEvent::Disconnected { detail, .. }) = event {
            eprintln!("record: {detail}; reconnecting");
        }
    }
    out.flush().context("flush recording")?;
    summary.reconnects = conn.reconnects();
    Ok(summary)
}

/// The frame inside a recorded line, or the line itself if it is not a recording wrapper.
pub fn unwrap_recorded(line: &[u8]) -> &[u8] {
    const HEAD: &[u8] = b"{\"recv_ns\":";
    const FRAME: &[u8] = b",\"frame\":";
    if !line.starts_with(HEAD) || !line.ends_with(b"}") {
        return line;
    }
    match line.windows(FRAME.len()).position(|w| w == FRAME) {
        Some(at) => &line[at + FRAME.len()..line.len() - 1],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_lines_unwrap_to_their_frame() {
        assert_eq!(
            unwrap_recorded(br#"{"recv_ns":12,"frame":{"u":1,"s":"X"}}"#),
            br#"{"u":1,"s":"X"}"#
        );
        assert_eq!(unwrap_recorded(br#"{"u":1}"#), br#"{"u":1}"#);
        assert_eq!(unwrap_recorded(br#"{"recv_ns":12}"#), br#"{"recv_ns":12}"#);
    }
}
