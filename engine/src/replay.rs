//! `engine replay`: runs recorded venue messages — one wire message per line — through the same
//! decoders and book keeping the feed uses, and reports each line as JSON.
//!
//! Venues ([`ReplayVenue`]): Binance spot (market data and order entry), Kraken WebSocket v2
//! (the `book` channel and the connection's other messages), Coinbase Advanced Trade (`level2`,
//! `subscriptions` and `heartbeats`).
//!
//! Output: one object per input line, `{"line":N,"ok":true,"event":"<kind>"}` or
//! `{"line":N,"ok":false,"error":"<what and where>"}`, then
//! `{"summary":{"lines":N,"ok":N,"rejected":N,"gaps":N,"book":{"<SYMBOL>":{"bids":[["price","qty"],..],"asks":[..]}}}}`
//! with the top five levels of each book as decimal strings without trailing zeros. `gaps`
//! counts the times a book was found out of sync and discarded until a new snapshot: a sequence
//! gap on Binance and Coinbase (`"gap":true` on that line), a checksum mismatch on Kraken.
//!
//! Lines written by `engine record` (`{"recv_ns":..,"frame":..}`) are replayed as their frame.
//! Lines are read as bytes: invalid UTF-8 or JSON is a rejected line, never a fatal error.
//!
//! Per venue:
//!
//! - Binance: order-entry messages (WebSocket API responses and user-data execution reports)
//!   are decoded too: a well-formed error response is a valid message, reported with the venue's
//!   code and text (`"event":"response","status":400,"code":-2010,"msg":".."`). A diff that
//!   arrives before any snapshot is buffered, as live synchronisation would, and is `ok:true`.
//!   Snapshots (`--snapshot`, JSON Lines) are used in order: the first at the start (applied to
//!   the first instrument whose depth appears), the next after each gap. Prices and quantities
//!   are read at [`DEFAULT_DECIMALS`] decimals (Binance sends at most 8), so every valid message
//!   converts exactly.
//! - Kraken: every book line carries `"checksum":"ok"`, `"mismatch"` (the book is discarded
//!   until the pair's next snapshot) or `"unsynced"` (an update while no snapshot is applied). A
//!   pair's precision is learned from its first snapshot ([`KrakenDecoder::any_symbol`]), its
//!   depth from its subscription acknowledgement (10 without one).
//! - Coinbase: `sequence_num` must grow by one per message; the line where it does not carries
//!   `"gap":true`, and every book waits for its next snapshot. Prices and quantities are read at
//!   [`DEFAULT_DECIMALS`] decimals.
//!
//! Kraken and Coinbase send their snapshots in the stream: `--snapshot` is for Binance only.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use tickwire_feed::binance::{BinanceDecoder, BinanceMessage, DecodeError, SymbolSpec};
use tickwire_feed::book::OrderBook;
use tickwire_feed::coinbase::{self, CoinbaseBooks, CoinbaseDecoder};
use tickwire_feed::depth_sync::{DepthSync, DiffOutcome, SnapshotOutcome};
use tickwire_feed::kraken::{BookCheck, BookKind, KrakenBook, KrakenDecoder, KrakenMessage};
use tickwire_feed::{write_decimal, InstrumentId, Side};
use tickwire_gateway::binance::{OrderEntryDecoder, OrderEntryMessage};

/// Decimals of prices and quantities when no config names them.
pub const DEFAULT_DECIMALS: u32 = 8;
/// Levels per side a replayed book holds.
const BOOK_CAPACITY: usize = 10_000;
/// Longest line read, bytes (longer lines are rejected, not buffered whole).
const MAX_LINE: usize = 8 << 20;

/// Venues whose recordings `engine replay` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayVenue {
    /// Binance spot.
    Binance,
    /// Kraken spot, WebSocket v2.
    Kraken,
    /// Coinbase Advanced Trade.
    Coinbase,
}

/// Totals of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Lines read.
    pub lines: u64,
    /// Valid messages.
    pub ok: u64,
    /// Rejected lines.
    pub rejected: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
}

/// Reads one line as bytes (without the newline) into `buf`; `Ok(false)` at end of input.
/// Lines longer than [`MAX_LINE`] are truncated to it and flagged.
fn read_line(input: &mut dyn BufRead, buf: &mut Vec<u8>, too_long: &mut bool) -> io::Result<bool> {
    buf.clear();
    *too_long = false;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(!buf.is_empty() || *too_long);
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        if chunk.len() > room {
            *too_long = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let consumed = done.unwrap_or(available.len());
        input.consume(consumed);
        if done.is_some() {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(true);
        }
    }
}

struct Snapshots<'a> {
    source: Option<&'a mut dyn BufRead>,
    line: Vec<u8>,
}

impl Snapshots<'_> {
    /// Applies the next snapshot to `sync`; `Err` text when the file has none left or a bad one.
    fn apply_next(
        &mut self,
        decoder: &mut BinanceDecoder,
        sync: &mut DepthSync,
        instrument: InstrumentId,
    ) -> Result<SnapshotOutcome, String> {
        let Some(source) = self.source.as_deref_mut() else {
            return Err("no snapshot file".into());
        };
        let mut too_long = false;
        loop {
            match read_line(source, &mut self.line, &mut too_long) {
                Ok(false) => return Err("no snapshot left".into()),
                Err(e) => return Err(format!("snapshot file: {e}")),
                Ok(true) if self.line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(true) => break,
            }
        }
        let snapshot = decoder
            .decode_snapshot(&mut self.line, instrument)
            .map_err(|e| format!("snapshot: {e}"))?;
        Ok(sync.on_snapshot(snapshot.last_update_id, decoder.bids(), decoder.asks()))
    }
}

/// Decodes an order-entry line (`line` is an unmodified copy: decoding parses in place).
fn order_entry(decoder: &mut OrderEntryDecoder, line: &mut [u8], n: u64) -> Result<Value, String> {
    let original: Value = serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    match decoder.decode(line).map_err(|e| e.to_string())? {
        OrderEntryMessage::Response { outcome, .. } => {
            let mut v = json!({ "line": n, "ok": true, "event": "response", "id": original["id"], "status": original["status"] });
            if let Err(code) = outcome {
                v["code"] = json!(code);
                v["msg"] = original["error"]["msg"].clone();
            }
            Ok(v)
        }
        OrderEntryMessage::Execution(_)
        | OrderEntryMessage::ForeignFill(_)
        | OrderEntryMessage::Ignored => Ok(json!({
            "line": n, "ok": true, "event": "executionReport",
            "execution": original["event"]["x"], "status": original["event"]["X"],
        })),
    }
}

fn decimal(v: i64, decimals: u32) -> String {
    let mut out = Vec::with_capacity(24);
    write_decimal(&mut out, v, decimals, true);
    String::from_utf8_lossy(&out).into_owned()
}

/// The top five levels of each side of `book`, as decimal strings at `spec`'s scale.
fn book_levels(book: &OrderBook, spec: &SymbolSpec) -> Value {
    let side = |side| -> Value {
        book.top(side, 5)
            .map(|(p, q)| {
                json!([
                    decimal(p.0, spec.price_decimals),
                    decimal(q.0, spec.qty_decimals)
                ])
            })
            .collect()
    };
    json!({ "bids": side(Side::Buy), "asks": side(Side::Sell) })
}

/// The per-line loop every venue shares: reads `input` line by line, rejects lines that are
/// too long or not UTF-8, hands the frame of every other line (unwrapped from an `engine record`
/// line) to `decode` with the line's number, and writes each result — `decode`'s object, or a
/// rejection with its error text — counting them in `summary`.
fn replay_lines(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    summary: &mut ReplaySummary,
    mut decode: impl FnMut(&mut Vec<u8>, u64, &mut ReplaySummary) -> Result<Value, String>,
) -> io::Result<()> {
    let mut line = Vec::with_capacity(4096);
    let mut too_long = false;
    while read_line(input, &mut line, &mut too_long)? {
        summary.lines += 1;
        let n = summary.lines;
        let result = if too_long {
            Err(format!("line longer than {MAX_LINE} bytes"))
        } else if let Err(e) = std::str::from_utf8(&line) {
            Err(format!("invalid UTF-8 at byte {}", e.valid_up_to()))
        } else {
            let frame = crate::record::unwrap_recorded(&line);
            if frame.len() != line.len() {
                let start = frame.as_ptr() as usize - line.as_ptr() as usize;
                let end = start + frame.len();
                line.truncate(end);
                line.drain(..start);
            }
            decode(&mut line, n, summary)
        };
        let record = match result {
            Ok(v) => {
                summary.ok += 1;
                v
            }
            Err(error) => {
                summary.rejected += 1;
                json!({ "line": n, "ok": false, "error": error })
            }
        };
        writeln!(out, "{record}")?;
    }
    Ok(())
}

/// Writes the closing summary line with `book` (symbol → [`book_levels`]).
fn write_summary(
    out: &mut dyn Write,
    summary: &ReplaySummary,
    book: serde_json::Map<String, Value>,
) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        json!({ "summary": {
            "lines": summary.lines, "ok": summary.ok, "rejected": summary.rejected,
            "gaps": summary.gaps, "book": book,
        }})
    )
}

/// Replays `venue`'s messages from `input`, writing results to `out`; `snapshots` are Binance
/// REST depth snapshots (the other venues send theirs in the stream).
///
/// # Errors
///
/// When `input` cannot be read or `out` cannot be written, or `snapshots` are given for a venue
/// other than Binance.
pub fn replay(
    venue: ReplayVenue,
    input: &mut dyn BufRead,
    snapshots: Option<&mut dyn BufRead>,
    out: &mut dyn Write,
) -> io::Result<ReplaySummary> {
    match (venue, snapshots) {
        (ReplayVenue::Binance, snapshots) => replay_binance(input, snapshots, out),
        (ReplayVenue::Kraken | ReplayVenue::Coinbase, Some(_)) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--snapshot is for binance: kraken and coinbase send their snapshots in the stream",
        )),
        (ReplayVenue::Kraken, None) => replay_kraken(input, out),
        (ReplayVenue::Coinbase, None) => replay_coinbase(input, out),
    }
}

/// Replays Binance messages from `input`, writing results to `out`.
///
/// # Errors
///
/// Only when `input` cannot be read or `out` cannot be written.
pub fn replay_binance(
    input: &mut dyn BufRead,
    snapshots: Option<&mut dyn BufRead>,
    out: &mut dyn Write,
) -> io::Result<ReplaySummary> {
    let mut decoder = BinanceDecoder::any_symbol(DEFAULT_DECIMALS, DEFAULT_DECIMALS);
    let mut orders = OrderEntryDecoder::for_recordings(DEFAULT_DECIMALS);
    let mut copy = Vec::with_capacity(4096);
    let mut snapshots = Snapshots {
        source: snapshots,
        line: Vec::new(),
    };
    let mut books: BTreeMap<u16, DepthSync> = BTreeMap::new();
    let mut first_snapshot_pending = snapshots.source.is_some();
    let mut summary = ReplaySummary::default();
    replay_lines(input, out, &mut summary, |line, n, summary| {
        copy.clear();
        copy.extend_from_slice(line);
        match decoder.decode(line, 0) {
            Err(DecodeError::UnknownKind) => order_entry(&mut orders, &mut copy, n),
            Err(e) => Err(e.to_string()),
            Ok(message) => {
                let mut result = json!({ "line": n, "ok": true, "event": message.kind() });
                if let BinanceMessage::DepthUpdate(d) = message {
                    let sync = books
                        .entry(d.instrument.0)
                        .or_insert_with(|| DepthSync::new(d.instrument, BOOK_CAPACITY));
                    let outcome = if first_snapshot_pending {
                        // The snapshot decode reuses the level buffers: keep this diff's.
                        first_snapshot_pending = false;
                        let (bids, asks) = (decoder.bids().to_vec(), decoder.asks().to_vec());
                        if let Err(e) = snapshots.apply_next(&mut decoder, sync, d.instrument) {
                            result["snapshot_error"] = json!(e);
                        }
                        sync.on_diff(d.first_update_id, d.last_update_id, &bids, &asks)
                    } else {
                        sync.on_diff(
                            d.first_update_id,
                            d.last_update_id,
                            decoder.bids(),
                            decoder.asks(),
                        )
                    };
                    if outcome == DiffOutcome::Gap {
                        summary.gaps += 1;
                        result["gap"] = json!(true);
                        // Resynchronise as live would: the next snapshot, until one takes.
                        loop {
                            match snapshots.apply_next(&mut decoder, sync, d.instrument) {
                                Ok(SnapshotOutcome::TooOld) => continue,
                                Ok(_) => break,
                                Err(e) => {
                                    result["snapshot_error"] = json!(e);
                                    break;
                                }
                            }
                        }
                    }
                }
                Ok(result)
            }
        }
    })?;
    let mut book = serde_json::Map::new();
    for (id, sync) in &books {
        if let Some(spec) = decoder.symbols().iter().find(|s| s.instrument.0 == *id) {
            book.insert(spec.symbol.clone(), book_levels(sync.book(), spec));
        }
    }
    write_summary(out, &summary, book)?;
    Ok(summary)
}

/// Replays Kraken WebSocket v2 messages from `input`, writing results to `out`.
///
/// # Errors
///
/// Only when `input` cannot be read or `out` cannot be written.
pub fn replay_kraken(input: &mut dyn BufRead, out: &mut dyn Write) -> io::Result<ReplaySummary> {
    let mut decoder = KrakenDecoder::any_symbol();
    let mut books: BTreeMap<u16, KrakenBook> = BTreeMap::new();
    // Depth of each pair's book subscription, from its acknowledgement.
    let mut depths: BTreeMap<String, usize> = BTreeMap::new();
    let mut summary = ReplaySummary::default();
    replay_lines(input, out, &mut summary, |frame, n, summary| {
        let message = decoder.decode(frame).map_err(|e| e.to_string())?;
        let mut result = json!({ "line": n, "ok": true, "event": message.kind() });
        match message {
            KrakenMessage::Book(m) => {
                let depth = decoder
                    .symbols()
                    .iter()
                    .find(|s| s.instrument == m.instrument)
                    .and_then(|s| depths.get(&s.symbol).copied())
                    .unwrap_or(tickwire_feed::kraken::DEFAULT_DEPTH);
                let book = books
                    .entry(m.instrument.0)
                    .or_insert_with(|| KrakenBook::new(m.instrument, depth));
                if m.kind == BookKind::Snapshot && book.depth() != depth {
                    *book = KrakenBook::new(m.instrument, depth);
                }
                let check = match book.apply(&m, decoder.bids(), decoder.asks()) {
                    BookCheck::Match => "ok",
                    BookCheck::Mismatch { .. } => {
                        summary.gaps += 1;
                        "mismatch"
                    }
                    BookCheck::Unsynced => "unsynced",
                };
                result["checksum"] = json!(check);
            }
            KrakenMessage::UpdateBeforeSnapshot => result["checksum"] = json!("unsynced"),
            KrakenMessage::Response(r) => {
                if let Some(depth) = r.book_depth.filter(|_| r.success) {
                    depths.insert(decoder.response_symbol().to_string(), depth);
                }
            }
            KrakenMessage::Heartbeat | KrakenMessage::Status => {}
        }
        Ok(result)
    })?;
    let mut book = serde_json::Map::new();
    for (id, kraken) in &books {
        if let Some(spec) = decoder.symbols().iter().find(|s| s.instrument.0 == *id) {
            book.insert(spec.symbol.clone(), book_levels(kraken.book(), spec));
        }
    }
    write_summary(out, &summary, book)?;
    Ok(summary)
}

/// Replays Coinbase Advanced Trade messages from `input`, writing results to `out`.
///
/// # Errors
///
/// Only when `input` cannot be read or `out` cannot be written.
pub fn replay_coinbase(input: &mut dyn BufRead, out: &mut dyn Write) -> io::Result<ReplaySummary> {
    let mut decoder = CoinbaseDecoder::any_symbol(DEFAULT_DECIMALS, DEFAULT_DECIMALS);
    // A snapshot is a product's whole book: give each book room for the largest one.
    let mut books = CoinbaseBooks::new(coinbase::MAX_UPDATES);
    let mut summary = ReplaySummary::default();
    replay_lines(input, out, &mut summary, |frame, n, summary| {
        let message = decoder.decode(frame).map_err(|e| e.to_string())?;
        let outcome = books.on_message(&message, &decoder);
        let mut result = json!({ "line": n, "ok": true, "event": message.kind() });
        if outcome.gap.is_some() || outcome.overflowed > 0 {
            summary.gaps += 1;
            result["gap"] = json!(true);
        }
        Ok(result)
    })?;
    let mut book = serde_json::Map::new();
    for spec in decoder.symbols() {
        if let Some(b) = books.book(spec.instrument) {
            book.insert(spec.symbol.clone(), book_levels(b, spec));
        }
    }
    write_summary(out, &summary, book)?;
    Ok(summary)
}
