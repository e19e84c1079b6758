//! Paper trading: orders are matched inside the process against the market data the feed
//! delivers; nothing leaves the machine.
//!
//! # Fill rules (top-of-book, conservative)
//!
//! - A new order that is marketable on arrival (a buy at or above the best ask, a sell at or
//!   below the best bid) takes liquidity at the touch, up to the touch quantity: a taker fill at
//!   the touch price. A post-only order that would do so is rejected instead. What an IOC does
//!   not fill is cancelled; what a limit order does not fill rests.
//! - A resting buy at `P` fills only when a later quote shows the best ask at or below `P` (the
//!   market came to it), at `P`, as maker, up to the ask quantity shown; sells mirror this. Being
//!   merely at the best bid is not enough: with top-of-book data the queue ahead is unknown, so
//!   the rule assumes the order is last in its queue — it never fills earlier than a real order
//!   could have.
//! - All resting orders of one instrument share the quantity a quote shows, best price first in
//!   arrival order, so one quote never fills more than it displayed.
//!
//! The order table is allocated once ([`PaperExchange::new`]); when full, new orders are
//! rejected with [`RejectReason::TooManyOrders`].

use crate::{ExecKind, ExecReport, NewOrder, OrderKind, OrderRequest, RejectReason};
use tickwire_feed::{Price, Qty, Quote, Side};

/// Instruments the paper venue can price (indexes `0..PAPER_INSTRUMENTS`).
pub const PAPER_INSTRUMENTS: usize = 16;

#[derive(Clone, Copy, Debug)]
struct Resting {
    order: NewOrder,
    leaves: Qty,
}

/// The in-process paper venue.
#[derive(Debug)]
pub struct PaperExchange {
    /// Resting orders in arrival order; `len() <= capacity` always.
    resting: Vec<Resting>,
    capacity: usize,
    /// Last quote per instrument index.
    quotes: [Option<Quote>; PAPER_INSTRUMENTS],
    next_trade_id: u64,
}

impl PaperExchange {
    /// A venue that holds at most `capacity` resting orders.
    pub fn new(capacity: usize) -> Self {
        Self {
            resting: Vec::with_capacity(capacity),
            capacity,
            quotes: [None; PAPER_INSTRUMENTS],
            next_trade_id: 1,
        }
    }

    /// Resting orders now.
    pub fn resting(&self) -> usize {
        self.resting.len()
    }

    fn trade_id(&mut self) -> u64 {
        let id = self.next_trade_id;
        self.next_trade_id += 1;
        id
    }

    /// Handles a request; reports go to `out`. `_now_tsc` is reserved for latency models.
    pub fn on_request(
        &mut self,
        request: &OrderRequest,
        _now_tsc: u64,
        out: &mut impl FnMut(ExecReport),
    ) {
        match *request {
            OrderRequest::New(order) => self.on_new(order, out),
            OrderRequest::Cancel {
                client_id,
                instrument,
            } => {
                let found = self
                    .resting
                    .iter()
                    .position(|r| r.order.client_id == client_id);
                match found {
                    Some(i) => {
                        let r = self.resting.remove(i);
                        out(ExecReport {
                            client_id,
                            instrument,
                            side: r.order.side,
                            kind: ExecKind::Canceled,
                        });
                    }
                    None => out(ExecReport {
                        client_id,
                        instrument,
                        side: Side::Buy,
                        kind: ExecKind::CancelRejected(RejectReason::UnknownOrder),
                    }),
                }
            }
        }
    }

    fn on_new(&mut self, order: NewOrder, out: &mut impl FnMut(ExecReport)) {
        let report = |kind| ExecReport {
            client_id: order.client_id,
            instrument: order.instrument,
            side: order.side,
            kind,
        };
        let reject = |reason| report(ExecKind::Rejected(reason));
        if order.qty.0 <= 0 || order.price.0 <= 0 {
            return out(reject(RejectReason::InvalidOrder));
        }
        if self
            .resting
            .iter()
            .any(|r| r.order.client_id == order.client_id)
        {
            return out(reject(RejectReason::DuplicateId));
        }
        let Some(quote) = self
            .quotes
            .get(usize::from(order.instrument.0))
            .copied()
            .flatten()
        else {
            return out(reject(RejectReason::NoMarket));
        };
        let (touch, touch_qty) = match order.side {
            Side::Buy => (quote.ask, quote.ask_qty),
            Side::Sell => (quote.bid, quote.bid_qty),
        };
        let marketable = match order.side {
            Side::Buy => order.price >= touch,
            Side::Sell => order.price <= touch,
        };
        if marketable && order.kind == OrderKind::PostOnly {
            return out(reject(RejectReason::PostOnlyWouldCross));
        }
        let rests = order.kind != OrderKind::Ioc;
        if rests && self.resting.len() >= self.capacity {
            return out(reject(RejectReason::TooManyOrders));
        }
        out(report(ExecKind::Accepted));
        let mut leaves = order.qty;
        if marketable {
            let qty = Qty(leaves.0.min(touch_qty.0));
            leaves = Qty(leaves.0 - qty.0);
            let trade_id = self.trade_id();
            out(report(ExecKind::Fill {
                price: touch,
                qty,
                leaves,
                trade_id,
                maker: false,
            }));
        }
        if leaves.0 > 0 {
            if rests {
                self.resting.push(Resting { order, leaves });
            } else {
                out(report(ExecKind::Canceled));
            }
        }
    }

    /// Records a quote and fills the resting orders it reaches.
    pub fn on_quote(&mut self, quote: &Quote, _now_tsc: u64, out: &mut impl FnMut(ExecReport)) {
        let Some(slot) = self.quotes.get_mut(usize::from(quote.instrument.0)) else {
            return;
        };
        *slot = Some(*quote);
        let mut ask_left = quote.ask_qty.0;
        let mut bid_left = quote.bid_qty.0;
        let mut i = 0;
        while i < self.resting.len() {
            let r = self.resting[i];
            let (reached, left): (bool, &mut i64) = match r.order.side {
                Side::Buy => (quote.ask <= r.order.price, &mut ask_left),
                Side::Sell => (quote.bid >= r.order.price, &mut bid_left),
            };
            if r.order.instrument != quote.instrument || !reached || *left <= 0 {
                i += 1;
                continue;
            }
            let qty = r.leaves.0.min(*left);
            *left -= qty;
            let leaves = Qty(r.leaves.0 - qty);
            let trade_id = self.trade_id();
            out(ExecReport {
                client_id: r.order.client_id,
                instrument: r.order.instrument,
                side: r.order.side,
                kind: ExecKind::Fill {
                    price: r.order.price,
                    qty: Qty(qty),
                    leaves,
                    trade_id,
                    maker: true,
                },
            });
            if leaves.0 == 0 {
                self.resting.remove(i);
            } else {
                self.resting[i].leaves = leaves;
                i += 1;
            }
        }
    }

    /// The last quote seen for an instrument index.
    pub fn quote(&self, instrument: usize) -> Option<Quote> {
        self.quotes.get(instrument).copied().flatten()
    }

    /// Mid price of the last quote, if any.
    pub fn mid(&self, instrument: usize) -> Option<Price> {
        self.quote(instrument).map(|q| Price(q.mid2().0 / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_feed::InstrumentId;

    fn quote(bid: i64, ask: i64, qty: i64) -> Quote {
        Quote {
            instrument: InstrumentId(0),
            bid: Price(bid),
            bid_qty: Qty(qty),
            ask: Price(ask),
            ask_qty: Qty(qty),
            exchange_seq: 0,
            recv_tsc: 0,
        }
    }

    fn new(id: u64, side: Side, price: i64, qty: i64, kind: OrderKind) -> OrderRequest {
        OrderRequest::New(NewOrder {
            client_id: id,
            instrument: InstrumentId(0),
            side,
            price: Price(price),
            qty: Qty(qty),
            kind,
        })
    }

    fn run(ex: &mut PaperExchange, req: &OrderRequest) -> Vec<ExecKind> {
        let mut v = Vec::new();
        ex.on_request(req, 0, &mut |r| v.push(r.kind));
        v
    }

    #[test]
    fn no_market_no_order() {
        let mut ex = PaperExchange::new(4);
        assert_eq!(
            run(&mut ex, &new(1, Side::Buy, 100, 1, OrderKind::Limit)),
            vec![ExecKind::Rejected(RejectReason::NoMarket)]
        );
    }

    #[test]
    fn post_only_that_would_cross_is_rejected_and_limit_takes() {
        let mut ex = PaperExchange::new(4);
        ex.on_quote(&quote(99, 101, 3), 0, &mut |_| {});
        assert_eq!(
            run(&mut ex, &new(1, Side::Buy, 101, 1, OrderKind::PostOnly)),
            vec![ExecKind::Rejected(RejectReason::PostOnlyWouldCross)]
        );
        let got = run(&mut ex, &new(2, Side::Buy, 102, 5, OrderKind::Limit));
        assert_eq!(got[0], ExecKind::Accepted);
        assert!(matches!(
            got[1],
            ExecKind::Fill {
                price: Price(101),
                qty: Qty(3),
                leaves: Qty(2),
                maker: false,
                ..
            }
        ));
        assert_eq!(ex.resting(), 1, "the rest of the limit order rests");
        let got = run(&mut ex, &new(3, Side::Sell, 90, 5, OrderKind::Ioc));
        assert_eq!(
            got.last(),
            Some(&ExecKind::Canceled),
            "IOC rest is cancelled"
        );
    }

    #[test]
    fn resting_order_fills_only_when_the_market_reaches_it() {
        let mut ex = PaperExchange::new(4);
        ex.on_quote(&quote(99, 101, 3), 0, &mut |_| {});
        run(&mut ex, &new(1, Side::Buy, 100, 5, OrderKind::PostOnly));
        let mut fills = Vec::new();
        ex.on_quote(&quote(100, 101, 3), 0, &mut |r| fills.push(r));
        assert!(fills.is_empty(), "joining the bid is not a fill");
        ex.on_quote(&quote(99, 100, 2), 0, &mut |r| fills.push(r));
        assert!(matches!(
            fills[0].kind,
            ExecKind::Fill {
                price: Price(100),
                qty: Qty(2),
                leaves: Qty(3),
                maker: true,
                ..
            }
        ));
        ex.on_quote(&quote(98, 99, 10), 0, &mut |r| fills.push(r));
        assert!(matches!(
            fills[1].kind,
            ExecKind::Fill {
                qty: Qty(3),
                leaves: Qty(0),
                ..
            }
        ));
        assert_eq!(ex.resting(), 0);
    }

    #[test]
    fn cancel_unknown_and_table_full() {
        let mut ex = PaperExchange::new(1);
        ex.on_quote(&quote(99, 101, 3), 0, &mut |_| {});
        run(&mut ex, &new(1, Side::Buy, 95, 1, OrderKind::Limit));
        assert_eq!(
            run(&mut ex, &new(2, Side::Buy, 95, 1, OrderKind::Limit)),
            vec![ExecKind::Rejected(RejectReason::TooManyOrders)]
        );
        let cancel = |id| OrderRequest::Cancel {
            client_id: id,
            instrument: InstrumentId(0),
        };
        assert_eq!(run(&mut ex, &cancel(1)), vec![ExecKind::Canceled]);
        assert_eq!(
            run(&mut ex, &cancel(1)),
            vec![ExecKind::CancelRejected(RejectReason::UnknownOrder)]
        );
    }
}
