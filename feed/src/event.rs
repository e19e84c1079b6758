//! The `Copy` events the feed thread sends to the strategy thread.

use crate::fixed::{InstrumentId, Price, Qty, Side};
pub use tickwire_shm::layout::{DataSource, FeedState};

/// Best bid and offer of an instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Best bid price.
    pub bid: Price,
    /// Quantity at the best bid.
    pub bid_qty: Qty,
    /// Best ask price.
    pub ask: Price,
    /// Quantity at the best ask.
    pub ask_qty: Qty,
    /// The venue's sequence or update id.
    pub exchange_seq: u64,
    /// Latency-clock ticks when the bytes carrying this quote were read from the socket.
    pub recv_tsc: u64,
}

impl Quote {
    /// Twice the mid price (`bid + ask`), exact in integers.
    #[inline]
    pub fn mid2(&self) -> Price {
        Price(self.bid.0 + self.ask.0)
    }

    /// Both sides present with positive prices and quantities, and not crossed.
    #[inline]
    pub fn is_valid(&self) -> bool {
        self.bid.0 > 0 && self.ask.0 > self.bid.0 && self.bid_qty.0 > 0 && self.ask_qty.0 > 0
    }
}

/// A trade print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Trade price.
    pub price: Price,
    /// Trade quantity.
    pub qty: Qty,
    /// The side of the aggressor (taker).
    pub aggressor: Side,
    /// The venue's trade id.
    pub trade_id: u64,
    /// Latency-clock ticks at the socket read.
    pub recv_tsc: u64,
}

/// The top of a synchronised order book after an update, with the depth behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookTop {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Best bid price.
    pub bid: Price,
    /// Quantity at the best bid.
    pub bid_qty: Qty,
    /// Best ask price.
    pub ask: Price,
    /// Quantity at the best ask.
    pub ask_qty: Qty,
    /// Total quantity on the top five bid levels.
    pub bid_depth5: Qty,
    /// Total quantity on the top five ask levels.
    pub ask_depth5: Qty,
    /// The venue's update id of the last applied update.
    pub exchange_seq: u64,
    /// Latency-clock ticks at the socket read.
    pub recv_tsc: u64,
}

/// A change in a feed's state, so the strategy stops quoting on stale or missing data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedStatus {
    /// Instrument.
    pub instrument: InstrumentId,
    /// New state.
    pub state: FeedState,
    /// Where the data comes from.
    pub source: DataSource,
}

/// Everything the feed thread sends the strategy thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketEvent {
    /// Best bid/offer changed.
    Quote(Quote),
    /// A trade printed.
    Trade(Trade),
    /// The synchronised book changed.
    Book(BookTop),
    /// The feed's state changed.
    Status(FeedStatus),
}

impl MarketEvent {
    /// The instrument the event is about.
    #[inline]
    pub fn instrument(&self) -> InstrumentId {
        match self {
            MarketEvent::Quote(q) => q.instrument,
            MarketEvent::Trade(t) => t.instrument,
            MarketEvent::Book(b) => b.instrument,
            MarketEvent::Status(s) => s.instrument,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_small() {
        assert!(std::mem::size_of::<MarketEvent>() <= 96);
    }

    #[test]
    fn quote_validity() {
        let q = Quote {
            instrument: InstrumentId(0),
            bid: Price(100),
            bid_qty: Qty(1),
            ask: Price(101),
            ask_qty: Qty(1),
            exchange_seq: 0,
            recv_tsc: 0,
        };
        assert!(q.is_valid());
        assert!(
            !Quote {
                ask: Price(100),
                ..q
            }
            .is_valid(),
            "locked book"
        );
        assert!(!Quote {
            bid_qty: Qty(0),
            ..q
        }
        .is_valid());
    }
}
