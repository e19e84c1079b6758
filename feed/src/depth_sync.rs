//! Keeping a local order book in sync with a venue's depth-diff stream and REST snapshots, by
//! the procedure the venue documents (Binance spot "How to manage a local order book
//! correctly"):
//!
//! 1. Until a snapshot arrives, diffs are buffered.
//! 2. A snapshot older than the first buffered diff (`lastUpdateId < U`) is refused: fetch
//!    another ([`SnapshotOutcome::TooOld`]).
//! 3. Buffered diffs with `u <= lastUpdateId` are dropped; the rest are applied in order.
//! 4. A diff with `u` below the book's update id is stale and ignored; one with `U` above the
//!    book's update id + 1 means diffs were missed: the book is discarded and the sync starts
//!    over ([`DiffOutcome::Gap`]). Otherwise each level is set to its new quantity (0 removes
//!    it) and the book takes the diff's `u`.
//!
//! While synchronised, applying a diff allocates nothing; buffering (only while waiting for a
//! snapshot) copies the diff.

use crate::book::OrderBook;
use crate::fixed::{InstrumentId, Price, Qty, Side};

/// Diffs buffered at most while waiting for a snapshot; older ones are dropped beyond it
/// (a snapshot fetched later will be newer than them anyway).
pub const MAX_PENDING: usize = 10_000;

/// What a diff did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffOutcome {
    /// Buffered while waiting for a snapshot.
    Buffered,
    /// Applied to the book.
    Applied,
    /// Older than the book; ignored.
    Stale,
    /// Diffs were missed (or the book overflowed): the book was discarded; a new snapshot is
    /// needed. The diff is buffered for it.
    Gap,
}

/// What a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// The book is in sync; `replayed` buffered diffs were applied on top of the snapshot.
    Synced {
        /// Buffered diffs applied.
        replayed: usize,
    },
    /// The snapshot is older than the first buffered diff; fetch another.
    TooOld,
    /// A buffered diff did not follow the snapshot; fetch another.
    Gap,
}

#[derive(Debug, Clone)]
struct PendingDiff {
    first: u64,
    last: u64,
    levels: Vec<(Side, Price, Qty)>,
}

/// One instrument's synchronised book.
#[derive(Debug, Clone)]
pub struct DepthSync {
    book: OrderBook,
    synced: bool,
    pending: std::collections::VecDeque<PendingDiff>,
}

impl DepthSync {
    /// A book of `capacity` levels per side, waiting for its first snapshot.
    pub fn new(instrument: InstrumentId, capacity: usize) -> Self {
        Self {
            book: OrderBook::with_capacity(instrument, capacity),
            synced: false,
            pending: std::collections::VecDeque::new(),
        }
    }

    /// The book (empty until synchronised).
    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    /// Whether the book is synchronised.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Diffs waiting for a snapshot.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn buffer(&mut self, first: u64, last: u64, bids: &[(Price, Qty)], asks: &[(Price, Qty)]) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        let levels = bids
            .iter()
            .map(|&(p, q)| (Side::Buy, p, q))
            .chain(asks.iter().map(|&(p, q)| (Side::Sell, p, q)))
            .collect();
        self.pending.push_back(PendingDiff {
            first,
            last,
            levels,
        });
    }

    fn apply_levels(&mut self, levels: impl Iterator<Item = (Side, Price, Qty)>) -> bool {
        for (side, price, qty) in levels {
            if self.book.set(side, price, qty).is_err() {
                return false;
            }
        }
        true
    }

    /// Applies the live rules to one diff of a synchronised book.
    fn apply_synced(
        &mut self,
        first: u64,
        last: u64,
        levels: impl Iterator<Item = (Side, Price, Qty)>,
    ) -> DiffOutcome {
        let at = self.book.update_id();
        if last < at {
            return DiffOutcome::Stale;
        }
        if first > at + 1 || !self.apply_levels(levels) {
            self.synced = false;
            self.book.clear();
            return DiffOutcome::Gap;
        }
        self.book.set_update_id(last);
        DiffOutcome::Applied
    }

    /// Handles a diff (`U` = `first`, `u` = `last`).
    pub fn on_diff(
        &mut self,
        first: u64,
        last: u64,
        bids: &[(Price, Qty)],
        asks: &[(Price, Qty)],
    ) -> DiffOutcome {
        if !self.synced {
            self.buffer(first, last, bids, asks);
            return DiffOutcome::Buffered;
        }
        let levels = bids
            .iter()
            .map(|&(p, q)| (Side::Buy, p, q))
            .chain(asks.iter().map(|&(p, q)| (Side::Sell, p, q)));
        let outcome = self.apply_synced(first, last, levels);
        if outcome == DiffOutcome::Gap {
            self.pending.clear();
            self.buffer(first, last, bids, asks);
        }
        outcome
    }

    /// Handles a snapshot.
    pub fn on_snapshot(
        &mut self,
        last_update_id: u64,
        bids: &[(Price, Qty)],
        asks: &[(Price, Qty)],
    ) -> SnapshotOutcome {
        if self
            .pending
            .front()
            .is_some_and(|d| last_update_id < d.first)
        {
            return SnapshotOutcome::TooOld;
        }
        self.book.clear();
        let levels = bids
            .iter()
            .map(|&(p, q)| (Side::Buy, p, q))
            .chain(asks.iter().map(|&(p, q)| (Side::Sell, p, q)));
        if !self.apply_levels(levels) {
            self.book.clear();
            return SnapshotOutcome::Gap;
        }
        self.book.set_update_id(last_update_id);
        self.synced = true;
        let mut replayed = 0;
        while let Some(diff) = self.pending.pop_front() {
            if diff.last <= last_update_id {
                continue;
            }
            match self.apply_synced(diff.first, diff.last, diff.levels.iter().copied()) {
                DiffOutcome::Gap => {
                    self.pending.push_front(diff);
                    return SnapshotOutcome::Gap;
                }
                _ => replayed += 1,
            }
        }
        SnapshotOutcome::Synced { replayed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(p: i64, q: i64) -> (Price, Qty) {
        (Price(p), Qty(q))
    }

    #[test]
    fn buffered_diffs_are_replayed_on_the_snapshot_by_the_documented_rules() {
        let mut s = DepthSync::new(InstrumentId(0), 64);
        assert_eq!(s.on_diff(98, 100, &[lv(10, 1)], &[]), DiffOutcome::Buffered);
        assert_eq!(
            s.on_diff(101, 103, &[lv(10, 2)], &[lv(12, 5)]),
            DiffOutcome::Buffered
        );
        assert_eq!(
            s.on_snapshot(97, &[lv(9, 1)], &[lv(13, 1)]),
            SnapshotOutcome::TooOld
        );
        assert_eq!(
            s.on_snapshot(101, &[lv(10, 7), lv(9, 1)], &[lv(13, 1)]),
            SnapshotOutcome::Synced { replayed: 1 }
        );
        assert_eq!(
            s.book().best_bid(),
            Some(lv(10, 2)),
            "the diff overlapping the snapshot applied"
        );
        assert_eq!(s.book().best_ask(), Some(lv(12, 5)));
        assert_eq!(s.book().update_id(), 103);
        assert_eq!(s.on_diff(100, 102, &[lv(10, 9)], &[]), DiffOutcome::Stale);
        assert_eq!(s.on_diff(104, 104, &[lv(10, 0)], &[]), DiffOutcome::Applied);
        assert_eq!(s.book().best_bid(), Some(lv(9, 1)));
    }

    #[test]
    fn a_gap_discards_the_book_until_the_next_snapshot() {
        let mut s = DepthSync::new(InstrumentId(0), 64);
        s.on_snapshot(10, &[lv(5, 1)], &[lv(6, 1)]);
        assert_eq!(s.on_diff(11, 12, &[], &[]), DiffOutcome::Applied);
        assert_eq!(s.on_diff(14, 15, &[lv(5, 3)], &[]), DiffOutcome::Gap);
        assert!(!s.is_synced() && s.book().is_empty());
        assert_eq!(s.pending(), 1, "the gap diff waits for the next snapshot");
        assert_eq!(
            s.on_snapshot(14, &[lv(5, 2)], &[lv(6, 1)]),
            SnapshotOutcome::Synced { replayed: 1 }
        );
        assert_eq!(s.book().best_bid(), Some(lv(5, 3)));
    }

    #[test]
    fn a_buffered_diff_after_a_gap_makes_the_snapshot_useless() {
        let mut s = DepthSync::new(InstrumentId(0), 64);
        s.on_diff(20, 21, &[], &[]);
        assert_eq!(
            s.on_snapshot(25, &[lv(5, 1)], &[]),
            SnapshotOutcome::Synced { replayed: 0 }
        );
        let mut t = DepthSync::new(InstrumentId(0), 64);
        t.on_diff(20, 21, &[], &[]);
        t.on_diff(30, 31, &[], &[]);
        assert_eq!(t.on_snapshot(21, &[lv(5, 1)], &[]), SnapshotOutcome::Gap);
    }
}
