//! A deterministic synthetic quote source, for running the engine without any venue.
//!
//! Its quotes are labelled [`DataSource::Synthetic`](crate::DataSource::Synthetic) everywhere
//! they appear (the region's data-source field, the dashboard, the journal): they are never
//! market data. The mid follows a seeded random walk in whole ticks; the spread and sizes vary a
//! little, so a market maker quoting around it gets filled on both sides.

use crate::event::Quote;
use crate::fixed::{InstrumentId, Price, Qty};

/// Parameters of a synthetic instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntheticParams {
    /// Instrument the quotes are for.
    pub instrument: InstrumentId,
    /// Starting mid price, price units (rounded to the tick).
    pub start_mid: Price,
    /// Tick size, price units (> 0).
    pub tick: i64,
    /// Largest move of the mid per quote, ticks.
    pub max_step_ticks: i64,
    /// Base quantity at the touch, lots (> 0).
    pub base_qty: Qty,
    /// Seed; equal seeds give equal streams.
    pub seed: u64,
}

/// The generator; allocation-free.
#[derive(Clone, Debug)]
pub struct SyntheticQuotes {
    params: SyntheticParams,
    /// Mid in ticks; kept `>= 2` so the bid stays positive.
    mid_ticks: i64,
    rng: u64,
    seq: u64,
}

impl SyntheticQuotes {
    /// A generator starting at `params.start_mid`.
    pub fn new(params: SyntheticParams) -> Self {
        debug_assert!(params.tick > 0 && params.base_qty.0 > 0);
        Self {
            mid_ticks: (params.start_mid.0 / params.tick).max(2),
            rng: params.seed | 1,
            seq: 0,
            params,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*: fast, deterministic, good enough for a price path.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The next quote, stamped with `recv_tsc`.
    pub fn next_quote(&mut self, recv_tsc: u64) -> Quote {
        let r = self.next_u64();
        let span = 2 * self.params.max_step_ticks + 1;
        let step = (r % span as u64) as i64 - self.params.max_step_ticks;
        self.mid_ticks = (self.mid_ticks + step).max(2);
        let half_spread = 1 + ((r >> 20) & 1) as i64;
        let tick = self.params.tick;
        let base = self.params.base_qty.0;
        self.seq += 1;
        Quote {
            instrument: self.params.instrument,
            bid: Price((self.mid_ticks - half_spread).max(1) * tick),
            bid_qty: Qty(base * (1 + ((r >> 32) % 4) as i64)),
            ask: Price((self.mid_ticks + half_spread) * tick),
            ask_qty: Qty(base * (1 + ((r >> 40) % 4) as i64)),
            exchange_seq: self.seq,
            recv_tsc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(seed: u64) -> SyntheticParams {
        SyntheticParams {
            instrument: InstrumentId(0),
            start_mid: Price(10_000),
            tick: 1,
            max_step_ticks: 2,
            base_qty: Qty(10),
            seed,
        }
    }

    #[test]
    fn same_seed_same_stream_and_quotes_are_valid() {
        let mut a = SyntheticQuotes::new(params(7));
        let mut b = SyntheticQuotes::new(params(7));
        for i in 0..10_000 {
            let (qa, qb) = (a.next_quote(i), b.next_quote(i));
            assert_eq!(qa, qb);
            assert!(qa.is_valid(), "{qa:?}");
        }
    }

    #[test]
    fn the_mid_moves() {
        let mut g = SyntheticQuotes::new(params(1));
        let first = g.next_quote(0).mid2();
        assert!((0..1000).any(|_| g.next_quote(0).mid2() != first));
    }
}
