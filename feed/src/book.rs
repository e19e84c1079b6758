//! A price-level order book per instrument: fixed-point levels in two sorted arrays, best
//! price at the end of each so the levels that change most often move the least memory.
//!
//! Capacity is fixed at construction ([`OrderBook::with_capacity`]); after that no operation
//! allocates. A level that would exceed the capacity is refused with [`BookFull`] — the caller
//! resynchronises rather than silently dropping depth.

use crate::event::BookTop;
use crate::fixed::{InstrumentId, Price, Qty, Side};

/// A level could not be added: the side already holds `capacity` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order book side full ({capacity} levels)")]
pub struct BookFull {
    /// The side's capacity.
    pub capacity: usize,
}

/// Levels next to the best price that a search scans before it bisects the rest.
const NEAR_LEVELS: usize = 16;

/// One side: levels sorted so the best price is last.
#[derive(Debug, Clone)]
struct Ladder {
    /// `(price, qty)`, qty > 0; bids ascending, asks descending (best last).
    levels: Vec<(i64, i64)>,
    capacity: usize,
    /// `true` for bids.
    bids: bool,
}

impl Ladder {
    fn new(capacity: usize, bids: bool) -> Self {
        Self {
            levels: Vec::with_capacity(capacity),
            capacity,
            bids,
        }
    }

    /// Position of `price` in the sort order (best last), as `binary_search` gives it.
    ///
    /// Most changes are within a few levels of the best price, so the last [`NEAR_LEVELS`] are
    /// scanned from the best down first; a price deeper than that is binary-searched in the rest.
    fn search(&self, price: i64) -> Result<usize, usize> {
        // `p` sorts after `price` (is better than it).
        let better = |p: i64| if self.bids { p > price } else { p < price };
        let len = self.levels.len();
        let near = len.saturating_sub(NEAR_LEVELS);
        for i in (near..len).rev() {
            let p = self.levels[i].0;
            if p == price {
                return Ok(i);
            }
            if !better(p) {
                return Err(i + 1);
            }
        }
        let deeper = &self.levels[..near];
        if self.bids {
            deeper.binary_search_by(|(p, _)| p.cmp(&price))
        } else {
            deeper.binary_search_by(|(p, _)| price.cmp(p))
        }
    }

    fn set(&mut self, price: i64, qty: i64) -> Result<(), BookFull> {
        match self.search(price) {
            Ok(i) if qty == 0 => {
                self.levels.remove(i);
            }
            Ok(i) => self.levels[i].1 = qty,
            Err(_) if qty == 0 => {}
            Err(i) => {
                if self.levels.len() >= self.capacity {
                    return Err(BookFull {
                        capacity: self.capacity,
                    });
                }
                self.levels.insert(i, (price, qty));
            }
        }
        Ok(())
    }

    fn best(&self) -> Option<(i64, i64)> {
        self.levels.last().copied()
    }

    fn top(&self, n: usize) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.levels.iter().rev().take(n).copied()
    }
}

/// The book of one instrument.
#[derive(Debug, Clone)]
pub struct OrderBook {
    instrument: InstrumentId,
    bids: Ladder,
    asks: Ladder,
    /// The venue's update id of the last applied change.
    update_id: u64,
}

impl OrderBook {
    /// An empty book holding at most `capacity` levels per side.
    pub fn with_capacity(instrument: InstrumentId, capacity: usize) -> Self {
        Self {
            instrument,
            bids: Ladder::new(capacity, true),
            asks: Ladder::new(capacity, false),
            update_id: 0,
        }
    }

    /// Empties the book (keeps its memory).
    pub fn clear(&mut self) {
        self.bids.levels.clear();
        self.asks.levels.clear();
        self.update_id = 0;
    }

    /// Sets a level's quantity; 0 removes it.
    ///
    /// # Errors
    ///
    /// [`BookFull`] when a new level does not fit; the book is unchanged.
    #[inline]
    pub fn set(&mut self, side: Side, price: Price, qty: Qty) -> Result<(), BookFull> {
        match side {
            Side::Buy => self.bids.set(price.0, qty.0),
            Side::Sell => self.asks.set(price.0, qty.0),
        }
    }

    /// The update id of the last applied change.
    pub fn update_id(&self) -> u64 {
        self.update_id
    }

    /// Records the update id the book is at.
    pub fn set_update_id(&mut self, id: u64) {
        self.update_id = id;
    }

    /// Best bid.
    pub fn best_bid(&self) -> Option<(Price, Qty)> {
        self.bids.best().map(|(p, q)| (Price(p), Qty(q)))
    }

    /// Best ask.
    pub fn best_ask(&self) -> Option<(Price, Qty)> {
        self.asks.best().map(|(p, q)| (Price(p), Qty(q)))
    }

    /// Levels per side now.
    pub fn len(&self) -> (usize, usize) {
        (self.bids.levels.len(), self.asks.levels.len())
    }

    /// Whether both sides are empty.
    pub fn is_empty(&self) -> bool {
        self.bids.levels.is_empty() && self.asks.levels.is_empty()
    }

    /// The best `n` levels of a side, best first.
    pub fn top(&self, side: Side, n: usize) -> impl Iterator<Item = (Price, Qty)> + '_ {
        let ladder = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        ladder.top(n).map(|(p, q)| (Price(p), Qty(q)))
    }

    /// The top of the book with the depth of five levels, if both sides exist.
    pub fn book_top(&self, recv_tsc: u64) -> Option<BookTop> {
        let (bid, bid_qty) = self.best_bid()?;
        let (ask, ask_qty) = self.best_ask()?;
        Some(BookTop {
            instrument: self.instrument,
            bid,
            bid_qty,
            ask,
            ask_qty,
            bid_depth5: Qty(self.bids.top(5).map(|(_, q)| q).sum()),
            ask_depth5: Qty(self.asks.top(5).map(|(_, q)| q).sum()),
            exchange_seq: self.update_id,
            recv_tsc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn levels_sort_best_first_and_zero_removes() {
        let mut b = OrderBook::with_capacity(InstrumentId(0), 8);
        for (p, q) in [(100, 1), (102, 2), (101, 3)] {
            b.set(Side::Buy, Price(p), Qty(q)).expect("room");
            b.set(Side::Sell, Price(p + 10), Qty(q)).expect("room");
        }
        let bids: Vec<_> = b.top(Side::Buy, 5).map(|(p, _)| p.0).collect();
        let asks: Vec<_> = b.top(Side::Sell, 5).map(|(p, _)| p.0).collect();
        assert_eq!((bids, asks), (vec![102, 101, 100], vec![110, 111, 112]));
        b.set(Side::Buy, Price(102), Qty(0)).expect("remove");
        b.set(Side::Buy, Price(999), Qty(0))
            .expect("removing an absent level is a no-op");
        assert_eq!(b.best_bid(), Some((Price(101), Qty(3))));
        let top = b.book_top(0).expect("two-sided");
        assert_eq!((top.bid_depth5, top.ask_depth5), (Qty(4), Qty(6)));
    }

    #[test]
    fn a_full_side_refuses_new_levels_but_updates_existing() {
        let mut b = OrderBook::with_capacity(InstrumentId(0), 2);
        b.set(Side::Sell, Price(1), Qty(1)).expect("room");
        b.set(Side::Sell, Price(2), Qty(1)).expect("room");
        assert_eq!(
            b.set(Side::Sell, Price(3), Qty(1)),
            Err(BookFull { capacity: 2 })
        );
        b.set(Side::Sell, Price(2), Qty(5))
            .expect("update in place");
        assert_eq!(b.len(), (0, 2));
    }

    proptest! {
        /// Random valid diffs applied to the book and to a BTreeMap model agree on every level.
        #[test]
        fn book_matches_a_reference_model(ops in proptest::collection::vec((any::<bool>(), 1i64..60, 0i64..5), 1..400)) {
            let mut book = OrderBook::with_capacity(InstrumentId(0), 100);
            let mut model: [BTreeMap<i64, i64>; 2] = [BTreeMap::new(), BTreeMap::new()];
            for (buy, price, qty) in ops {
                let side = if buy { Side::Buy } else { Side::Sell };
                book.set(side, Price(price), Qty(qty)).expect("capacity above the price range");
                let m = &mut model[usize::from(buy)];
                if qty == 0 { m.remove(&price); } else { m.insert(price, qty); }
            }
            let bids: Vec<(i64, i64)> = book.top(Side::Buy, 1000).map(|(p, q)| (p.0, q.0)).collect();
            let asks: Vec<(i64, i64)> = book.top(Side::Sell, 1000).map(|(p, q)| (p.0, q.0)).collect();
            let model_bids: Vec<(i64, i64)> = model[1].iter().rev().map(|(p, q)| (*p, *q)).collect();
            let model_asks: Vec<(i64, i64)> = model[0].iter().map(|(p, q)| (*p, *q)).collect();
            prop_assert_eq!(bids, model_bids);
            prop_assert_eq!(asks, model_asks);
        }
    }
}
