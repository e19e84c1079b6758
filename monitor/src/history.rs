//! Fill history from the engine's SQLite journal, paged newest first.
//!
//! The journal is opened read-only for each page (WAL lets a reader run beside the engine's one
//! writer without blocking it) with a short busy timeout, so a locked journal costs a page
//! request an error, never the engine a stall.

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// Largest page.
pub const MAX_LIMIT: u32 = 500;
/// Page size when none is asked for.
pub const DEFAULT_LIMIT: u32 = 50;

/// One journaled fill.
#[derive(Debug, Serialize)]
pub struct JournalFill {
    /// Row id: the paging cursor.
    pub id: i64,
    /// Fill sequence number within its engine run.
    pub seq: i64,
    /// Client order id.
    pub client_id: i64,
    /// Venue trade id.
    pub trade_id: i64,
    /// Venue symbol.
    pub symbol: String,
    /// buy or sell.
    pub side: String,
    /// Price.
    pub price: String,
    /// Quantity.
    pub qty: String,
    /// Whether the order was the maker.
    pub maker: bool,
    /// When, ms since the epoch.
    pub unix_ms: i64,
}

/// A page of fills.
#[derive(Debug, Serialize)]
pub struct Page {
    /// Newest first.
    pub fills: Vec<JournalFill>,
    /// `before` for the next (older) page; `null` when this was the last.
    pub next_before: Option<i64>,
}

/// Reads up to `limit` fills with row id below `before` (all when `None`), newest first.
///
/// # Errors
///
/// The journal could not be opened or read (missing, locked beyond the timeout, not a journal).
pub fn fills(journal: &Path, before: Option<i64>, limit: u32) -> rusqlite::Result<Page> {
    let conn = Connection::open_with_flags(
        journal,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_millis(250))?;
    let mut stmt = conn.prepare(
        "SELECT id, fill_seq, client_id, trade_id, symbol, side, price, qty, maker, unix_ns \
         FROM fills WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        (before.unwrap_or(i64::MAX), i64::from(limit.min(MAX_LIMIT))),
        |row| {
            Ok(JournalFill {
                id: row.get(0)?,
                seq: row.get(1)?,
                client_id: row.get(2)?,
                trade_id: row.get(3)?,
                symbol: row.get(4)?,
                side: row.get(5)?,
                price: row.get(6)?,
                qty: row.get(7)?,
                maker: row.get::<_, i64>(8)? != 0,
                unix_ms: row.get::<_, i64>(9)? / 1_000_000,
            })
        },
    )?;
    let fills = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let next_before = if fills.len() == limit.min(MAX_LIMIT) as usize {
        fills.last().map(|f| f.id)
    } else {
        None
    };
    Ok(Page { fills, next_before })
}
