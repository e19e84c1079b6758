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

/// Why a decimal string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Nothing to parse.
    #[error("empty number")]
    Empty,
    /// A byte that is not a digit, a leading `-` or one `.`.
    #[error("unexpected character at byte {0}")]
    BadChar(usize),
    /// More fractional digits than the scale holds, and not all of the extra ones zero.
    #[error("more than {0} decimals")]
    TooPrecise(u32),
    /// The value does not fit in 64 bits at the scale.
    #[error("out of range")]
    Overflow,
}

/// Parses a decimal string (`"-12.340"`) exactly into an integer at `decimals` fractional
/// digits: no floating point on the way, trailing zeros beyond the scale accepted, anything
/// else that does not fit refused — never rounded, never wrapped.
///
/// # Errors
///
/// [`DecimalError`] naming what is wrong and, for bad characters, where.
pub fn parse_decimal(text: &[u8], decimals: u32) -> Result<i64, DecimalError> {
    // u64 arithmetic (no i128, no `pow` loop); the magnitude may reach i64::MAX + 1, the
    // magnitude of i64::MIN. Up to 18 digits cannot overflow, so the common case runs unchecked.
    const LIMIT: u64 = i64::MAX as u64 + 1;
    const SAFE_DIGITS: usize = 18;
    let negative = match text.first() {
        None => return Err(DecimalError::Empty),
        Some(b) => *b == b'-',
    };
    let start = usize::from(negative);
    let body = &text[start..];
    let int_len = body
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(body.len());
    if int_len == 0 {
        return Err(DecimalError::BadChar(if body.is_empty() {
            text.len() - 1
        } else {
            start
        }));
    }
    let push = |value: u64, digit: u8| -> Result<u64, DecimalError> {
        value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .filter(|v| *v <= LIMIT)
            .ok_or(DecimalError::Overflow)
    };
    let mut value = 0u64;
    if int_len <= SAFE_DIGITS {
        for &b in &body[..int_len] {
            value = value * 10 + u64::from(b - b'0');
        }
    } else {
        for &b in &body[..int_len] {
            value = push(value, b)?;
        }
    }
    let mut used = 0u32;
    match body.get(int_len) {
        None => {}
        Some(b'.') => {
            let fraction = &body[int_len + 1..];
            if fraction.is_empty() {
                return Err(DecimalError::BadChar(text.len() - 1));
            }
            let take = fraction.len().min(decimals as usize);
            let (kept, extra) = fraction.split_at(take);
            let at = start + int_len + 1;
            if int_len + take <= SAFE_DIGITS {
                // Cannot overflow: the first non-digit is the only possible error here.
                if let Some(k) = kept.iter().position(|b| !b.is_ascii_digit()) {
                    return Err(DecimalError::BadChar(at + k));
                }
                for &b in kept {
                    value = value * 10 + u64::from(b - b'0');
                }
            } else {
                for (k, &b) in kept.iter().enumerate() {
                    if !b.is_ascii_digit() {
                        return Err(DecimalError::BadChar(at + k));
                    }
                    value = push(value, b)?;
                }
            }
            used = take as u32;
            for (k, &b) in extra.iter().enumerate() {
                if !b.is_ascii_digit() {
                    return Err(DecimalError::BadChar(at + take + k));
                }
                if b != b'0' {
                    return Err(DecimalError::TooPrecise(decimals));
                }
            }
        }
        Some(_) => return Err(DecimalError::BadChar(start + int_len)),
    }
    if value == 0 {
        return Ok(0);
    }
    let scale = POW10
        .get((decimals - used) as usize)
        .ok_or(DecimalError::Overflow)?;
    let magnitude = value
        .checked_mul(*scale)
        .filter(|m| *m <= LIMIT)
        .ok_or(DecimalError::Overflow)?;
    if negative {
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| DecimalError::Overflow)
    }
}

/// Powers of ten that fit in a `u64`.
const POW10: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// Appends `value` at `decimals` fractional digits as a decimal string (`-12.3400` for
/// `-123400` at 4 decimals). With `trim`, trailing fractional zeros (and a bare point) are
/// dropped (`-12.34`). No allocation beyond `out` growing.
pub fn write_decimal(out: &mut Vec<u8>, value: i64, decimals: u32, trim: bool) {
    let mut digits = [0u8; 40];
    let mut n = value.unsigned_abs();
    let mut len = 0;
    while n > 0 || len <= decimals as usize {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
    }
    if value < 0 {
        out.push(b'-');
    }
    let frac = decimals as usize;
    for i in (frac..len).rev() {
        out.push(digits[i]);
    }
    if frac == 0 {
        return;
    }
    let mut skip = 0;
    if trim {
        while skip < frac && digits[skip] == b'0' {
            skip += 1;
        }
        if skip == frac {
            return;
        }
    }
    out.push(b'.');
    for i in (skip..frac).rev() {
        out.push(digits[i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(value: i64, decimals: u32, trim: bool) -> String {
        let mut out = Vec::new();
        write_decimal(&mut out, value, decimals, trim);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn decimals_parse_exactly_or_not_at_all() {
        assert_eq!(parse_decimal(b"27183.10000000", 2), Ok(2_718_310));
        assert_eq!(parse_decimal(b"-0.005", 3), Ok(-5));
        assert_eq!(parse_decimal(b"7", 0), Ok(7));
        assert_eq!(parse_decimal(b"0.00001", 5), Ok(1));
        assert_eq!(
            parse_decimal(b"0.000015", 5),
            Err(DecimalError::TooPrecise(5))
        );
        assert_eq!(parse_decimal(b"", 2), Err(DecimalError::Empty));
        assert_eq!(parse_decimal(b"-", 2), Err(DecimalError::BadChar(0)));
        assert_eq!(parse_decimal(b"1.", 2), Err(DecimalError::BadChar(1)));
        assert_eq!(parse_decimal(b".5", 2), Err(DecimalError::BadChar(0)));
        assert_eq!(parse_decimal(b"1.2.3", 2), Err(DecimalError::BadChar(3)));
        assert_eq!(parse_decimal(b"NaN", 2), Err(DecimalError::BadChar(0)));
        assert_eq!(parse_decimal(b"1e5", 2), Err(DecimalError::BadChar(1)));
        assert_eq!(parse_decimal(b"92233720368547758.07", 2), Ok(i64::MAX));
        assert_eq!(
            parse_decimal(b"92233720368547758.08", 2),
            Err(DecimalError::Overflow)
        );
        assert_eq!(parse_decimal(b"-92233720368547758.08", 2), Ok(i64::MIN));
        assert_eq!(
            parse_decimal(&[b'9'; 1_000_000], 0),
            Err(DecimalError::Overflow)
        );
        for v in [0i64, 1, -1, 123_456_789, i64::MAX, i64::MIN] {
            let mut s = Vec::new();
            write_decimal(&mut s, v, 6, false);
            assert_eq!(parse_decimal(&s, 6), Ok(v), "round trip {v}");
        }
    }

    #[test]
    fn decimals_are_written_exactly() {
        assert_eq!(decimal(5_000_012, 2, false), "50000.12");
        assert_eq!(decimal(-5, 3, false), "-0.005");
        assert_eq!(decimal(7, 0, false), "7");
        assert_eq!(decimal(0, 2, false), "0.00");
        assert_eq!(decimal(-123_400, 4, true), "-12.34");
        assert_eq!(decimal(1_000, 3, true), "1");
        assert_eq!(decimal(0, 8, true), "0");
        assert_eq!(decimal(i64::MIN, 2, false), "-92233720368547758.08");
        assert_eq!(decimal(i64::MAX, 18, false), "9.223372036854775807");
    }

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

    /// Decimal parsing the slow, obvious way, for the property test.
    fn reference(text: &str, decimals: u32) -> Option<i64> {
        let (negative, body) = text.strip_prefix('-').map_or((false, text), |b| (true, b));
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || body.ends_with('.') {
            return None;
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > decimals as usize {
            return None;
        }
        let padded = format!("{int}{frac}{}", "0".repeat(decimals as usize - frac.len()));
        let magnitude: i128 = padded
            .trim_start_matches('0')
            .parse()
            .ok()
            .or_else(|| padded.bytes().all(|b| b == b'0').then_some(0))?;
        i64::try_from(if negative { -magnitude } else { magnitude }).ok()
    }

    proptest::proptest! {
        #[test]
        fn parsing_agrees_with_the_obvious_reference(
            text in "-?[0-9]{0,21}(\\.[0-9]{0,21})?|[-0-9.a]{0,8}",
            decimals in 0u32..=18,
        ) {
            proptest::prop_assert_eq!(
                parse_decimal(text.as_bytes(), decimals).ok(),
                reference(&text, decimals),
                "{} at {}", text, decimals
            );
        }
    }
}
