//! The simulated market around the engine: a seeded price process, a liquidity provider that
//! keeps a ladder of resting orders around fair value, and takers that trade against the best
//! levels — so resting orders of other accounts (the engine's quotes) get filled.
//!
//! Deterministic: the same seed and the same sequence of engine actions give the same market.

use crate::exchange::{AccountId, Exchange, Side, TimeInForce};

/// The background participants' accounts.
pub const LIQUIDITY_ACCOUNT: AccountId = 1_000_000;
/// The takers' account.
pub const TAKER_ACCOUNT: AccountId = 1_000_001;

/// Parameters of the simulated market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowParams {
    /// Starting fair value, price units (a multiple of `tick`).
    pub start_price: i64,
    /// Tick size.
    pub tick: i64,
    /// Lot size; sizes are multiples of `base_qty`, itself a multiple of the lot.
    pub base_qty: i64,
    /// Ladder levels per side the liquidity provider keeps.
    pub levels: usize,
    /// Chance in 1/1000 that a taker trades on a step.
    pub taker_per_mille: u64,
    /// Seed.
    pub seed: u64,
}

/// The background market.
#[derive(Debug)]
pub struct MarketFlow {
    params: FlowParams,
    rng: u64,
    /// Fair value in ticks.
    fair_ticks: i64,
    next_id: u64,
    /// Resting ladder orders: (client id, side, price).
    ladder: Vec<(String, Side, i64)>,
}

impl MarketFlow {
    /// A market starting at `params.start_price`.
    pub fn new(params: FlowParams) -> Self {
        Self {
            rng: params.seed | 1,
            fair_ticks: (params.start_price / params.tick).max(params.levels as i64 + 2),
            next_id: 1,
            ladder: Vec::new(),
            params,
        }
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fair value now, price units.
    pub fn fair_price(&self) -> i64 {
        self.fair_ticks * self.params.tick
    }

    /// One step: move fair value, maybe trade, refresh the ladder.
    pub fn step(&mut self, ex: &mut Exchange, time_ms: u64) {
        let r = self.next();
        let step = (r % 5) as i64 - 2;
        self.fair_ticks = (self.fair_ticks + step).max(self.params.levels as i64 + 2);
        let tick = self.params.tick;
        let fair = self.fair_ticks * tick;
        let levels = self.params.levels as i64;

        // A taker sweeps from the touch; the ladder is refilled after it.
        if self.next() % 1000 < self.params.taker_per_mille {
            let side = if self.next().is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            };
            let qty = self.params.base_qty * (1 + (self.next() % 6) as i64);
            let price = match side {
                Side::Buy => fair + (levels + 1) * tick,
                Side::Sell => fair - (levels + 1) * tick,
            };
            let id = format!("tk{}", self.next_id);
            self.next_id += 1;
            let _ = ex.place(
                TAKER_ACCOUNT,
                &id,
                side,
                price,
                qty,
                TimeInForce::Ioc,
                time_ms,
            );
        }

        // Drop ladder orders that are filled, out of range or on the wrong side of fair.
        let mut kept = Vec::with_capacity(self.ladder.len());
        for (id, side, price) in std::mem::take(&mut self.ladder) {
            let distance = (price - fair).abs() / tick;
            let wrong_side = match side {
                Side::Buy => price >= fair,
                Side::Sell => price <= fair,
            };
            let still_open = ex
                .open_orders(LIQUIDITY_ACCOUNT)
                .iter()
                .any(|o| o.client_order_id == id);
            if !still_open {
                continue;
            }
            if wrong_side || distance > levels {
                let _ = ex.cancel(LIQUIDITY_ACCOUNT, &id, time_ms);
            } else {
                kept.push((id, side, price));
            }
        }
        self.ladder = kept;

        // Fill missing ladder levels.
        for k in 1..=levels {
            for side in [Side::Buy, Side::Sell] {
                let price = match side {
                    Side::Buy => fair - k * tick,
                    Side::Sell => fair + k * tick,
                };
                if self
                    .ladder
                    .iter()
                    .any(|(_, s, p)| *s == side && *p == price)
                {
                    continue;
                }
                let qty = self.params.base_qty * (1 + (self.next() % 4) as i64);
                let id = format!("lp{}", self.next_id);
                self.next_id += 1;
                if ex
                    .place(
                        LIQUIDITY_ACCOUNT,
                        &id,
                        side,
                        price,
                        qty,
                        TimeInForce::MakerOnly,
                        time_ms,
                    )
                    .is_ok()
                {
                    self.ladder.push((id, side, price));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::VenueEvent;

    fn params(seed: u64) -> FlowParams {
        FlowParams {
            start_price: 5_000_000,
            tick: 1,
            base_qty: 100,
            levels: 5,
            taker_per_mille: 300,
            seed,
        }
    }

    fn trades(events: &[VenueEvent]) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, VenueEvent::Trade { .. }))
            .count()
    }

    #[test]
    fn the_market_keeps_a_two_sided_book_and_trades() {
        let mut ex = Exchange::new(1, 1);
        let mut flow = MarketFlow::new(params(3));
        let mut traded = 0;
        for t in 0..2_000 {
            flow.step(&mut ex, t);
            traded += trades(&ex.take_events());
            let (bid, ask) = (ex.best_bid().expect("bid").0, ex.best_ask().expect("ask").0);
            assert!(bid < ask, "crossed book at step {t}");
        }
        assert!(traded > 100, "takers traded {traded} times");
        let lp = ex.account(LIQUIDITY_ACCOUNT);
        let taker = ex.account(TAKER_ACCOUNT);
        assert_eq!(lp.position + taker.position, 0, "every trade has two sides");
    }

    #[test]
    fn resting_orders_of_other_accounts_get_filled_and_runs_are_deterministic() {
        let run = |seed| {
            let mut ex = Exchange::new(1, 1);
            let mut flow = MarketFlow::new(params(seed));
            flow.step(&mut ex, 0);
            let fair = flow.fair_price();
            ex.place(7, "q1", Side::Buy, fair - 2, 100, TimeInForce::MakerOnly, 0)
                .expect("bid");
            ex.place(
                7,
                "q2",
                Side::Sell,
                fair + 2,
                100,
                TimeInForce::MakerOnly,
                0,
            )
            .expect("ask");
            for t in 1..3_000 {
                flow.step(&mut ex, t);
            }
            ex.account(7)
        };
        let a = run(11);
        assert!(a.fills > 0, "the engine's quotes were reached");
        assert_eq!(a, run(11), "same seed, same market");
    }
}
