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
/// The common case (an integer part of at most 15 digits, a fraction of at most 8, at most 18
/// decimals) is read eight digits at a time (`scan_decimal`); anything else, and every input
/// that is refused, goes the digit-by-digit way, which names the error.
///
/// # Errors
///
/// [`DecimalError`] naming what is wrong and, for bad characters, where.
pub fn parse_decimal(text: &[u8], decimals: u32) -> Result<i64, DecimalError> {
    match scan_decimal(text, 0, decimals) {
        Some((value, end)) if end == text.len() => Ok(value),
        _ => parse_decimal_by_digit(text, decimals),
    }
}

/// Most decimals [`scan_decimal`] handles (`10^18` is the largest power of ten below `2^63`).
const SCAN_MAX_DECIMALS: u32 = 18;

/// The fast path of [`parse_decimal`]: reads the decimal number that starts at `bytes[at]`,
/// `-?[0-9]{1,15}(\.[0-9]{1,8})?`, eight digits at a time, and returns its value at
/// `decimals` and the index just past it. It stops at the first byte that cannot continue
/// that pattern, which may be a sixteenth integer or a ninth fraction digit: the caller checks
/// that the byte at the returned index is what it expects after a number.
///
/// Invariant (checked against [`parse_decimal_by_digit`] by property tests): when it returns
/// `Some((value, end))`, `parse_decimal(&bytes[at..end], decimals) == Ok(value)`. It returns
/// `None` for every such prefix `parse_decimal` refuses, and for more than
/// [`SCAN_MAX_DECIMALS`] decimals: the caller then takes the exact path, or declines.
#[inline(always)]
pub(crate) fn scan_decimal(bytes: &[u8], at: usize, decimals: u32) -> Option<(i64, usize)> {
    use swar::{digit_run, digits_value, load, low_bytes, ASCII_ZEROS};
    const LIMIT: u64 = i64::MAX as u64 + 1;
    if decimals > SCAN_MAX_DECIMALS {
        return None;
    }
    let scale = decimals as usize;
    // The sign is the first byte of the first word (past the end, `load` reads zeros).
    let mut p = at;
    let mut word = load(bytes, p);
    let negative = word as u8 == b'-';
    if negative {
        p += 1;
        word = load(bytes, p);
    }
    // Integer part: one word, or two when the first is all digits; the second word stops at
    // 7 digits (so `int < 10^15` and nothing below overflows unchecked).
    let x = word ^ ASCII_ZEROS;
    let mut n = digit_run(x);
    if n == 0 {
        return None;
    }
    let mut int = digits_value(x, n);
    p += n;
    if n == 8 {
        word = load(bytes, p);
        let x = word ^ ASCII_ZEROS;
        n = digit_run(x).min(7);
        int = int * POW10[n] + digits_value(x, n);
        p += n;
    }
    // Fraction, one word of it: the first `scale` digits are kept, every later one must be
    // `0`. A ninth digit is left for the caller to find where it expects the number's end.
    // The byte after the integer part is byte `n < 8` of the last word read.
    let (mut frac, mut kept) = (0, 0);
    if (word >> (8 * n)) as u8 == b'.' {
        let x = load(bytes, p + 1) ^ ASCII_ZEROS;
        let n = digit_run(x);
        kept = n.min(scale);
        frac = digits_value(x, kept);
        if n == 0 || x & low_bytes(n) & !low_bytes(kept) != 0 {
            return None;
        }
        p += 1 + n;
    }
    // `frac < 10^kept` and `kept <= scale <= 18`: only the integer part can overflow.
    let magnitude = int
        .checked_mul(POW10[scale])?
        .checked_add(frac * POW10[scale - kept])?;
    let value = if negative {
        if magnitude > LIMIT {
            return None;
        }
        (magnitude as i64).wrapping_neg()
    } else {
        i64::try_from(magnitude).ok()?
    };
    Some((value, p))
}

/// [`parse_decimal`] one digit at a time: the exact path for every input, and the one that
/// names the error.
#[cold]
#[inline(never)]
fn parse_decimal_by_digit(text: &[u8], decimals: u32) -> Result<i64, DecimalError> {
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

/// Eight ASCII bytes at a time in a `u64` (SWAR: SIMD within a register), little-endian, so
/// byte `i` of the text is byte `i` of the word, counted from the least significant end.
pub(crate) mod swar {
    /// `'0'` in every byte: `word ^ ASCII_ZEROS` maps the digits to their values `0..=9` and
    /// every other byte to a value `>= 10`.
    pub(crate) const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;
    /// The high bit of every byte.
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    /// `0x01` in every byte.
    const ONES: u64 = 0x0101_0101_0101_0101;

    /// The eight bytes at `bytes[at..]` as a little-endian word; bytes past the end of `bytes`
    /// read as `0x00`, which is neither a digit nor a plain string byte, so a scan stops at the
    /// end. `at <= bytes.len()`: callers only move past bytes they have read.
    #[inline(always)]
    pub(crate) fn load(bytes: &[u8], at: usize) -> u64 {
        debug_assert!(at <= bytes.len(), "loads start within the slice");
        // `at <= bytes.len() <= isize::MAX`, so `at + 8` does not overflow.
        match bytes
            .get(at..at + 8)
            .and_then(|word| <[u8; 8]>::try_from(word).ok())
        {
            Some(word) => u64::from_le_bytes(word),
            None => load_tail(bytes, at),
        }
    }

    /// [`load`] within eight bytes of the end: the last eight bytes shifted down, or, in a
    /// slice shorter than a word, byte by byte.
    #[inline(never)]
    fn load_tail(bytes: &[u8], at: usize) -> u64 {
        let rest = bytes.get(at..).unwrap_or_default();
        debug_assert!(rest.len() < 8, "a full word is loaded directly");
        match bytes.last_chunk::<8>() {
            // `rest` is the last `rest.len()` bytes of `last`; `8 - rest.len()` is in 1..=8.
            Some(last) => u64::from_le_bytes(*last)
                .checked_shr(8 * (8 - rest.len() as u32))
                .unwrap_or(0),
            None => rest
                .iter()
                .enumerate()
                .fold(0, |word, (i, &b)| word | u64::from(b) << (8 * i)),
        }
    }

    /// How many of the word's bytes, from the first, are digits (0..=8), for a word already
    /// XORed with [`ASCII_ZEROS`]. Adding `0x76` sets a byte's high bit exactly when its value
    /// is `>= 10`, or it is set already; a carry out of a byte only ever follows a non-digit,
    /// so the first non-digit is found exactly.
    #[inline(always)]
    pub(crate) fn digit_run(x: u64) -> usize {
        let non_digits = (x.wrapping_add(0x7676_7676_7676_7676) | x) & HIGH_BITS;
        (non_digits.trailing_zeros() / 8) as usize
    }

    /// The value of the first `n` (0..=8) bytes of `x` read as decimal digits (`x` XORed
    /// with [`ASCII_ZEROS`] and those bytes `0..=9`). The digits are shifted to the top of the
    /// word (zeros below are leading zeros), then combined in pairs, and the four pairs with
    /// two multiplications (the fast_float crate's way): `10a + b` never exceeds one byte, and
    /// no partial sum crosses bit 32.
    #[inline(always)]
    pub(crate) fn digits_value(x: u64, n: usize) -> u64 {
        const PAIR_LOW: u64 = 0x0000_00FF_0000_00FF;
        const MUL_HIGH: u64 = 100 + (1_000_000 << 32);
        const MUL_LOW: u64 = 1 + (10_000 << 32);
        debug_assert!(n <= 8, "a word holds eight digits");
        // Two shifts of `32 - 4n` each: a single one of `64 - 8n` would overflow at `n == 0`.
        let half = 32 - 4 * n as u32;
        let v = (x << half) << half;
        let v = v.wrapping_mul(10).wrapping_add(v >> 8);
        ((v & PAIR_LOW)
            .wrapping_mul(MUL_HIGH)
            .wrapping_add(((v >> 16) & PAIR_LOW).wrapping_mul(MUL_LOW)))
            >> 32
    }

    /// A mask of the first `n` (0..=8) bytes.
    #[inline(always)]
    pub(crate) fn low_bytes(n: usize) -> u64 {
        const MASKS: [u64; 9] = {
            let mut masks = [u64::MAX; 9];
            let mut i = 0;
            while i < 8 {
                masks[i] = (1 << (8 * i)) - 1;
                i += 1;
            }
            masks
        };
        MASKS[n]
    }

    /// The index of the first byte of `word` that may not appear unescaped in a plain string:
    /// a control byte (`< 0x20`), `DEL` or non-ASCII (`>= 0x7f`), `"` or `\`; 8 when none is.
    /// Each test finds its first byte exactly (a borrow or carry out of a byte only ever
    /// follows a byte the same test flags), so their union does too.
    #[inline(always)]
    pub(crate) fn find_non_plain(word: u64) -> usize {
        let control = word.wrapping_sub(ONES * 0x20) & !word;
        let high = word.wrapping_add(ONES) | word;
        let quote = word ^ (ONES * u64::from(b'"'));
        let quote = quote.wrapping_sub(ONES) & !quote;
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let backslash = backslash.wrapping_sub(ONES) & !backslash;
        ((control | high | quote | backslash) & HIGH_BITS).trailing_zeros() as usize / 8
    }
}

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
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

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

    /// Bytes that are one step from a digit or otherwise special to the SWAR tests: the
    /// neighbours of `'0'` and `'9'`, the sign, the point, the quote, zero and high bytes.
    const NEAR_DIGITS: &[u8] = b"/:.-+\"e \x00\x7f\x80\xb0\xb9\xff";

    /// A digit string of exactly `len` digits.
    fn digits(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::char::range('0', '9'), len)
            .prop_map(|d| d.into_iter().collect())
    }

    /// Decimal strings whose parts straddle the word boundaries: 1..=20 digits on each side,
    /// runs of 7, 8, 9, 15, 16 and 17 digits, zeros to fill a fraction past the scale.
    fn decimal_text() -> impl Strategy<Value = String> {
        let run = prop_oneof![
            digits(1..=20),
            proptest::sample::select(vec![7usize, 8, 9, 15, 16, 17])
                .prop_flat_map(|n| digits(n..=n)),
        ];
        let fraction = prop_oneof![
            Just(String::new()),
            run.clone().prop_map(|f| format!(".{f}")),
            (digits(0..=8), 1usize..=12)
                .prop_map(|(f, zeros)| format!(".{f}{}", "0".repeat(zeros))),
        ];
        (proptest::bool::weighted(0.2), run, fraction).prop_map(|(negative, int, fraction)| {
            format!("{}{int}{fraction}", if negative { "-" } else { "" })
        })
    }

    /// `text` with the byte at `at` (modulo its length) replaced by, or preceded by, `byte`.
    fn spoil(text: &str, at: usize, byte: u8, insert: bool) -> Vec<u8> {
        let mut bytes = text.as_bytes().to_vec();
        let at = at % (bytes.len() + 1);
        if insert || at == bytes.len() {
            bytes.insert(at, byte);
        } else {
            bytes[at] = byte;
        }
        bytes
    }

    /// The fast path's contract at one place in a buffer: what it accepts, the exact path
    /// accepts with the same value; what it must handle itself (at most 15 integer and 8
    /// fraction digits, at most 18 decimals, in range), it does, up to the first byte that
    /// cannot continue the number.
    fn check_scan(bytes: &[u8], at: usize, decimals: u32) -> Result<(), TestCaseError> {
        let scanned = scan_decimal(bytes, at, decimals);
        if let Some((value, end)) = scanned {
            prop_assert!(at < end && end <= bytes.len());
            prop_assert_eq!(
                parse_decimal_by_digit(&bytes[at..end], decimals),
                Ok(value),
                "{:?} at {}",
                String::from_utf8_lossy(&bytes[at..end]),
                decimals
            );
        }
        // The longest prefix in the fast path's domain (a point with no digit after it
        // refuses the number).
        let rest = &bytes[at..];
        let sign = usize::from(rest.first() == Some(&b'-'));
        let int = rest[sign..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let mut end = sign + int.min(15);
        let mut bare_point = false;
        if int <= 15 && rest.get(end) == Some(&b'.') {
            let frac = rest[end + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            bare_point = frac == 0;
            end += 1 + frac.min(8);
        }
        if bare_point || int == 0 || decimals > SCAN_MAX_DECIMALS {
            prop_assert_eq!(scanned, None);
        } else {
            let expected = parse_decimal_by_digit(&rest[..end], decimals).ok();
            prop_assert_eq!(
                scanned.map(|(value, _)| value),
                expected,
                "{:?} at {}",
                String::from_utf8_lossy(rest),
                decimals
            );
            if expected.is_some() {
                prop_assert_eq!(scanned.map(|(_, e)| e), Some(at + end));
            }
        }
        Ok(())
    }

    #[test]
    fn fast_path_takes_the_usual_numbers() {
        for (text, decimals, value) in [
            ("25035.19000000", 2, 2_503_519),
            ("31.21000000", 8, 3_121_000_000),
            ("0.00000001", 8, 1),
            ("-0.005", 3, -5),
            ("12345678", 0, 12_345_678),
            ("123456789012345", 3, 123_456_789_012_345_000),
            ("9223372036854.775807", 6, i64::MAX),
            ("-9223372036854.775808", 6, i64::MIN),
            ("1.10000000", 1, 11),
            ("7", 18, 7_000_000_000_000_000_000),
        ] {
            assert_eq!(
                scan_decimal(text.as_bytes(), 0, decimals),
                Some((value, text.len())),
                "{text}"
            );
            assert_eq!(
                parse_decimal(text.as_bytes(), decimals),
                Ok(value),
                "{text}"
            );
        }
        // Left to the exact path, which still gets them right.
        for (text, decimals, expected) in [
            ("1234567890123456", 0, Ok(1_234_567_890_123_456)),
            ("1.123456789", 9, Ok(1_123_456_789)),
            ("1.000000000000", 2, Ok(100)),
            ("1.5", 19, Err(DecimalError::Overflow)),
            ("0.5", 19, Ok(5_000_000_000_000_000_000)),
            ("1.000000001", 8, Err(DecimalError::TooPrecise(8))),
        ] {
            assert_eq!(parse_decimal(text.as_bytes(), decimals), expected, "{text}");
        }
    }

    #[test]
    fn swar_helpers_match_the_bytewise_definitions() {
        use swar::*;
        let words = [
            *b"01234567",
            *b"9876543.",
            *b"12:45678",
            *b"1234567/",
            *b"/:09/:09",
            *b"\x00\x00\x00\x00\x00\x00\x00\x00",
            *b"\xff\xff\xff\xff\xff\xff\xff\xff",
            *b"12\"4\\6\x7f8",
            *b"\xb0\xb91234\x1f ",
        ];
        for word in words {
            let x = u64::from_le_bytes(word) ^ ASCII_ZEROS;
            let run = word.iter().take_while(|b| b.is_ascii_digit()).count();
            assert_eq!(digit_run(x), run, "{word:?}");
            let plain = word
                .iter()
                .take_while(|&&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
                .count();
            assert_eq!(find_non_plain(u64::from_le_bytes(word)), plain, "{word:?}");
        }
        assert_eq!(low_bytes(0), 0);
        assert_eq!(low_bytes(3), 0x00ff_ffff);
        assert_eq!(low_bytes(8), u64::MAX);
        let x = u64::from_le_bytes(*b"12345678") ^ ASCII_ZEROS;
        for n in 0..=8 {
            let expected = "12345678"[..n].parse::<u64>().unwrap_or(0);
            assert_eq!(digits_value(x, n), expected, "{n}");
        }
        let x = u64::from_le_bytes(*b"99999999") ^ ASCII_ZEROS;
        assert_eq!(digits_value(x, 8), 99_999_999);
    }

    proptest::proptest! {
        #[test]
        fn swar_helpers_agree_with_bytes(word in proptest::num::u64::ANY, digits in "[0-9]{8}", n in 0usize..=8) {
            let bytes = word.to_le_bytes();
            let x = word ^ swar::ASCII_ZEROS;
            prop_assert_eq!(swar::digit_run(x), bytes.iter().take_while(|b| b.is_ascii_digit()).count());
            prop_assert_eq!(
                swar::find_non_plain(word),
                bytes
                    .iter()
                    .take_while(|&&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
                    .count()
            );
            let x = u64::from_le_bytes(digits.as_bytes().try_into().expect("8 digits")) ^ swar::ASCII_ZEROS;
            prop_assert_eq!(swar::digits_value(x, n), digits[..n].parse::<u64>().unwrap_or(0));
        }

        #[test]
        fn loads_read_the_bytes_and_zeros_past_the_end(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
            at in 0usize..32,
        ) {
            let at = at.min(bytes.len());
            let mut expected = [0u8; 8];
            for (i, b) in bytes[at..].iter().take(8).enumerate() {
                expected[i] = *b;
            }
            prop_assert_eq!(swar::load(&bytes, at), u64::from_le_bytes(expected));
        }

        /// Each number, clean and with a byte spoiled at every place, alone (so words run past
        /// the end) and inside a longer buffer at every offset modulo 8.
        #[test]
        fn scanning_agrees_with_the_exact_path(
            text in decimal_text(),
            decimals in 0u32..=20,
            bad in proptest::sample::select(NEAR_DIGITS),
            at in 0usize..64,
            insert in proptest::bool::ANY,
            pad in 0usize..8,
            after in proptest::sample::select(b"\"0.5x".as_slice()),
        ) {
            for number in [text.as_bytes().to_vec(), spoil(&text, at, bad, insert)] {
                check_scan(&number, 0, decimals)?;
                let mut framed = vec![b'['; pad];
                let start = framed.len();
                framed.extend_from_slice(&number);
                framed.push(after);
                framed.extend_from_slice(b"\",\"");
                check_scan(&framed, start, decimals)?;
                prop_assert_eq!(
                    parse_decimal(&number, decimals),
                    parse_decimal_by_digit(&number, decimals),
                    "{:?}", String::from_utf8_lossy(&number)
                );
                prop_assert_eq!(
                    parse_decimal(&number, decimals).ok(),
                    reference(&String::from_utf8_lossy(&number), decimals),
                    "{:?}", String::from_utf8_lossy(&number)
                );
            }
        }
    }
}
