//! The journal: orders, order updates, fills, PnL snapshots and engine events in SQLite (WAL),
//! written by the persistence thread alone.
//!
//! The strategy thread sends `Copy` [`JournalRecord`]s over an SPSC ring ([`JournalSender`]);
//! if the ring is full it keeps them in a pre-allocated overflow queue and retries, so a record
//! is never dropped. The persistence thread ([`JournalWriter`]) batches records into one
//! transaction; if a write fails (busy, locked, disk full, I/O error) it keeps every record in
//! memory, raises the storage alarm (the strategy goes reduce-only) and retries with backoff
//! until the write succeeds. At shutdown, records that still cannot be written are appended to
//! a text file beside the journal rather than lost.

use crate::config::Instrument;
use rusqlite::{params, Connection, OpenFlags};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tickwire_feed::Side;
use tickwire_shm::layout::StorageStatus;
use tickwire_shm::region::{unix_now_ns, StorageSection};

/// What changed about an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// Accepted by the venue.
    Accepted,
    /// Rejected (code in `detail`).
    Rejected,
    /// Cancelled.
    Canceled,
    /// Cancel refused.
    CancelRejected,
    /// Refused by pre-trade risk before it was sent (reason index in `detail`).
    RiskRejected,
}

impl OrderEvent {
    fn name(self) -> &'static str {
        match self {
            OrderEvent::Accepted => "accepted",
            OrderEvent::Rejected => "rejected",
            OrderEvent::Canceled => "canceled",
            OrderEvent::CancelRejected => "cancel_rejected",
            OrderEvent::RiskRejected => "risk_rejected",
        }
    }
}

/// Engine-level events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineEvent {
    /// The engine started (detail: pid).
    Started,
    /// The engine state changed (detail: state code, reason code).
    State,
    /// An operator command arrived (detail: command code, ack code).
    Control,
    /// A wall-clock jump (detail: jump ns).
    ClockJump,
    /// The venue's position was adopted (detail: venue position, journal position).
    Reconciled,
    /// Open orders of earlier runs were cancelled at reconciliation (detail: count, instrument).
    ForeignOrdersCancelled,
    /// Heap allocations on the hot path (detail: count).
    HotPathAllocation,
    /// An order request went unanswered past `risk.order_ack_timeout_ms`; the order is unknown
    /// and a cancel for it was sent (detail: client order id, code of the order state that timed
    /// out — `pending_new`, `pending_cancel`, or `unknown` when its cancel went unanswered).
    AckTimeout,
    /// The engine stopped cleanly.
    Stopped,
}

impl EngineEvent {
    fn name(self) -> &'static str {
        match self {
            EngineEvent::Started => "started",
            EngineEvent::State => "state",
            EngineEvent::Control => "control",
            EngineEvent::ClockJump => "clock_jump",
            EngineEvent::Reconciled => "reconciled",
            EngineEvent::ForeignOrdersCancelled => "foreign_orders_cancelled",
            EngineEvent::HotPathAllocation => "hot_path_allocation",
            EngineEvent::AckTimeout => "ack_timeout",
            EngineEvent::Stopped => "stopped",
        }
    }
}

/// One journal record; `Copy`, fixed size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalRecord {
    /// An order was sent.
    Order {
        /// Client order id.
        client_id: u64,
        /// Instrument index.
        instrument: u16,
        /// Side.
        side: Side,
        /// Price units.
        price: i64,
        /// Lots.
        qty: i64,
        /// Post-only.
        post_only: bool,
        /// Wall-clock ns.
        unix_ns: u64,
    },
    /// An order changed.
    OrderUpdate {
        /// Client order id.
        client_id: u64,
        /// What happened.
        event: OrderEvent,
        /// Reason code, if any.
        detail: i64,
        /// Wall-clock ns.
        unix_ns: u64,
    },
    /// A fill.
    Fill {
        /// Fill sequence number since start.
        fill_seq: u64,
        /// Client order id.
        client_id: u64,
        /// Venue trade id.
        trade_id: u64,
        /// Instrument index.
        instrument: u16,
        /// Side.
        side: Side,
        /// Price units.
        price: i64,
        /// Lots.
        qty: i64,
        /// Maker.
        maker: bool,
        /// Wall-clock ns.
        unix_ns: u64,
    },
    /// A PnL snapshot.
    Pnl {
        /// Instrument index.
        instrument: u16,
        /// Lots.
        position: i64,
        /// Price units.
        avg_price: i64,
        /// PnL units.
        realized: i64,
        /// PnL units.
        unrealized: i64,
        /// Wall-clock ns.
        unix_ns: u64,
    },
    /// An engine event.
    Event {
        /// What.
        event: EngineEvent,
        /// First detail.
        a: i64,
        /// Second detail.
        b: i64,
        /// Wall-clock ns.
        unix_ns: u64,
    },
}

/// Ring capacity strategy → persistence.
pub const JOURNAL_RING_CAPACITY: usize = 16_384;
/// Capacity of the sender's pre-allocated overflow queue.
pub const JOURNAL_OVERFLOW_CAPACITY: usize = 65_536;

/// The strategy thread's end of the journal ring.
#[derive(Debug)]
pub struct JournalSender {
    ring: rtrb::Producer<JournalRecord>,
    /// Records that found the ring full, oldest first; capacity reserved up front.
    overflow: VecDeque<JournalRecord>,
    /// Records that found the ring full (for the region counter).
    ring_full: u64,
}

impl JournalSender {
    /// Sends a record, keeping it in the overflow queue if the ring is full. Returns `false`
    /// only if even the overflow queue is full (the caller must stop creating records: the
    /// record is still kept, at the cost of an allocation).
    #[inline]
    pub fn send(&mut self, record: JournalRecord) -> bool {
        if self.overflow.is_empty() {
            match self.ring.push(record) {
                Ok(()) => return true,
                Err(rtrb::PushError::Full(r)) => {
                    self.ring_full += 1;
                    self.overflow.push_back(r);
                    return true;
                }
            }
        }
        self.ring_full += 1;
        let room = self.overflow.len() < self.overflow.capacity();
        self.overflow.push_back(record);
        room
    }

    /// Moves overflowed records onto the ring while it has room; returns how many moved.
    pub fn flush_overflow(&mut self) -> usize {
        let mut moved = 0;
        while let Some(&r) = self.overflow.front() {
            if self.ring.push(r).is_err() {
                break;
            }
            self.overflow.pop_front();
            moved += 1;
        }
        moved
    }

    /// Records waiting in the overflow queue.
    pub fn backlog(&self) -> usize {
        self.overflow.len()
    }

    /// Times a record found the ring full.
    pub fn ring_full(&self) -> u64 {
        self.ring_full
    }
}

/// Creates the ring between the strategy and persistence threads.
pub fn journal_ring() -> (JournalSender, rtrb::Consumer<JournalRecord>) {
    let (ring, consumer) = crate::ring::ring(JOURNAL_RING_CAPACITY);
    (
        JournalSender {
            ring,
            overflow: VecDeque::with_capacity(JOURNAL_OVERFLOW_CAPACITY),
            ring_full: 0,
        },
        consumer,
    )
}

/// Formats a fixed-point value with exactly `decimals` fractional digits.
pub fn format_fixed(value: i64, decimals: u32) -> String {
    let mut out = Vec::with_capacity(24);
    tickwire_feed::write_decimal(&mut out, value, decimals, false);
    String::from_utf8_lossy(&out).into_owned()
}

/// Why the journal could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("journal {path}: {source}")]
pub struct JournalError {
    path: PathBuf,
    source: rusqlite::Error,
}

/// The journal's schema and settings. The writer only appends (no secondary index), so a
/// 512 KiB page cache holds the right-hand edge of every table; SQLite's default (2 MiB) would
/// fill, over the first hours, with pages never read again.
const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA cache_size = -512;
CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL, qty TEXT NOT NULL, post_only INTEGER NOT NULL, unix_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS order_updates (id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, event TEXT NOT NULL, detail INTEGER NOT NULL, unix_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fills (id INTEGER PRIMARY KEY, fill_seq INTEGER NOT NULL, client_id INTEGER NOT NULL, trade_id INTEGER NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL, qty TEXT NOT NULL, maker INTEGER NOT NULL, unix_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pnl (id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, position TEXT NOT NULL, avg_price TEXT NOT NULL, realized TEXT NOT NULL, unrealized TEXT NOT NULL, unix_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, event TEXT NOT NULL, a INTEGER NOT NULL, b INTEGER NOT NULL, unix_ns INTEGER NOT NULL);
";

/// Largest batch written in one transaction.
const BATCH: usize = 4096;
const MIN_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(2);

/// The persistence thread's state.
#[derive(Debug)]
pub struct JournalWriter {
    conn: Connection,
    path: PathBuf,
    ring: rtrb::Consumer<JournalRecord>,
    pending: VecDeque<JournalRecord>,
    instruments: Vec<(String, u32, u32)>,
    storage: StorageSection,
    alarm: Arc<AtomicBool>,
    status: StorageStatus,
    retry_at: Option<Instant>,
    retry_delay: Duration,
}

impl JournalWriter {
    /// Opens (creating if needed) the journal at `path`.
    ///
    /// # Errors
    ///
    /// [`JournalError`] when the database cannot be opened or its schema created.
    pub fn open(
        path: &Path,
        ring: rtrb::Consumer<JournalRecord>,
        instruments: &[Instrument],
        storage: StorageSection,
        alarm: Arc<AtomicBool>,
    ) -> Result<Self, JournalError> {
        let err = |source| JournalError {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
        .map_err(err)?;
        conn.busy_timeout(Duration::from_millis(100)).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            ring,
            pending: VecDeque::with_capacity(JOURNAL_RING_CAPACITY),
            instruments: instruments
                .iter()
                .map(|i| (i.symbol.clone(), i.price_decimals, i.qty_decimals))
                .collect(),
            storage,
            alarm,
            status: StorageStatus::default(),
            retry_at: None,
            retry_delay: MIN_RETRY,
        })
    }

    /// `source`, as an error of this journal.
    fn error(&self, source: rusqlite::Error) -> JournalError {
        JournalError {
            path: self.path.clone(),
            source,
        }
    }

    /// The highest trade id among the journal's fills, per configured instrument (0: none):
    /// where a back-fill of the venue's fills resumes.
    ///
    /// # Errors
    ///
    /// When the journal cannot be read.
    pub fn last_trades(&self) -> Result<Vec<u64>, JournalError> {
        let err = |source| self.error(source);
        let mut stmt = self
            .conn
            .prepare("SELECT coalesce(max(trade_id), 0) FROM fills WHERE symbol = ?1")
            .map_err(err)?;
        self.instruments
            .iter()
            .map(|(symbol, ..)| {
                let last: i64 = stmt.query_row([symbol], |row| row.get(0)).map_err(err)?;
                Ok(u64::try_from(last).unwrap_or(0))
            })
            .collect()
    }

    /// Unix ms at which the first run recorded in the journal started; `None` for a journal no
    /// run has started in yet.
    ///
    /// # Errors
    ///
    /// When the journal cannot be read.
    pub fn first_start_ms(&self) -> Result<Option<u64>, JournalError> {
        let first: Option<i64> = self
            .conn
            .query_row(
                "SELECT min(unix_ns) FROM events WHERE event = 'started'",
                [],
                |row| row.get(0),
            )
            .map_err(|source| self.error(source))?;
        Ok(first.and_then(|ns| u64::try_from(ns / 1_000_000).ok()))
    }

    /// The position the journal's fills add up to, per configured instrument, lots.
    ///
    /// # Errors
    ///
    /// When the journal cannot be read or holds a quantity that does not convert.
    pub fn positions(&self) -> Result<Vec<i64>, JournalError> {
        let err = |source| self.error(source);
        let mut stmt = self
            .conn
            .prepare("SELECT side, qty FROM fills WHERE symbol = ?1")
            .map_err(err)?;
        let mut out = Vec::with_capacity(self.instruments.len());
        for (symbol, _, qty_decimals) in &self.instruments {
            let mut position = 0i64;
            let mut rows = stmt.query([symbol]).map_err(err)?;
            while let Some(row) = rows.next().map_err(err)? {
                let side: String = row.get(0).map_err(err)?;
                let qty: String = row.get(1).map_err(err)?;
                let q =
                    tickwire_feed::parse_decimal(qty.as_bytes(), *qty_decimals).map_err(|e| {
                        err(rusqlite::Error::InvalidColumnType(
                            1,
                            format!("qty {qty:?}: {e}"),
                            rusqlite::types::Type::Text,
                        ))
                    })?;
                position += if side == "buy" { q } else { -q };
            }
            out.push(position);
        }
        Ok(out)
    }

    /// Takes what the ring holds and writes when due; returns records written.
    pub fn do_work(&mut self) -> usize {
        while let Ok(r) = self.ring.pop() {
            self.pending.push_back(r);
        }
        if self.pending.is_empty() || self.retry_at.is_some_and(|t| Instant::now() < t) {
            return 0;
        }
        let n = self.pending.len().min(BATCH);
        match self.write_batch(n) {
            Ok(()) => {
                self.pending.drain(..n);
                self.status.written_records += n as u64;
                self.storage
                    .counter(tickwire_shm::layout::CounterId::JournalRecords)
                    .add(n as u64);
                if self.status.alarm == 1 {
                    self.status.alarm = 0;
                    self.status.alarm_since_unix_ns = 0;
                    self.alarm.store(false, Ordering::Release);
                }
                self.retry_at = None;
                self.retry_delay = MIN_RETRY;
                self.publish();
                n
            }
            Err(e) => {
                self.status.last_error_code = match &e {
                    rusqlite::Error::SqliteFailure(f, _) => f.extended_code as u32,
                    _ => 1,
                };
                if self.status.alarm == 0 {
                    self.status.alarm = 1;
                    self.status.alarm_since_unix_ns = unix_now_ns();
                    self.alarm.store(true, Ordering::Release);
                    eprintln!(
                        "journal {}: write failed, {} records held in memory, retrying: {e}",
                        self.path.display(),
                        self.pending.len()
                    );
                }
                self.storage
                    .counter(tickwire_shm::layout::CounterId::JournalRetries)
                    .add(1);
                self.retry_at = Some(Instant::now() + self.retry_delay);
                self.retry_delay = (self.retry_delay * 2).min(MAX_RETRY);
                self.publish();
                0
            }
        }
    }

    fn publish(&self) {
        self.storage.storage().publish(&StorageStatus {
            pending_records: self.pending.len() as u64,
            ..self.status
        });
    }

    /// Whether the sender is gone and everything was written.
    pub fn finished(&self) -> bool {
        self.ring.is_abandoned() && self.ring.is_empty() && self.pending.is_empty()
    }

    /// Whether the sender is gone (shutdown) with records still unwritten.
    pub fn abandoned_with_pending(&self) -> bool {
        self.ring.is_abandoned() && self.ring.is_empty() && !self.pending.is_empty()
    }

    /// Records held in memory.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn write_batch(&mut self, n: usize) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        for record in self.pending.iter().take(n) {
            match *record {
                JournalRecord::Order {
                    client_id,
                    instrument,
                    side,
                    price,
                    qty,
                    post_only,
                    unix_ns,
                } => {
                    let (sym, pd, qd) = symbol(&self.instruments, instrument);
                    tx.prepare_cached("INSERT INTO orders (client_id, symbol, side, price, qty, post_only, unix_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                        .execute(params![client_id as i64, sym, side_name(side), format_fixed(price, pd), format_fixed(qty, qd), post_only, unix_ns as i64])?;
                }
                JournalRecord::OrderUpdate {
                    client_id,
                    event,
                    detail,
                    unix_ns,
                } => {
                    tx.prepare_cached("INSERT INTO order_updates (client_id, event, detail, unix_ns) VALUES (?1, ?2, ?3, ?4)")?
                        .execute(params![client_id as i64, event.name(), detail, unix_ns as i64])?;
                }
                JournalRecord::Fill {
                    fill_seq,
                    client_id,
                    trade_id,
                    instrument,
                    side,
                    price,
                    qty,
                    maker,
                    unix_ns,
                } => {
                    let (sym, pd, qd) = symbol(&self.instruments, instrument);
                    tx.prepare_cached("INSERT INTO fills (fill_seq, client_id, trade_id, symbol, side, price, qty, maker, unix_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?
                        .execute(params![fill_seq as i64, client_id as i64, trade_id as i64, sym, side_name(side), format_fixed(price, pd), format_fixed(qty, qd), maker, unix_ns as i64])?;
                }
                JournalRecord::Pnl {
                    instrument,
                    position,
                    avg_price,
                    realized,
                    unrealized,
                    unix_ns,
                } => {
                    let (sym, pd, qd) = symbol(&self.instruments, instrument);
                    tx.prepare_cached("INSERT INTO pnl (symbol, position, avg_price, realized, unrealized, unix_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                        .execute(params![sym, format_fixed(position, qd), format_fixed(avg_price, pd), format_fixed(realized, pd + qd), format_fixed(unrealized, pd + qd), unix_ns as i64])?;
                }
                JournalRecord::Event {
                    event,
                    a,
                    b,
                    unix_ns,
                } => {
                    tx.prepare_cached(
                        "INSERT INTO events (event, a, b, unix_ns) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![event.name(), a, b, unix_ns as i64])?;
                }
            }
        }
        tx.commit()
    }

    /// Appends the records that could not be written to `<journal>.unwritten` as text, so a
    /// shutdown with failing storage loses nothing; returns the file used.
    pub fn spill(&mut self) -> std::io::Result<PathBuf> {
        use std::io::Write;
        let mut path = self.path.as_os_str().to_owned();
        path.push(".unwritten");
        let path = PathBuf::from(path);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        for r in self.pending.drain(..) {
            writeln!(file, "{r:?}")?;
        }
        file.sync_all()?;
        Ok(path)
    }
}

/// Symbol and decimals of an instrument index.
fn symbol(instruments: &[(String, u32, u32)], instrument: u16) -> (&str, u32, u32) {
    instruments
        .get(usize::from(instrument))
        .map_or(("?", 0, 0), |(s, p, q)| (s.as_str(), *p, *q))
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_formatting() {
        assert_eq!(format_fixed(5_000_012, 2), "50000.12");
        assert_eq!(format_fixed(-5, 3), "-0.005");
        assert_eq!(format_fixed(7, 0), "7");
        assert_eq!(format_fixed(i64::MIN, 2), "-92233720368547758.08");
    }

    #[test]
    fn sender_keeps_records_when_the_ring_is_full() {
        let (mut tx, mut rx) = journal_ring();
        let rec = |i| JournalRecord::Event {
            event: EngineEvent::State,
            a: i,
            b: 0,
            unix_ns: 0,
        };
        for i in 0..(JOURNAL_RING_CAPACITY as i64 + 10) {
            assert!(tx.send(rec(i)));
        }
        assert_eq!((tx.backlog(), tx.ring_full()), (10, 10));
        for _ in 0..5 {
            rx.pop().expect("record");
        }
        assert_eq!(tx.flush_overflow(), 5);
        let mut seen = 5;
        while let Ok(JournalRecord::Event { a, .. }) = rx.pop() {
            assert_eq!(a, seen, "order preserved");
            seen += 1;
        }
        assert_eq!(seen, JOURNAL_RING_CAPACITY as i64 + 5);
    }
}
