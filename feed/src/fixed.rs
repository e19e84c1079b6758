//! Fixed-point integer types for prices and quantities.
//!
//! A [`Price`] is a count of `10^-price_decimals` units of the quote currency and a [`Qty`] a
//! count of `10^-qty_decimals` units of the base asset, with the decimals fixed per instrument by
//! configuration. Arithmetic on them is plain `i64` arithmetic; callers that multiply (notional,
//! PnL) widen to `i128` or use checked operations.

/// Index of an instrument in the engine's configured instrument list (and in the shm region's
/// per-instrument arrays).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstrumentId(pub u16);

/// A price in integer units of `10^-price_decimals` of the quote currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Price(pub i64);

/// A quantity in integer units of `10^-qty_decimals` of the base asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Qty(pub i64);

/// Side of an order, a trade's aggressor, or a book level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Bid side: buying the base asset.
    Buy,
    /// Ask side: selling the base asset.
    Sell,
}

impl Side {
    /// The other side.
    #[inline]
    pub const fn opposite(self) -> Self {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// `+1` for buys, `-1` for sells: the sign a fill of this side gives to a position.
    #[inline]
    pub const fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

impl Price {
    /// The greatest multiple of `tick` that is `<= self` (`tick > 0`).
    #[inline]
    pub fn floor_to(self, tick: i64) -> Price {
        debug_assert!(tick > 0, "tick size must be positive");
        Price(self.0.div_euclid(tick) * tick)
    }

    /// The least multiple of `tick` that is `>= self` (`tick > 0`).
    #[inline]
    pub fn ceil_to(self, tick: i64) -> Price {
        debug_assert!(tick > 0, "tick size must be positive");
        Price(-((-self.0).div_euclid(tick) * tick))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_tick_handles_both_signs() {
        assert_eq!(Price(105).floor_to(10), Price(100));
        assert_eq!(Price(105).ceil_to(10), Price(110));
        assert_eq!(Price(100).ceil_to(10), Price(100));
        assert_eq!(Price(-5).floor_to(10), Price(-10));
        assert_eq!(Price(-5).ceil_to(10), Price(0));
    }

    #[test]
    fn side_sign_and_opposite() {
        assert_eq!(Side::Buy.sign(), 1);
        assert_eq!(Side::Sell.sign(), -1);
        assert_eq!(Side::Buy.opposite(), Side::Sell);
    }
}
