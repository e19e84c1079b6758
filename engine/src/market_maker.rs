//! A market maker: one post-only quote per side around a skewed mid.
//!
//! - Fair value is the mid shifted against the position by `skew_ticks_per_size` ticks per
//!   `size` held, so a long position lowers both quotes (sells sooner, buys later).
//! - The bid is `fair - half_spread`, rounded down to the tick and kept below the best ask; the
//!   ask mirrors it. Both are post-only.
//! - A quote that drifts `requote_threshold_ticks` or more from its target is cancelled; the new
//!   one goes out once the cancel is confirmed, so the two never rest together.
//! - A side whose quote would take the position past the risk limit is not quoted, no order is
//!   sent while the order-rate budget of the second is spent, and while the engine is
//!   reduce-only only a quote that reduces the position goes out: the strategy stays inside
//!   risk rather than collecting rejects.
//! - A side with an order in the unknown state (its acknowledgement timed out; the engine is
//!   cancelling it) is not quoted until the venue resolves it, as while a cancel is pending.
//! - When the engine is not running or the feed is stale, every order is cancelled and nothing
//!   is quoted until fresh data arrives.

use crate::config::StrategySettings;
use crate::strategy::{Strategy, TradingContext};
use tickwire_feed::{InstrumentId, Price, Qty, Quote, Side};
use tickwire_gateway::{ExecReport, OrderKind};
use tickwire_shm::layout::OrderState;

/// The market maker.
#[derive(Debug, Clone)]
pub struct MarketMaker {
    instrument: InstrumentId,
    half_spread_ticks: i64,
    size: i64,
    skew_ticks_per_size: i64,
    requote_threshold_ticks: i64,
}

impl MarketMaker {
    /// A market maker with validated settings.
    pub fn new(settings: &StrategySettings) -> Self {
        Self {
            instrument: InstrumentId(settings.instrument as u16),
            half_spread_ticks: settings.half_spread_ticks,
            size: settings.size,
            skew_ticks_per_size: settings.skew_ticks_per_size,
            requote_threshold_ticks: settings.requote_threshold_ticks,
        }
    }

    /// Target (bid, ask) prices for a quote and position.
    pub fn targets(&self, quote: &Quote, position: i64, tick: i64) -> (Price, Price) {
        let skew = position * self.skew_ticks_per_size * tick / self.size;
        let fair2 = quote.mid2().0 - 2 * skew;
        let half = self.half_spread_ticks * tick;
        let bid = Price(fair2.div_euclid(2) - half).floor_to(tick);
        let ask = Price((fair2 + 1).div_euclid(2) + half).ceil_to(tick);
        (
            Price(bid.0.min(quote.ask.0 - tick)),
            Price(ask.0.max(quote.bid.0 + tick)),
        )
    }

    /// What to do on one side, given its target: nothing here changes.
    fn side_action(
        &self,
        ctx: &TradingContext,
        side: Side,
        target: Price,
        tick: i64,
    ) -> SideAction {
        let mut resting = None;
        let mut cancelling = false;
        for o in ctx.orders() {
            if o.instrument == self.instrument && o.side == side {
                if o.state == OrderState::PendingCancel || o.state == OrderState::Unknown {
                    cancelling = true;
                } else {
                    resting = Some((o.client_id, o.price));
                }
            }
        }
        match resting {
            Some((id, price))
                if (price.0 - target.0).abs() >= self.requote_threshold_ticks * tick =>
            {
                SideAction::Cancel(id)
            }
            Some(_) => SideAction::Hold,
            None if !cancelling => {
                let position = ctx.position(self.instrument);
                let after = position + side.sign() * self.size;
                let reduces = position.signum() == -side.sign() && self.size <= position.abs();
                if after.abs() <= ctx.max_position(self.instrument)
                    && ctx.order_budget(self.instrument) > 0
                    && (reduces || !ctx.reduce_only())
                {
                    SideAction::Place
                } else {
                    SideAction::Hold
                }
            }
            None => SideAction::Hold,
        }
    }

    fn quote_side(&self, ctx: &mut TradingContext, side: Side, target: Price, tick: i64) {
        match self.side_action(ctx, side, target, tick) {
            SideAction::Cancel(id) => {
                ctx.cancel(id);
            }
            SideAction::Place => {
                let _ = ctx.place(
                    self.instrument,
                    side,
                    target,
                    Qty(self.size),
                    OrderKind::PostOnly,
                );
            }
            SideAction::Hold => {}
        }
    }

    /// The quote to requote on and the tick size; `None` when the strategy must not quote.
    fn quotable(&self, ctx: &TradingContext) -> Option<(Quote, i64)> {
        match ctx.market(self.instrument).quote {
            Some(q) if ctx.trading() && ctx.feed_fresh(self.instrument) && q.is_valid() => {
                Some((q, ctx.spec(self.instrument).tick_size))
            }
            _ => None,
        }
    }

    fn requote(&self, ctx: &mut TradingContext) {
        let Some((quote, tick)) = self.quotable(ctx) else {
            if ctx.orders().any(|o| o.instrument == self.instrument) {
                ctx.cancel_all(Some(self.instrument));
            }
            return;
        };
        let (bid, ask) = self.targets(&quote, ctx.position(self.instrument), tick);
        self.quote_side(ctx, Side::Buy, bid, tick);
        self.quote_side(ctx, Side::Sell, ask, tick);
    }
}

/// What the market maker does on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SideAction {
    /// Cancel the resting order (it drifted from its target).
    Cancel(u64),
    /// Place an order at the target.
    Place,
    /// Leave the side as it is.
    Hold,
}

impl Strategy for MarketMaker {
    fn on_quote(&mut self, quote: &Quote, ctx: &mut TradingContext) {
        if quote.instrument == self.instrument {
            self.requote(ctx);
        }
    }

    fn on_fill(&mut self, _fill: &ExecReport, ctx: &mut TradingContext) {
        self.requote(ctx);
    }

    fn on_timer(&mut self, ctx: &mut TradingContext) {
        self.requote(ctx);
    }

    fn keep_warm(&self, ctx: &TradingContext) {
        if let Some((quote, tick)) = self.quotable(ctx) {
            let (bid, ask) = self.targets(&quote, ctx.position(self.instrument), tick);
            std::hint::black_box((
                self.side_action(ctx, Side::Buy, bid, tick),
                self.side_action(ctx, Side::Sell, ask, tick),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StrategyKind;

    fn mm() -> MarketMaker {
        MarketMaker::new(&StrategySettings {
            kind: StrategyKind::MarketMaker,
            instrument: 0,
            half_spread_ticks: 5,
            size: 100,
            skew_ticks_per_size: 2,
            requote_threshold_ticks: 2,
        })
    }

    fn quote(bid: i64, ask: i64) -> Quote {
        Quote {
            instrument: InstrumentId(0),
            bid: Price(bid),
            bid_qty: Qty(1),
            ask: Price(ask),
            ask_qty: Qty(1),
            exchange_seq: 0,
            recv_tsc: 0,
        }
    }

    #[test]
    fn quotes_straddle_mid_by_the_half_spread() {
        assert_eq!(
            mm().targets(&quote(1000, 1002), 0, 1),
            (Price(996), Price(1006))
        );
        assert_eq!(
            mm().targets(&quote(1000, 1001), 0, 1),
            (Price(995), Price(1006))
        );
        assert_eq!(
            mm().targets(&quote(1000, 1020), 0, 10),
            (Price(960), Price(1060))
        );
    }

    #[test]
    fn inventory_skews_both_quotes_against_the_position() {
        let (bid, ask) = mm().targets(&quote(1000, 1002), 200, 1);
        assert_eq!((bid, ask), (Price(992), Price(1002)));
        let (bid, ask) = mm().targets(&quote(1000, 1002), -200, 1);
        assert_eq!((bid, ask), (Price(1000), Price(1010)));
    }

    #[test]
    fn quotes_never_cross_the_touch() {
        let (bid, ask) = mm().targets(&quote(1000, 1002), 5_000, 1);
        assert!(bid.0 < 1002 && ask.0 > 1000, "{bid:?} {ask:?}");
    }
}
