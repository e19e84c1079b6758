//! Pre-trade risk, checked on the strategy thread before every new order: integer comparisons
//! only, no allocation, no lock. Cancels are never blocked by risk.

use tickwire_feed::{Price, Qty, Side};

/// Why an order was refused (the index into the region's reject counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskReject {
    /// The position after the order (counting open orders on the same side) would exceed the
    /// limit.
    Position = 0,
    /// The order's notional exceeds the limit.
    Notional = 1,
    /// Too many orders in the current second.
    Rate = 2,
    /// Price outside the band around mid, or no mid to compare with.
    Band = 3,
    /// Too many open orders.
    OpenOrders = 4,
    /// Market data stale or not live.
    StaleFeed = 5,
    /// The engine is paused, halted or stopping, or the kill switch is thrown.
    Halted = 6,
    /// Reduce-only and the order would not reduce the position.
    ReduceOnly = 7,
}

/// Limits for one instrument plus the shared ones, in engine units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest absolute position, lots.
    pub max_position: i64,
    /// Largest order notional (price units × lots).
    pub max_notional: i128,
    /// Orders per second.
    pub max_orders_per_sec: u32,
    /// Price band, bps of mid.
    pub price_band_bps: u32,
    /// Open orders.
    pub max_open_orders: u32,
}

/// What the check needs to know about the moment.
#[derive(Debug, Clone, Copy)]
pub struct Exposure {
    /// Signed position, lots.
    pub position: i64,
    /// Open quantity on the order's side, lots.
    pub open_same_side: i64,
    /// Open orders, all instruments.
    pub open_orders: usize,
    /// Current mid, if the market is known.
    pub mid: Option<Price>,
    /// Whether the feed is live and fresh.
    pub feed_fresh: bool,
    /// Whether the engine is running (not paused, halted, stopping).
    pub trading: bool,
    /// Whether only reducing orders are allowed.
    pub reduce_only: bool,
}

/// Order-rate accounting over one-second windows of the latency clock.
#[derive(Debug, Clone)]
pub struct RateWindow {
    window_ticks: u64,
    start: u64,
    count: u32,
}

impl RateWindow {
    /// A window of `window_ticks` (one second in latency-clock ticks).
    pub fn new(window_ticks: u64) -> Self {
        Self {
            window_ticks,
            start: 0,
            count: 0,
        }
    }

    fn roll(&mut self, now: u64) {
        if now.wrapping_sub(self.start) >= self.window_ticks {
            self.start = now;
            self.count = 0;
        }
    }

    /// Orders counted in the current window.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Orders `max` still allows at `now` (a new window starts with all of them).
    pub fn remaining(&self, now: u64, max: u32) -> u32 {
        if now.wrapping_sub(self.start) >= self.window_ticks {
            max
        } else {
            max.saturating_sub(self.count)
        }
    }
}

/// Checks a new order; on success the order is counted against the rate limit.
///
/// # Errors
///
/// The first [`RiskReject`] that applies, in the order: halted, stale feed, open orders, rate,
/// band, notional, reduce-only, position.
pub fn check_order(
    limits: &Limits,
    rate: &mut RateWindow,
    now_ticks: u64,
    side: Side,
    price: Price,
    qty: Qty,
    exposure: &Exposure,
) -> Result<(), RiskReject> {
    if !exposure.trading {
        return Err(RiskReject::Halted);
    }
    if !exposure.feed_fresh {
        return Err(RiskReject::StaleFeed);
    }
    if exposure.open_orders >= limits.max_open_orders as usize {
        return Err(RiskReject::OpenOrders);
    }
    rate.roll(now_ticks);
    if rate.count >= limits.max_orders_per_sec {
        return Err(RiskReject::Rate);
    }
    let mid = exposure.mid.ok_or(RiskReject::Band)?;
    let distance = i128::from((price.0 - mid.0).abs()) * 10_000;
    if mid.0 <= 0 || distance > i128::from(limits.price_band_bps) * i128::from(mid.0) {
        return Err(RiskReject::Band);
    }
    if i128::from(price.0) * i128::from(qty.0) > limits.max_notional {
        return Err(RiskReject::Notional);
    }
    let signed = side.sign() * qty.0;
    if exposure.reduce_only
        && (exposure.position == 0
            || exposure.position.signum() == signed.signum()
            || exposure.open_same_side + qty.0 > exposure.position.abs())
    {
        return Err(RiskReject::ReduceOnly);
    }
    let worst = exposure.position + side.sign() * (exposure.open_same_side + qty.0);
    if worst.abs() > limits.max_position {
        return Err(RiskReject::Position);
    }
    rate.count += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_position: 10,
        max_notional: 10_000,
        max_orders_per_sec: 3,
        price_band_bps: 100,
        max_open_orders: 4,
    };

    fn fresh() -> Exposure {
        Exposure {
            position: 0,
            open_same_side: 0,
            open_orders: 0,
            mid: Some(Price(1000)),
            feed_fresh: true,
            trading: true,
            reduce_only: false,
        }
    }

    fn check(
        side: Side,
        price: i64,
        qty: i64,
        e: Exposure,
        rate: &mut RateWindow,
    ) -> Result<(), RiskReject> {
        check_order(&LIMITS, rate, 0, side, Price(price), Qty(qty), &e)
    }

    #[test]
    fn each_limit_rejects_with_its_reason() {
        let mut r = RateWindow::new(1_000);
        assert_eq!(
            check(
                Side::Buy,
                1000,
                1,
                Exposure {
                    trading: false,
                    ..fresh()
                },
                &mut r
            ),
            Err(RiskReject::Halted)
        );
        assert_eq!(
            check(
                Side::Buy,
                1000,
                1,
                Exposure {
                    feed_fresh: false,
                    ..fresh()
                },
                &mut r
            ),
            Err(RiskReject::StaleFeed)
        );
        assert_eq!(
            check(
                Side::Buy,
                1000,
                1,
                Exposure {
                    open_orders: 4,
                    ..fresh()
                },
                &mut r
            ),
            Err(RiskReject::OpenOrders)
        );
        assert_eq!(
            check(Side::Buy, 1011, 1, fresh(), &mut r),
            Err(RiskReject::Band)
        );
        assert_eq!(
            check(
                Side::Buy,
                1000,
                1,
                Exposure {
                    mid: None,
                    ..fresh()
                },
                &mut r
            ),
            Err(RiskReject::Band)
        );
        assert_eq!(
            check(Side::Buy, 1000, 11, fresh(), &mut r),
            Err(RiskReject::Notional)
        );
        assert_eq!(
            check(
                Side::Buy,
                1000,
                5,
                Exposure {
                    position: 6,
                    ..fresh()
                },
                &mut r
            ),
            Err(RiskReject::Position)
        );
        assert_eq!(
            check(
                Side::Buy,
                1000,
                3,
                Exposure {
                    position: 2,
                    open_same_side: 6,
                    ..fresh()
                },
                &mut r
            ),
            Err(RiskReject::Position)
        );
        assert_eq!(
            check(
                Side::Buy,
                1000,
                1,
                Exposure {
                    position: 2,
                    reduce_only: true,
                    ..fresh()
                },
                &mut r
            ),
            Err(RiskReject::ReduceOnly)
        );
        assert_eq!(
            check(
                Side::Sell,
                1000,
                3,
                Exposure {
                    position: 2,
                    reduce_only: true,
                    ..fresh()
                },
                &mut r
            ),
            Err(RiskReject::ReduceOnly)
        );
        assert_eq!(r.count(), 0, "rejected orders do not use the rate budget");
        assert_eq!(
            check(
                Side::Sell,
                1000,
                2,
                Exposure {
                    position: 2,
                    reduce_only: true,
                    ..fresh()
                },
                &mut r
            ),
            Ok(())
        );
        assert_eq!(
            check(
                Side::Sell,
                990,
                9,
                Exposure {
                    position: -1,
                    ..fresh()
                },
                &mut r
            ),
            Ok(())
        );
    }

    #[test]
    fn rate_limit_resets_each_window() {
        let mut r = RateWindow::new(1_000);
        for _ in 0..3 {
            assert_eq!(
                check_order(
                    &LIMITS,
                    &mut r,
                    10,
                    Side::Buy,
                    Price(1000),
                    Qty(1),
                    &fresh()
                ),
                Ok(())
            );
        }
        assert_eq!(
            check_order(
                &LIMITS,
                &mut r,
                20,
                Side::Buy,
                Price(1000),
                Qty(1),
                &fresh()
            ),
            Err(RiskReject::Rate)
        );
        assert_eq!(
            check_order(
                &LIMITS,
                &mut r,
                1_010,
                Side::Buy,
                Price(1000),
                Qty(1),
                &fresh()
            ),
            Ok(())
        );
    }
}
