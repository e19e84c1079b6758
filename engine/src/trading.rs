//! The strategy thread's own books: its open orders and its positions. Fixed capacity, no
//! allocation, owned by the strategy thread alone.
//!
//! An order stays in the [`OrderTable`] until the venue says it is done (filled, cancelled or
//! rejected) or that it does not hold it; the transitions between its states, including the
//! ack timeouts that make an order [`OrderState::Unknown`], are the trading context's (see the
//! `strategy` module). Every order in the table, unknown ones included, counts as open
//! quantity for risk.

use tickwire_feed::{InstrumentId, Price, Qty, Side};
use tickwire_shm::layout::{OrderState, MAX_INSTRUMENTS, MAX_OPEN_ORDERS};

/// An order the strategy sent and has not seen finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnOrder {
    /// Client order id.
    pub client_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Quantity.
    pub qty: Qty,
    /// Filled so far.
    pub filled: Qty,
    /// State.
    pub state: OrderState,
    /// Post-only.
    pub post_only: bool,
    /// Wall-clock ns when sent.
    pub created_unix_ns: u64,
    /// Whether a cancel request went out (false while one is owed: the ring was full, or the
    /// cancel probing an unknown order was refused).
    pub cancel_sent: bool,
    /// Latency-clock ticks when the request now awaited went out: the new order while
    /// `PendingNew`, the cancel while `PendingCancel` (once `cancel_sent`) or `Unknown`. The
    /// ack timeout runs from here.
    pub sent_ticks: u64,
    /// Latency-clock ticks when the order became `Unknown` (meaningful in that state only).
    pub unknown_since_ticks: u64,
}

impl OwnOrder {
    /// Quantity still open.
    #[inline]
    pub fn leaves(&self) -> i64 {
        self.qty.0 - self.filled.0
    }
}

/// Open orders, at most [`MAX_OPEN_ORDERS`]; slots are reused, never allocated.
#[derive(Debug)]
pub struct OrderTable {
    slots: [Option<OwnOrder>; MAX_OPEN_ORDERS],
    /// Number of `Some` slots.
    len: usize,
}

impl Default for OrderTable {
    fn default() -> Self {
        Self {
            slots: [None; MAX_OPEN_ORDERS],
            len: 0,
        }
    }
}

impl OrderTable {
    /// Adds an order; `false` if the table is full.
    pub fn insert(&mut self, order: OwnOrder) -> bool {
        match self.slots.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some(order);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The order with `client_id`.
    pub fn get_mut(&mut self, client_id: u64) -> Option<&mut OwnOrder> {
        self.slots
            .iter_mut()
            .flatten()
            .find(|o| o.client_id == client_id)
    }

    /// Removes and returns the order with `client_id`.
    pub fn remove(&mut self, client_id: u64) -> Option<OwnOrder> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.is_some_and(|o| o.client_id == client_id))?;
        self.len -= 1;
        slot.take()
    }

    /// Open orders now.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The open orders.
    pub fn iter(&self) -> impl Iterator<Item = &OwnOrder> {
        self.slots.iter().flatten()
    }

    /// The open orders, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut OwnOrder> {
        self.slots.iter_mut().flatten()
    }

    /// Quantity still open on one side of an instrument, counting every order in the table —
    /// pending, live, being cancelled or unknown — as the worst case.
    pub fn open_qty(&self, instrument: InstrumentId, side: Side) -> i64 {
        self.iter()
            .filter(|o| o.instrument == instrument && o.side == side)
            .map(OwnOrder::leaves)
            .sum()
    }
}

/// Position of one instrument, with a cost basis kept exactly in `i128`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PositionState {
    /// Signed position, lots.
    pub qty: i64,
    /// Signed cost of the open position: Σ price × lots, negative when short.
    open_cost: i128,
    /// Realized PnL, units of `10^-(price_decimals + qty_decimals)`.
    pub realized: i128,
    /// Traded volume, lots.
    pub volume: i64,
    /// Fills applied.
    pub fills: u64,
}

impl PositionState {
    /// Applies a fill.
    pub fn apply_fill(&mut self, side: Side, price: Price, qty: Qty) {
        let (price, qty) = (i128::from(price.0), qty.0);
        self.volume += qty;
        self.fills += 1;
        let signed = side.sign() * qty;
        if self.qty == 0 || self.qty.signum() == signed.signum() {
            self.open_cost += price * i128::from(signed);
            self.qty += signed;
            return;
        }
        let open = self.qty.unsigned_abs() as i128;
        let closed = open.min(i128::from(qty));
        let cost_removed = self.open_cost * closed / open;
        self.realized += i128::from(self.qty.signum()) * price * closed - cost_removed;
        self.open_cost -= cost_removed;
        self.qty += signed;
        let reopened = i128::from(qty) - closed;
        if reopened > 0 {
            self.open_cost = price * reopened * i128::from(side.sign());
        } else if self.qty == 0 {
            self.open_cost = 0;
        }
    }

    /// Unrealized PnL at `mark`.
    pub fn unrealized(&self, mark: Price) -> i128 {
        i128::from(mark.0) * i128::from(self.qty) - self.open_cost
    }

    /// Average entry price of the open position (0 when flat).
    pub fn avg_price(&self) -> Price {
        if self.qty == 0 {
            return Price(0);
        }
        Price((self.open_cost.abs() / i128::from(self.qty.unsigned_abs())) as i64)
    }
}

/// Positions of every instrument.
#[derive(Debug, Default)]
pub struct PositionBook {
    positions: [PositionState; MAX_INSTRUMENTS],
}

impl PositionBook {
    /// Position of an instrument.
    #[inline]
    pub fn get(&self, instrument: InstrumentId) -> &PositionState {
        &self.positions[usize::from(instrument.0) % MAX_INSTRUMENTS]
    }

    /// Adopts the venue's position (reconciliation): the open position is valued at `mark`
    /// from here on; realized PnL and counts are kept.
    pub fn reset_to(&mut self, instrument: InstrumentId, qty: i64, mark: Price) {
        let p = &mut self.positions[usize::from(instrument.0) % MAX_INSTRUMENTS];
        if p.qty != qty {
            p.qty = qty;
            p.open_cost = i128::from(qty) * i128::from(mark.0);
        }
    }

    /// Applies a fill.
    pub fn apply_fill(&mut self, instrument: InstrumentId, side: Side, price: Price, qty: Qty) {
        self.positions[usize::from(instrument.0) % MAX_INSTRUMENTS].apply_fill(side, price, qty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_long_and_short_realizes_the_difference() {
        let mut p = PositionState::default();
        p.apply_fill(Side::Buy, Price(100), Qty(2));
        p.apply_fill(Side::Buy, Price(110), Qty(2));
        assert_eq!((p.qty, p.avg_price()), (4, Price(105)));
        assert_eq!(p.unrealized(Price(107)), 8);
        p.apply_fill(Side::Sell, Price(120), Qty(3));
        assert_eq!((p.qty, p.realized), (1, 45));
        p.apply_fill(Side::Sell, Price(90), Qty(3));
        assert_eq!(
            (p.qty, p.avg_price()),
            (-2, Price(90)),
            "flipped short at the fill price"
        );
        assert_eq!(p.realized, 45 - 15);
        p.apply_fill(Side::Buy, Price(80), Qty(2));
        assert_eq!((p.qty, p.realized, p.unrealized(Price(1))), (0, 30 + 20, 0));
        assert_eq!((p.volume, p.fills), (12, 5));
    }

    #[test]
    fn order_table_is_bounded_and_reuses_slots() {
        let mut t = OrderTable::default();
        let order = |id| OwnOrder {
            client_id: id,
            instrument: InstrumentId(0),
            side: Side::Buy,
            price: Price(1),
            qty: Qty(3),
            filled: Qty(1),
            state: OrderState::Live,
            post_only: true,
            created_unix_ns: 0,
            cancel_sent: false,
            sent_ticks: 0,
            unknown_since_ticks: 0,
        };
        for id in 0..MAX_OPEN_ORDERS as u64 {
            assert!(t.insert(order(id)));
        }
        assert!(!t.insert(order(999)));
        assert_eq!(
            t.open_qty(InstrumentId(0), Side::Buy),
            2 * MAX_OPEN_ORDERS as i64
        );
        assert_eq!(t.remove(5).map(|o| o.client_id), Some(5));
        assert_eq!(t.remove(5), None);
        assert!(t.insert(order(999)));
        assert_eq!(t.len(), MAX_OPEN_ORDERS);
    }
}
